"""Fixtures: a broker of the test's own (tests/support/broker.py), its admin, and a
platform account listening to everything the simulators publish."""

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from simulators.devices import SimulatedDevice
from simulators.mqtt import Endpoint, shanghai_now
from tests.simulators.support import Listener
from tests.support.broker import BrokerInfo

PLATFORM = ("nuanxin-platform-reader", "reader-secret")
HEARTBEAT_S = 0.05


@pytest.fixture
def endpoint(broker: BrokerInfo) -> Endpoint:
    return Endpoint(broker.host, broker.port)


@pytest.fixture
def admin(broker: BrokerInfo) -> Iterator[BrokerAdmin]:
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password, timeout_s=3
    ) as admin:
        admin.ensure_platform_account(*PLATFORM)
        yield admin


@pytest.fixture
def listener(endpoint: Endpoint, admin: BrokerAdmin) -> Iterator[Listener]:
    with Listener(endpoint, *PLATFORM) as listener:
        yield listener


DeviceFactory = Callable[..., SimulatedDevice]


@pytest.fixture
def make_device(endpoint: Endpoint, admin: BrokerAdmin) -> Iterator[DeviceFactory]:
    """Provision a device account and build its simulator (not started); every simulator
    built is stopped after the test."""
    built: list[SimulatedDevice] = []

    def make(
        device_id: str,
        device_type: DeviceType,
        *,
        interval_s: float = HEARTBEAT_S,
        now: Callable[[], datetime] = shanghai_now,
    ) -> SimulatedDevice:
        password = admin.provision_device(device_id)
        device = SimulatedDevice(
            device_id, device_type, password, endpoint, interval_s=interval_s, now=now
        )
        built.append(device)
        return device

    yield make
    for device in built:
        device.stop()
