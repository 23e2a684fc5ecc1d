"""Device credentials and ACLs through dynamic security, against a real Mosquitto running
the project's configuration. What each test asserts is what Mosquitto 2.0.11 really does."""

import contextlib
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from device_registry.errors import (
    AccountConflict,
    BrokerAdminDenied,
    BrokerCommandFailed,
    BrokerUnavailable,
    DeviceNotProvisioned,
    InvalidAccountName,
    InvalidDeviceId,
)
from device_registry.provisioning import DEFAULT_ACL_ACCESS, BrokerAdmin, device_role
from tests.support.broker import BrokerInfo
from tests.support.mqtt_clients import TestClient, connected
from tests.support.servers import free_port

NOT_AUTHORIZED = 0x87  # MQTT 5 reason code, in CONNACK, PUBACK and SUBACK alike
ADMINISTRATIVE_ACTION = 0x98  # DISCONNECT reason when the broker kicks a client


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@pytest.fixture
def admin(broker: BrokerInfo) -> Iterator[BrokerAdmin]:
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password, timeout_s=3
    ) as admin:
        yield admin


@pytest.fixture
def platform(broker: BrokerInfo, admin: BrokerAdmin) -> Account:
    admin.ensure_platform_account("nuanxin-ingest", "ingest-secret")
    return Account("nuanxin-ingest", "ingest-secret")


@pytest.fixture
def ingest(broker: BrokerInfo, platform: Account) -> Iterator[TestClient]:
    """The platform account subscribed to every device topic, as ingest is."""
    with connected(broker, platform.username, platform.password) as client:
        assert client.subscribe("nuanxin/v1/+/+") == 1  # granted QoS 1
        yield client


def test_provisioned_device_publishes_its_telemetry_and_ingest_receives_it(
    broker: BrokerInfo, admin: BrokerAdmin, ingest: TestClient
) -> None:
    password = admin.provision_device("btn-0001")

    with connected(broker, "btn-0001", password) as device:
        reason = device.publish("nuanxin/v1/btn-0001/telemetry", b'{"msg_id": "1"}')

    assert reason is not None and not reason.is_failure
    message = ingest.next_message()
    assert (message.topic, message.payload) == ("nuanxin/v1/btn-0001/telemetry", b'{"msg_id": "1"}')


def test_device_keeps_its_retained_status_and_its_will(
    broker: BrokerInfo, admin: BrokerAdmin, ingest: TestClient
) -> None:
    password = admin.provision_device("smoke-01")
    will = ("nuanxin/v1/smoke-01/status", b'{"state": "offline"}')
    device = connected(broker, "smoke-01", password, will=will)
    assert device.publish("nuanxin/v1/smoke-01/status", b'{"state": "online"}') == 0

    device.drop()

    assert [m.payload for m in ingest.messages_until(will[1])] == [
        b'{"state": "online"}',
        will[1],
    ]
    device.close()


@pytest.mark.parametrize(
    "topic",
    [
        "nuanxin/v1/pir-0002/telemetry",  # another device's telemetry
        "nuanxin/v1/pir-0002/status",  # another device's status
        "nuanxin/v1/pir-0001/cmd",  # commands only flow platform → device
        "zigbee2mqtt/kitchen smoke",  # gateways' topics
        "nuanxin/v2/pir-0001/telemetry",  # outside the contract's prefix
    ],
)
def test_device_publish_outside_its_own_topics_is_refused_and_cuts_it_off(
    broker: BrokerInfo, admin: BrokerAdmin, ingest: TestClient, topic: str
) -> None:
    other = admin.provision_device("pir-0002")
    password = admin.provision_device("pir-0001")
    with connected(broker, "pir-0001", password) as device:
        reason = device.publish(topic, b"forged")
        # Mosquitto 2.0.11 answers PUBACK "Not authorized" and then closes the connection.
        assert reason == NOT_AUTHORIZED
        device.wait_disconnected()

    # Ordering: the broker decided on the forged message before it acknowledged it, so a
    # later message from the legitimate owner arrives after anything it might have passed.
    with connected(broker, "pir-0002", other) as owner:
        owner.publish("nuanxin/v1/pir-0002/telemetry", b"sentinel")
    received = ingest.messages_until(b"sentinel")
    assert [m.payload for m in received] == [b"sentinel"]


