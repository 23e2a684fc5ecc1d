"""The broker's payload limit is ingest's (16 KiB), in the shipped configuration that the
demo's embedded broker renders as well: a larger publish is refused by the broker and
never reaches ingest; a payload of exactly the limit is stored."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from device_registry.provisioning import BrokerAdmin
from ingest.adapters.payload import MAX_PAYLOAD_BYTES
from tests.support.broker import BrokerInfo
from tests.support.databases import migrated_database
from tests.support.ingest_stack import IngestStack
from tests.support.mqtt_clients import connected

DEVICE = "smoke-big"
TOPIC = f"nuanxin/v1/{DEVICE}/event"


@pytest.fixture
def stack(broker: BrokerInfo) -> Iterator[IngestStack]:
    with migrated_database() as url:
        stack = IngestStack(url, broker)
        stack.setup_accounts()
        stack.register("smoke", [DEVICE])
        yield stack
        stack.stop_all()


def event_of_size(msg_id: str, size: int) -> bytes:
    body = {"msg_id": msg_id, "ts": datetime.now(UTC).isoformat(), "event": "self_test"}
    bare = len(json.dumps({**body, "detail": {"pad": ""}}).encode())
    payload = json.dumps({**body, "detail": {"pad": "x" * (size - bare)}}).encode()
    assert len(payload) == size
    return payload


def test_the_broker_refuses_payloads_over_ingests_limit(stack: IngestStack) -> None:
    broker = stack.broker
    with BrokerAdmin(broker.host, broker.port, broker.admin_username, broker.admin_password) as a:
        password = a.provision_device(DEVICE)
    stack.start_ingest()

    with connected(broker, DEVICE, password) as device:
        oversize = device.publish(TOPIC, event_of_size("too-big", MAX_PAYLOAD_BYTES + 1))
        assert oversize is None or oversize.is_failure, oversize  # never PUBACK Success
        assert device.wait_disconnected() is not None  # the broker closed the connection
    with connected(broker, DEVICE, password) as device:
        at_limit = device.publish(TOPIC, event_of_size("at-limit", MAX_PAYLOAD_BYTES))
        assert at_limit is not None and at_limit.getName() == "Success"

    def stored() -> list[str]:
        return list(stack.scalar("SELECT coalesce(array_agg(msg_id), '{}') FROM events"))

    stack.wait_for(lambda: "at-limit" in stored(), "the payload at the limit", timeout_s=30)
    assert stored() == ["at-limit"]  # published after the oversize one: that never came
    assert stack.scalar("SELECT count(*) FROM quarantine") == 0
