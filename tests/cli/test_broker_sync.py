"""`nuanxin broker sync` on a broker upgraded from before client ids were bound: device
accounts that log in with any client id get bound to their own, idempotently."""

import time
from collections.abc import Iterator

import psycopg
import pytest

from device_registry.provisioning import BrokerAdmin
from tests.support.broker import BrokerInfo
from tests.support.cli import clean_env, run_nuanxin
from tests.support.databases import migrated_database
from tests.support.mqtt_clients import TestClient, connected

NOT_AUTHORIZED = 0x87
LEGACY = {"btn-old-1": "registered", "smoke-old-2": "commissioned", "pir-gone-3": "decommissioned"}
PLATFORM = ("nuanxin-ingest-1", "nuanxin-ingest-2")
SECRET = "platform-secret-0123456789"


@pytest.fixture
def database() -> Iterator[str]:
    with migrated_database() as url:
        with psycopg.connect(url) as conn:
            for device_id, state in LEGACY.items():
                conn.execute(
                    "INSERT INTO devices (device_id, device_type, state) VALUES (%s, 'smoke', %s)",
                    (device_id, state),
                )
        yield url


def sync(broker: BrokerInfo, database: str) -> tuple[int, str]:
    env = clean_env(
        NUANXIN_DATABASE_URL=database,
        NUANXIN_MQTT_URL=f"mqtt://{broker.host}:{broker.port}",
        NUANXIN_MQTT_USERNAME=PLATFORM[0],
        NUANXIN_MQTT_PASSWORD=SECRET,
        NUANXIN_MQTT_PLATFORM_USERNAMES=f'["{PLATFORM[0]}", "{PLATFORM[1]}"]',
        NUANXIN_MQTT_ADMIN_USERNAME=broker.admin_username,
        NUANXIN_MQTT_ADMIN_PASSWORD=broker.admin_password,
    )
    result = run_nuanxin("broker", "sync", env=env)
    return result.returncode, result.stdout + result.stderr


def logs_in_as(broker: BrokerInfo, username: str, password: str, client_id: str) -> bool:
    client = TestClient(broker, username, password, client_id=client_id)
    try:
        return not client.connect().is_failure
    finally:
        client.close()


def test_sync_binds_accounts_from_before_the_binding_idempotently(
    broker: BrokerInfo, database: str
) -> None:
    with BrokerAdmin(broker.host, broker.port, broker.admin_username, broker.admin_password) as a:
        for device_id in ("btn-old-1", "smoke-old-2"):  # as provisioning made them before
            a.execute("createClient", username=device_id, password="pw")
    assert logs_in_as(broker, "btn-old-1", "pw", PLATFORM[0]), "the setup is not the old one"

    code, output = sync(broker, database)
    assert code == 0, output
    assert "bound to their own client id now: 2 (btn-old-1, smoke-old-2)" in output
    assert f"platform accounts ensured: {PLATFORM[0]}, {PLATFORM[1]}" in output
    for device_id in ("btn-old-1", "smoke-old-2"):
        for other in (*PLATFORM, "nuanxin-ingest", "btn-old-1-x"):
            assert not logs_in_as(broker, device_id, "pw", other), (device_id, other)
        assert logs_in_as(broker, device_id, "pw", device_id)
    for username in PLATFORM:
        assert logs_in_as(broker, username, SECRET, username)

    # Again: nothing changes, and nobody connected is disconnected.
    with (
        connected(broker, "btn-old-1", "pw") as device,
        connected(broker, PLATFORM[0], SECRET) as ingest,
    ):
        code, output = sync(broker, database)
        time.sleep(0.2)
        assert not device.disconnected.is_set() and not ingest.disconnected.is_set()
    assert code == 0, output
    assert "bound to their own client id now: 0 (none)" in output
    assert "already bound: 4" in output


def test_sync_without_the_admin_password_says_what_to_set(
    broker: BrokerInfo, database: str
) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=database)
    result = run_nuanxin("broker", "sync", env=env)
    assert result.returncode == 2
    assert "NUANXIN_MQTT_ADMIN_PASSWORD" in result.stderr
