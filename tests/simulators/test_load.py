"""The load generator against a real Mosquitto: a load account publishes many devices'
readings, every one arrives, decodes cleanly and is the (device_id, msg_id) `plan()` names."""

import contextlib
import json
import queue
import time
from collections.abc import Callable

import pytest

from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from ingest.adapters import Router, StaticDirectory
from ingest.messages import DeviceInfo, Reading
from simulators.accounts import gateway_account, load_account
from simulators.load import LoadGenerator, SteadyLoad, plan
from simulators.mqtt import ConnectFailed, Connection, Endpoint, NotConnected, PublishRefused
from tests.simulators.conftest import PLATFORM
from tests.simulators.support import Listener, Received, decode
from tests.support.broker import BrokerInfo

LOAD = ("nuanxin-bench-load", "load-secret")
TYPES = list(DeviceType)
DEVICES = {f"load-{i:03d}": TYPES[i % len(TYPES)] for i in range(40)}


@pytest.fixture
def load_login(admin: BrokerAdmin) -> tuple[str, str]:
    load_account(admin, *LOAD)
    return LOAD


def test_every_reading_arrives_decodes_and_matches_the_plan(
    endpoint: Endpoint, load_login: tuple[str, str], listener: Listener
) -> None:
    count = 3_000
    with LoadGenerator(endpoint, *load_login, DEVICES, connections=2, run_id="r1") as load:
        first = load.run(count // 2)
        second = load.run(count - count // 2)
        sent = load.sent()

    assert (first.acked + second.acked, first.refused + second.refused) == (count, 0)
    assert sent == plan(list(DEVICES), count, "r1")
    assert set(load.published_at) == {msg_id for _, msg_id in sent}
    router = Router(StaticDirectory(DeviceInfo(d, t) for d, t in DEVICES.items()))
    items = [item for r in listener.take(count) for item in decode(router, r)]
    decoded = [item for item in items if isinstance(item, Reading)]
    assert len(decoded) == len(items), [item for item in items if item not in decoded][:3]
    assert sorted((d.device_id, d.msg_id) for d in decoded) == sorted(sent)
    # one device's readings travel one connection, so they arrive in publish order
    per_device = [d.msg_id for d in decoded if d.device_id == "load-007"]
    assert per_device == [m for d, m in sent if d == "load-007"]


def test_a_target_rate_is_held(endpoint: Endpoint, load_login: tuple[str, str]) -> None:
    with LoadGenerator(endpoint, *load_login, DEVICES) as load:
        result = load.run(400, rate=2_000.0)
    assert (result.acked, load.published) == (400, 400)
    assert result.publish_s >= 399 / 2_000  # the last one is due then, not earlier
    assert result.publish_s < 1.0


def test_the_load_account_may_publish_telemetry_only(
    endpoint: Endpoint, load_login: tuple[str, str]
) -> None:
    connection = Connection(endpoint, *load_login)
    connection.connect()
    try:
        telemetry = connection.publish("nuanxin/v1/load-001/telemetry", b"{}")
        connection.wait_acked([telemetry])
        event = connection.publish("nuanxin/v1/load-001/event", b"{}")
        with pytest.raises(PublishRefused):
            connection.wait_acked([event])
    finally:
        connection.close()


def test_a_platform_account_alone_may_not_publish_telemetry(
    endpoint: Endpoint, admin: BrokerAdmin
) -> None:
    # Mosquitto 2.0 answers the first with "not authorised" and drops the connection; the
    # reset may reach the client before the PUBACK does.
    refusals = (PublishRefused, NotConnected)
    with LoadGenerator(endpoint, *PLATFORM, DEVICES) as load, pytest.raises(refusals):
        load.run(5)
    assert load.acked == 0


def test_a_wrong_password_is_refused_at_connect(
    endpoint: Endpoint, load_login: tuple[str, str]
) -> None:
    with pytest.raises(ConnectFailed):
        LoadGenerator(endpoint, load_login[0], "wrong", DEVICES).connect()


def test_simulator_accounts_can_be_set_up_again(
    endpoint: Endpoint, admin: BrokerAdmin, load_login: tuple[str, str]
) -> None:
    load_account(admin, *load_login)
    gateway_account(admin, "gateway-again", "first")
    gateway_account(admin, "gateway-again", "second")
    for username, password in (load_login, ("gateway-again", "second")):
        connection = Connection(endpoint, username, password)
        connection.connect()
        connection.close()


def test_a_steady_load_outlives_a_broker_restart_and_resends_what_went_nowhere(
    broker: BrokerInfo, endpoint: Endpoint, load_login: tuple[str, str], listener: Listener
) -> None:
    load = SteadyLoad(endpoint, *load_login, DEVICES, rate=500, tag="before")
    load.start()
    try:
        _until(lambda: len(load.acked("before")) >= 100)
        broker.restart()  # the listener's session was not persistent: nobody listens now
        load.tag = "after"
        _until(lambda: load.unrouted("after") >= 100 and load.resent("after") >= 100)
    finally:
        load.stop()

    assert load.reconnects == 1
    heard = {json.loads(r.payload)["msg_id"] for r in _drain(listener)}
    assert {msg_id for _, msg_id in load.acked("before")} <= heard  # Success: delivered
    assert load.acked("after") == []  # every one acknowledged, as going nowhere
    assert load.unrouted("after") == load.sent("after")  # copies sent again went nowhere too
    assert load.refused == 0


def _until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _drain(listener: Listener) -> list[Received]:
    """Everything the listener got, once nothing more arrives."""
    received: list[Received] = []
    with contextlib.suppress(queue.Empty):
        while True:
            received.append(listener.messages.get(timeout=0.5))
    return received