def test_device_qos0_publish_to_another_device_is_dropped_and_cuts_it_off(
    broker: BrokerInfo, admin: BrokerAdmin, ingest: TestClient
) -> None:
    other = admin.provision_device("gas-0002")
    password = admin.provision_device("gas-0001")
    with connected(broker, "gas-0001", password) as device:
        device.publish("nuanxin/v1/gas-0002/event", b"forged", qos=0)
        device.wait_disconnected()
    with connected(broker, "gas-0002", other) as owner:
        owner.publish("nuanxin/v1/gas-0002/telemetry", b"sentinel")
    assert [m.payload for m in ingest.messages_until(b"sentinel")] == [b"sentinel"]


def test_device_subscribes_only_to_its_own_commands(
    broker: BrokerInfo, admin: BrokerAdmin, platform: Account
) -> None:
    password = admin.provision_device("btn-0003")
    admin.provision_device("btn-0004")
    with connected(broker, "btn-0003", password) as device:
        for topic in [
            "nuanxin/v1/btn-0004/cmd",
            "nuanxin/v1/+/cmd",
            "nuanxin/v1/#",
            "nuanxin/v1/btn-0003/#",
            "nuanxin/v1/btn-0003/telemetry",
            "#",
            "$share/g/nuanxin/v1/btn-0003/cmd",
        ]:
            assert device.subscribe(topic) == NOT_AUTHORIZED, topic
        assert device.subscribe("nuanxin/v1/btn-0003/cmd") == 1

        with connected(broker, platform.username, platform.password) as app:
            assert app.publish("nuanxin/v1/btn-0004/cmd", b"not yours") == 16  # no subscribers
            assert app.publish("nuanxin/v1/btn-0003/cmd", b'{"cmd": "self_test"}') == 0
        message = device.next_message()
        assert (message.topic, message.payload) == (
            "nuanxin/v1/btn-0003/cmd",
            b'{"cmd": "self_test"}',
        )


def test_forged_will_on_another_devices_status_is_not_published(
    broker: BrokerInfo, admin: BrokerAdmin, ingest: TestClient
) -> None:
    other = admin.provision_device("pir-0006")
    password = admin.provision_device("pir-0005")
    # 2.0.11 accepts the connection and drops the will when it would be published.
    forger = connected(broker, "pir-0005", password, will=("nuanxin/v1/pir-0006/status", b"forged"))
    forger.drop()
    forger.close()
    with connected(broker, "pir-0006", other) as owner:
        owner.publish("nuanxin/v1/pir-0006/telemetry", b"sentinel")
    assert [m.payload for m in ingest.messages_until(b"sentinel")] == [b"sentinel"]


def test_wrong_password_unknown_user_and_anonymous_are_refused(
    broker: BrokerInfo, admin: BrokerAdmin
) -> None:
    admin.provision_device("smoke-02")
    for username, password in [("smoke-02", "wrong"), ("nobody-1", "x"), (None, None)]:
        client = TestClient(broker, username, password)
        assert client.connect() == NOT_AUTHORIZED, username
        client.close()


def test_revoke_cuts_the_live_session_and_refuses_new_logins(
    broker: BrokerInfo, admin: BrokerAdmin
) -> None:
    password = admin.provision_device("gas-0003")
    device = connected(broker, "gas-0003", password)

    admin.revoke_device("gas-0003")

    # deleteClient alone kicks live sessions in 2.0.11; no disableClient needed.
    assert device.wait_disconnected() == ADMINISTRATIVE_ACTION
    device.close()
    again = TestClient(broker, "gas-0003", password)
    assert again.connect() == NOT_AUTHORIZED
    again.close()
    assert not admin.is_provisioned("gas-0003")
    with pytest.raises(BrokerCommandFailed, match="Role not found"):
        admin.execute("getRole", rolename=device_role("gas-0003"))
    admin.revoke_device("gas-0003")  # idempotent: a half-done revoke can be rerun


