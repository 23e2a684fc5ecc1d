"""A device registered through the API gets a working, confined MQTT account, and loses
it when decommissioned — against a real Mosquitto with dynamic security."""

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient as ApiClient

from device_registry.provisioning import BrokerAdmin
from tests.support.broker import BrokerInfo
from tests.support.mqtt_clients import TestClient, connected
from tests.support.world import World

NOT_AUTHORIZED = 0x87
ADMINISTRATIVE_ACTION = 0x98


def register(client: ApiClient, headers: dict[str, str], world: World) -> tuple[str, str]:
    device_id = f"smoke-{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/api/v1/devices",
        headers=headers,
        json={"device_id": device_id, "device_type": "smoke", "elder_id": world.elders["east_a"]},
    )
    assert response.status_code == 201, response.text
    mqtt = response.json()["mqtt"]
    assert mqtt["username"] == device_id
    assert mqtt["topic_prefix"] == f"nuanxin/v1/{device_id}/"
    return device_id, mqtt["password"]


def test_registered_device_connects_publishes_and_is_confined(
    client: ApiClient,
    world: World,
    auth: Callable[[str], dict[str, str]],
    module_broker: BrokerInfo,
    provisioner: BrokerAdmin,
) -> None:
    installer = auth(world.usernames["installer"])
    device_id, password = register(client, installer, world)
    other_id, other_password = register(client, installer, world)
    provisioner.ensure_platform_account("nuanxin-ingest-test", "ingest-test-secret")

    with connected(module_broker, "nuanxin-ingest-test", "ingest-test-secret") as ingest:
        assert ingest.subscribe("nuanxin/v1/+/+") == 1
        with connected(module_broker, device_id, password) as device:
            assert device.publish(f"nuanxin/v1/{device_id}/telemetry", b"mine") == 0
            assert device.publish(f"nuanxin/v1/{other_id}/event", b"forged") == NOT_AUTHORIZED
        with connected(module_broker, other_id, other_password) as owner:
            owner.publish(f"nuanxin/v1/{other_id}/telemetry", b"sentinel")
        payloads = [m.payload for m in ingest.messages_until(b"sentinel")]
    assert payloads == [b"mine", b"sentinel"]  # the forged message never arrived

    for username, secret in ((device_id, "wrong password"), (None, None)):
        refused = TestClient(module_broker, username, secret)
        assert refused.connect() == NOT_AUTHORIZED
        refused.close()


def test_decommissioned_device_is_cut_off_at_once(
    client: ApiClient,
    world: World,
    auth: Callable[[str], dict[str, str]],
    module_broker: BrokerInfo,
) -> None:
    installer = auth(world.usernames["installer"])
    device_id, password = register(client, installer, world)
    device = connected(module_broker, device_id, password)

    response = client.post(f"/api/v1/devices/{device_id}/decommission", headers=installer)
    assert response.status_code == 200
    assert response.json()["state"] == "decommissioned"

    assert device.wait_disconnected() == ADMINISTRATIVE_ACTION
    device.close()
    again = TestClient(module_broker, device_id, password)
    assert again.connect() == NOT_AUTHORIZED
    again.close()
    again_answer = client.post(f"/api/v1/devices/{device_id}/decommission", headers=installer)
    assert again_answer.status_code == 409
