"""Safety invariant 1 against the real ingest: a device holding its own valid credentials
keeps trying to connect with the platform's client ids (ingest's, the admin's, any
`nuanxin-` id) while another elder presses the button. Every press the broker answered
with PUBACK Success must be stored exactly once: a device must never take over ingest's
session (a clean start would throw its queue away)."""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from device_registry.provisioning import BrokerAdmin
from tests.support.broker import BrokerInfo
from tests.support.databases import migrated_database
from tests.support.ingest_stack import INGEST_USER, LOAD_USER, IngestStack
from tests.support.mqtt_clients import TestClient, connected

VICTIM, INTRUDER = "btn-victim", "btn-intruder"
PRESSES = 10


@pytest.fixture
def stack(broker: BrokerInfo) -> Iterator[IngestStack]:
    with migrated_database() as url:
        stack = IngestStack(url, broker)
        stack.setup_accounts()
        stack.register("emergency_button", [VICTIM, INTRUDER])
        yield stack
        stack.stop_all()


def provision(broker: BrokerInfo, device_id: str) -> str:
    with BrokerAdmin(broker.host, broker.port, broker.admin_username, broker.admin_password) as a:
        return a.provision_device(device_id)


def press(n: int, event: str = "button_press") -> bytes:
    ts = datetime.now(UTC).isoformat()
    return json.dumps({"msg_id": f"press-{n}", "ts": ts, "event": event}).encode()


def intrude(broker: BrokerInfo, password: str, client_ids: list[str]) -> list[TestClient]:
    """Log in as the device with each platform id, resuming any session (clean start
    off); return the connections the broker accepted, still open."""
    held = []
    for client_id in client_ids:
        client = TestClient(broker, INTRUDER, password, client_id=client_id, session_expiry_s=3600)
        if client.connect().is_failure:
            client.close()
        else:
            held.append(client)
    return held


def test_a_device_cannot_take_over_ingest_and_no_acknowledged_press_is_lost(
    stack: IngestStack,
) -> None:
    victim_password = provision(stack.broker, VICTIM)
    intruder_password = provision(stack.broker, INTRUDER)
    stack.start_ingest()
    platform_ids = [INGEST_USER, LOAD_USER, "nuanxin-ingest-2", "nuanxin-admin-0"]
    acknowledged: list[str] = []
    taken: set[str] = set()
    with connected(stack.broker, VICTIM, victim_password, client_id=VICTIM) as victim:
        for n in range(PRESSES):
            held = intrude(stack.broker, intruder_password, platform_ids)
            taken.update(client.client._client_id.decode() for client in held)
            reason = victim.publish(f"nuanxin/v1/{VICTIM}/event", press(n))
            if reason is not None and reason.getName() == "Success":
                acknowledged.append(f"press-{n}")
            for client in held:
                client.close()

    assert acknowledged, "no press was acknowledged; nothing was tested"
    # A marker after the attack: once ingest stored it, everything before it is in too.
    with connected(stack.broker, VICTIM, victim_password, client_id=VICTIM) as victim:
        victim.publish(f"nuanxin/v1/{VICTIM}/event", press(PRESSES, event="self_test"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not stored_events(stack, "self_test"):
        time.sleep(0.1)

    presses = stored_events(stack, "button_press")
    lost = sorted(set(acknowledged) - set(presses))
    assert sorted(presses) == sorted(acknowledged), f"acknowledged, never stored: {lost}"
    assert stored_events(stack, "self_test") == [f"press-{PRESSES}"]
    assert taken == set(), f"the device logged in as {sorted(taken)}"
    assert stack.scalar("SELECT count(*) FROM quarantine") == 0


def stored_events(stack: IngestStack, event: str) -> list[str]:
    return list(
        stack.scalar(
            "SELECT coalesce(array_agg(msg_id), '{}') FROM events"
            " WHERE device_id = %s AND event = %s",
            VICTIM,
            event,
        )
    )