def test_provisioning_an_existing_device_replaces_its_password(
    broker: BrokerInfo, admin: BrokerAdmin
) -> None:
    first = admin.provision_device("btn-0005")
    device = connected(broker, "btn-0005", first)

    second = admin.provision_device("btn-0005")

    assert second != first
    assert device.wait_disconnected() == ADMINISTRATIVE_ACTION
    device.close()
    stale = TestClient(broker, "btn-0005", first)
    assert stale.connect() == NOT_AUTHORIZED
    stale.close()
    with connected(broker, "btn-0005", second) as fresh:
        assert fresh.publish("nuanxin/v1/btn-0005/telemetry", b"{}") == 16  # no subscribers


def test_rotate_password(broker: BrokerInfo, admin: BrokerAdmin) -> None:
    first = admin.provision_device("pir-0007")
    second = admin.rotate_device_password("pir-0007")
    refused = TestClient(broker, "pir-0007", first)
    assert refused.connect() == NOT_AUTHORIZED
    refused.close()
    connected(broker, "pir-0007", second).close()
    with pytest.raises(DeviceNotProvisioned):
        admin.rotate_device_password("pir-9999")


@pytest.mark.parametrize("device_id", ["ab", "a/b/c", "dev+1", "dev#", "x" * 65, "设备001"])
def test_invalid_device_ids_are_refused_before_reaching_the_broker(
    admin: BrokerAdmin, device_id: str
) -> None:
    with pytest.raises(InvalidDeviceId):
        admin.provision_device(device_id)
    with pytest.raises(InvalidDeviceId):
        admin.revoke_device(device_id)


def test_shared_subscription_spreads_messages_over_ingest_instances(
    broker: BrokerInfo, admin: BrokerAdmin, platform: Account
) -> None:
    password = admin.provision_device("smoke-03")
    # One account per ingest process: an account logs in with its own client id only.
    admin.ensure_platform_account("nuanxin-ingest-2", platform.password)
    with (
        connected(broker, platform.username, platform.password) as first,
        connected(broker, "nuanxin-ingest-2", platform.password) as second,
    ):
        for instance in (first, second):
            assert instance.subscribe("$share/ingest/nuanxin/v1/+/+") == 1
        with connected(broker, "smoke-03", password) as device:
            sent = [f"m{i}".encode() for i in range(20)]
            for payload in sent:
                assert device.publish("nuanxin/v1/smoke-03/telemetry", payload) == 0

        per_instance = _collect(first, second, count=len(sent))
    # Each message reaches exactly one member of the group, and both members get work.
    assert sorted(per_instance[0] + per_instance[1]) == sorted(sent)
    assert per_instance[0] and per_instance[1]


def _collect(*clients: TestClient, count: int) -> list[list[bytes]]:
    got: list[list[bytes]] = [[] for _ in clients]
    deadline = time.monotonic() + 5
    while sum(map(len, got)) < count:
        assert time.monotonic() < deadline, f"only {sum(map(len, got))} of {count} arrived"
        for index, client in enumerate(clients):
            with contextlib.suppress(queue.Empty):
                got[index].append(client.messages.get(timeout=0.02).payload)
    return got


def test_platform_account_may_not_read_beyond_its_topics(
    broker: BrokerInfo, platform: Account
) -> None:
    with connected(broker, platform.username, platform.password) as app:
        assert app.subscribe("zigbee2mqtt/#") == 1
        assert app.subscribe("$share/ingest/zigbee2mqtt/#") == 1
        for topic in ["#", "nuanxin/#", "$CONTROL/dynamic-security/#", "$SYS/#"]:
            assert app.subscribe(topic) == NOT_AUTHORIZED, topic
        assert app.publish("nuanxin/v1/btn-0001/telemetry", b"forged") == NOT_AUTHORIZED


