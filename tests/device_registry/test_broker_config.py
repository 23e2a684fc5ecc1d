"""The shipped broker configuration: what it promises, and that the tests really run it."""

import contextlib
import queue
import time
from pathlib import Path

from device_registry.provisioning import BrokerAdmin
from ingest.adapters.payload import MAX_PAYLOAD_BYTES
from tests.support.broker import (
    PRODUCTION_CONFIG,
    BrokerInfo,
    TlsFiles,
    render_test_config,
)
from tests.support.mqtt_clients import TestClient, connected


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name and not name.startswith("#"):
            found.setdefault(name, []).append(value.strip())
    return found


def test_production_config_keeps_the_contract() -> None:
    conf = directives(PRODUCTION_CONFIG.read_text())
    assert conf["persistence"] == ["true"]
    assert 0 < int(conf["autosave_interval"][0]) <= 60
    assert conf["max_queued_messages"] == ["0"]  # no count limit that drops QoS 1...
    assert int(conf["max_queued_bytes"][0]) >= 64 * 2**20  # ...a byte cap instead
    inflight = int(conf["max_inflight_messages"][0])
    assert inflight == 0 or inflight >= 2000
    assert conf["allow_anonymous"] == ["false"]
    assert conf["plugin"][0].endswith("/mosquitto_dynamic_security.so")
    assert conf["plugin_opt_config_file"][0].startswith(conf["persistence_location"][0])
    assert conf["listener"] == ["1883", "8883"]
    assert {"cafile", "certfile", "keyfile"} <= conf.keys()
    assert conf["persistent_client_expiration"]
    assert "user" not in conf  # the image's unprivileged mosquitto user
    # The broker refuses what ingest would only quarantine (tests/ingest/test_payload_limit).
    assert conf["message_size_limit"] == [str(MAX_PAYLOAD_BYTES)]


def test_tests_run_the_production_config_with_only_ports_paths_and_user_changed(
    tmp_path: Path,
) -> None:
    production = PRODUCTION_CONFIG.read_text()
    rendered = render_test_config(
        production,
        port=1,
        tls_port=2,
        data_dir=tmp_path,
        dynsec_file=tmp_path / "dynsec.json",
        plugin_path=tmp_path / "plugin.so",
        tls_files=TlsFiles(tmp_path / "ca", tmp_path / "crt", tmp_path / "key"),
        user="someone",
    )
    header, body = rendered.splitlines()[:3], rendered.splitlines()[3:]
    assert header[2] == "user someone"
    changed = {
        new.partition(" ")[0]
        for old, new in zip(production.splitlines(), body, strict=True)
        if old != new
    }
    assert changed <= {
        "listener",
        "persistence_location",
        "plugin",
        "plugin_opt_config_file",
        "cafile",
        "certfile",
        "keyfile",
    }


def test_a_backlog_beyond_a_thousand_messages_survives_a_broker_restart(
    broker: BrokerInfo,
) -> None:
    """The distribution default would keep 1,000 and drop the rest."""
    with BrokerAdmin(broker.host, broker.port, "admin", broker.admin_password) as admin:
        admin.ensure_platform_account("nuanxin-ingest", "pw")
        password = admin.provision_device("btn-0100")
    with connected(broker, "nuanxin-ingest", "pw", session_expiry_s=3600) as ing:
        assert ing.subscribe("nuanxin/v1/+/+") == 1

    sent = [f"m{i}".encode() for i in range(2500)]
    with connected(broker, "btn-0100", password) as device:
        acks = device.publish_many("nuanxin/v1/btn-0100/telemetry", sent)
    assert all(ack is not None and not ack.is_failure for ack in acks)

    broker.restart()

    with connected(broker, "nuanxin-ingest", "pw", session_expiry_s=3600) as ing:
        received = _drain(ing, len(sent))
    assert sorted(received) == sorted(sent)


def test_a_restart_forgets_shared_subscriptions_and_tells_publishers_so(
    broker: BrokerInfo,
) -> None:
    """Mosquitto 2.0 saves sessions, their queues and plain subscriptions, not shared
    ones. After a restart, until an ingest process of the group subscribes again, a
    device's message goes nowhere — and the broker says so ("No matching subscribers"),
    never Success. Devices must send such a message again (docs/operations.md, "Broker
    restarts")."""
    topic = "nuanxin/v1/btn-0102/telemetry"
    shared = "$share/ingest/nuanxin/v1/+/+"
    with BrokerAdmin(broker.host, broker.port, "admin", broker.admin_password) as admin:
        admin.ensure_platform_account("nuanxin-ingest", "pw")
        password = admin.provision_device("btn-0102")
    ingest = {"session_expiry_s": 3600}
    with connected(broker, "nuanxin-ingest", "pw", **ingest) as ing:
        assert ing.subscribe(shared) == 1
    with connected(broker, "btn-0102", password) as device:
        queued = device.publish(topic, b"queued for the offline member")

    broker.restart()

    with connected(broker, "btn-0102", password) as device:
        unrouted = device.publish(topic, b"before ingest subscribed again")
    with connected(broker, "nuanxin-ingest", "pw", **ingest) as ing:
        backlog = _drain(ing, 1)
        assert ing.subscribe(shared) == 1
        with connected(broker, "btn-0102", password) as device:
            routed = device.publish(topic, b"after")
        after = _drain(ing, 1)
    assert queued is not None and queued.getName() == "Success"
    assert backlog == [b"queued for the offline member"]  # the session's queue survives
    assert unrouted is not None and unrouted.getName() == "No matching subscribers"
    assert routed is not None and routed.getName() == "Success"
    assert after == [b"after"]


def test_the_in_flight_window_holds_a_whole_unacknowledged_batch(broker: BrokerInfo) -> None:
    """Ingest acks after its commit; with the default window of 20 it would stall at 20."""
    with BrokerAdmin(broker.host, broker.port, "admin", broker.admin_password) as admin:
        admin.ensure_platform_account("nuanxin-ingest", "pw")
        password = admin.provision_device("btn-0101")
    with connected(broker, "nuanxin-ingest", "pw", manual_ack=True) as ing:
        assert ing.subscribe("nuanxin/v1/+/+") == 1
        sent = [f"m{i}".encode() for i in range(500)]
        with connected(broker, "btn-0101", password) as device:
            device.publish_many("nuanxin/v1/btn-0101/telemetry", sent)
        assert sorted(_drain(ing, len(sent))) == sorted(sent)


def _drain(client: TestClient, count: int, timeout_s: float = 10) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            got.append(client.messages.get(timeout=0.1).payload)
    return got
