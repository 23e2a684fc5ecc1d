"""Every broker account is bound to one client id, its own username (safety invariant 1):
a device's valid credentials log in as that device only, and nothing but a platform
account can hold a platform id. Against a real Mosquitto with dynamic security."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from device_registry.provisioning import BrokerAdmin
from device_registry.schemas import DeviceRegister
from simulators.accounts import gateway_account, load_account
from tests.support.broker import BrokerInfo
from tests.support.mqtt_clients import TestClient, connected

NOT_AUTHORIZED = 0x87  # CONNACK reason code
ROOT = Path(__file__).resolve().parents[2]
INGEST = ("nuanxin-ingest", "ingest-secret")


@pytest.fixture
def admin(broker: BrokerInfo) -> Iterator[BrokerAdmin]:
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        admin.ensure_platform_account(*INGEST)
        yield admin


def test_a_device_logs_in_only_with_its_own_client_id(
    broker: BrokerInfo, admin: BrokerAdmin
) -> None:
    password = admin.provision_device("btn-0101")
    admin.provision_device("btn-0102")
    with connected(broker, *INGEST, session_expiry_s=3600) as ingest:
        assert ingest.subscribe("nuanxin/v1/#") == 1
        for client_id in ["nuanxin-ingest", "btn-0102", "nuanxin-admin-0", "btn-0101-2", ""]:
            intruder = TestClient(broker, "btn-0101", password, client_id=client_id or None)
            if client_id == "":
                intruder.client._client_id = b""  # the broker would assign one
            assert intruder.connect() == NOT_AUTHORIZED, client_id
            intruder.close()
        time.sleep(0.2)
        assert not ingest.disconnected.is_set(), "a refused login touched ingest's session"
        with connected(broker, "btn-0101", password, client_id="btn-0101") as device:
            assert device.publish("nuanxin/v1/btn-0101/telemetry", b"{}") == 0
        assert ingest.next_message().topic == "nuanxin/v1/btn-0101/telemetry"


def test_device_ids_under_the_platform_prefix_are_refused_at_registration(
    admin: BrokerAdmin,
) -> None:
    for reserved in ["nuanxin-ingest-2", "NUANXIN-api", "nuanxin-"]:
        with pytest.raises(ValidationError, match="reserved for the platform"):
            DeviceRegister(device_id=reserved, device_type="smoke", elder_id=1)
    assert DeviceRegister(device_id="nuanxin_1", device_type="smoke", elder_id=1)


def test_every_account_setup_creates_is_bound_to_its_own_client_id(
    broker: BrokerInfo, admin: BrokerAdmin
) -> None:
    """Enumerates the broker: whatever path created an account (devices, platform,
    simulators), it must carry its client id. A new kind of account is caught here once
    its setup runs, and by the source check below before that."""
    admin.provision_device("smoke-0101")
    admin.provision_device("smoke-0101")  # re-provisioning keeps the binding
    admin.ensure_platform_account("nuanxin-ingest-2", "other-secret")
    load_account(admin, "nuanxin-load", "load-secret")
    gateway_account(admin, "gateway-0101", "gw-secret")
    gateway_account(admin, "gateway-0101", "gw-secret-2")
    clients = admin.list_clients()
    unbound = {
        c["username"]: c.get("clientid")
        for c in clients
        if c["username"] != broker.admin_username and c.get("clientid") != c["username"]
    }
    assert unbound == {}
    assert len(clients) == 7  # admin, ingest, ingest-2, smoke, load ×2, gateway


def test_only_create_bound_client_creates_broker_clients() -> None:
    """Every account goes through BrokerAdmin.create_bound_client, which binds it; a new
    code path that sends createClient itself would create an unbound account."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.glob("**/*.py")
        if "node_modules" not in path.parts
        and ".venv" not in path.parts
        and "tests" not in path.parts
        and '"createClient"' in path.read_text()
        and path != ROOT / "device_registry" / "provisioning.py"
    ]
    assert offenders == []
    source = (ROOT / "device_registry" / "provisioning.py").read_text()
    assert source.count('"createClient"') == 1


def test_an_account_from_before_the_binding_is_bound_once(
    broker: BrokerInfo, admin: BrokerAdmin
) -> None:
    admin.execute("createClient", username="nuanxin-old", password="old-secret")
    anywhere = TestClient(broker, "nuanxin-old", "old-secret", client_id="anything")
    assert not anywhere.connect().is_failure  # unbound: any client id, the danger
    anywhere.close()

    admin.ensure_platform_account("nuanxin-old", "old-secret")
    with connected(broker, "nuanxin-old", "old-secret") as app:
        admin.ensure_platform_account("nuanxin-old", "old-secret")  # nothing differs now
        time.sleep(0.2)
        assert not app.disconnected.is_set()
    refused = TestClient(broker, "nuanxin-old", "old-secret", client_id="anything")
    assert refused.connect() == NOT_AUTHORIZED
    refused.close()