def test_ensure_platform_account_is_idempotent_and_only_kicks_on_change(
    broker: BrokerInfo, admin: BrokerAdmin, platform: Account
) -> None:
    app = connected(broker, platform.username, platform.password)

    admin.ensure_platform_account(platform.username, platform.password)
    assert app.subscribe("nuanxin/v1/+/+") == 1  # still connected: nothing changed

    admin.ensure_platform_account(platform.username, "rotated")
    assert app.wait_disconnected() == ADMINISTRATIVE_ACTION
    app.close()
    stale = TestClient(broker, platform.username, platform.password)
    assert stale.connect() == NOT_AUTHORIZED
    stale.close()
    connected(broker, platform.username, "rotated").close()


def test_devices_and_platform_accounts_never_take_over_each_other(
    admin: BrokerAdmin, platform: Account
) -> None:
    """Names keep them apart (platform accounts under `nuanxin-`, devices never), and an
    account of the other kind under the same name is never reused."""
    admin.provision_device("btn-0006")
    with pytest.raises(InvalidAccountName, match="must start with 'nuanxin-'"):
        admin.ensure_platform_account("btn-0006", "x")
    with pytest.raises(InvalidDeviceId, match="reserved for the platform"):
        admin.provision_device(platform.username)
    # A platform-named account that holds a device role (made by hand, or before the
    # prefix was reserved) is not turned into a platform account either.
    admin.create_bound_client("nuanxin-odd", "x", [device_role("btn-0006")], "by hand")
    with pytest.raises(AccountConflict):
        admin.ensure_platform_account("nuanxin-odd", "x")


def test_default_acl_access_denies_what_roles_do_not_allow(admin: BrokerAdmin) -> None:
    assert admin.default_acl_access() == DEFAULT_ACL_ACCESS  # the broker's own defaults
    admin.execute(
        "setDefaultACLAccess",
        acls=[{"acltype": "publishClientSend", "allow": True}],
    )
    admin.ensure_default_acl_access()
    assert admin.default_acl_access() == DEFAULT_ACL_ACCESS


def test_accounts_survive_a_broker_restart(broker: BrokerInfo, admin: BrokerAdmin) -> None:
    password = admin.provision_device("gas-0004")
    admin.close()

    broker.restart()

    assert (broker.data_dir / "mosquitto.db").exists()  # persistence is on
    connected(broker, "gas-0004", password).close()


def test_admin_reconnects_after_a_broker_restart(broker: BrokerInfo, admin: BrokerAdmin) -> None:
    broker.restart()
    password = admin.provision_device("btn-0008")  # waits for paho's reconnect
    connected(broker, "btn-0008", password).close()


def test_admin_errors_are_clear(broker: BrokerInfo, admin: BrokerAdmin, platform: Account) -> None:
    with pytest.raises(BrokerAdminDenied, match="refused admin login"):
        BrokerAdmin(broker.host, broker.port, "admin", "wrong", timeout_s=2).connect()
    # Any other account is bound to its own client id, so it is refused at CONNECT.
    with pytest.raises(BrokerAdminDenied, match="not the dynamic-security admin"):
        BrokerAdmin(broker.host, broker.port, platform.username, platform.password).connect()
    with pytest.raises(BrokerUnavailable, match="cannot reach"):
        BrokerAdmin(broker.host, free_port(), "admin", "x", timeout_s=2).connect()
    with pytest.raises(BrokerCommandFailed, match="'frobnicate' failed: Unknown command"):
        admin.execute("frobnicate")


def test_device_over_tls(tls_broker: BrokerInfo) -> None:
    with BrokerAdmin(
        tls_broker.host, tls_broker.port, tls_broker.admin_username, tls_broker.admin_password
    ) as admin:
        admin.ensure_platform_account("nuanxin-ingest", "ingest-secret")
        password = admin.provision_device("btn-0007")
    with connected(tls_broker, "nuanxin-ingest", "ingest-secret") as app:
        assert app.subscribe("nuanxin/v1/+/telemetry") == 1
        with connected(tls_broker, "btn-0007", password, tls=True) as device:
            assert device.publish("nuanxin/v1/btn-0007/telemetry", b"over tls") == 0
        assert app.next_message().payload == b"over tls"
