"""Payload adapters: MQTT (topic, bytes, arrival time) → typed messages, with no I/O.

    Router.decode(topic, payload, received_at) -> list[Decoded]
      ├── native.NativeAdapter          nuanxin/v1/{device_id}/telemetry|event|status
      └── zigbee2mqtt.Zigbee2MqttAdapter  zigbee2mqtt/{friendly_name}[/availability]

The result list is what to store, in order: usually one item; a Zigbee2MQTT message may
give a Reading plus Events (plus a Rejected for single bad values); an empty list means the
topic is deliberately ignored (our own `cmd`, gateway bridge topics, `/set` and `/get`), so
the message is acknowledged with nothing stored. Adapters never raise on bad input: what
cannot be used comes back as `Rejected` for the quarantine.

A source format is a row in ROUTES: the prefix it owns, the subscription that brings its
messages, and how to build its adapter from the device directory.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from ingest.adapters.directory import DeviceDirectory, StaticDirectory
from ingest.adapters.native import NativeAdapter
from ingest.adapters.payload import reject
from ingest.adapters.zigbee2mqtt import Zigbee2MqttAdapter
from ingest.messages import Decoded, QuarantineReason

__all__ = [
    "ROUTES",
    "Adapter",
    "DeviceDirectory",
    "Route",
    "Router",
    "StaticDirectory",
]


class Adapter(Protocol):
    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Decoded]: ...


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str  # topics starting with this go to the adapter
    subscription: str  # the MQTT topic filter that delivers them
    build: Callable[[DeviceDirectory], Adapter]
    # May a share group split these messages among ingest processes? Not when the
    # adapter compares each message with the device's previous one, in memory.
    split_by_group: bool = True


ROUTES: Final[tuple[Route, ...]] = (
    # Deeper topics than {id}/{kind} are subscribed too, so they reach the quarantine.
    Route("nuanxin/v1/", "nuanxin/v1/#", NativeAdapter),
    # One process must see all of a gateway's messages, in order: its alarm flags are
    # transitions it tracks in memory (NUANXIN_INGEST_ZIGBEE2MQTT picks that process).
    Route("zigbee2mqtt/", "zigbee2mqtt/#", Zigbee2MqttAdapter, split_by_group=False),
)


class Router:
    """Sends each topic to the adapter of the longest matching prefix."""

    def __init__(self, directory: DeviceDirectory, routes: Sequence[Route] = ROUTES) -> None:
        ordered = sorted(routes, key=lambda route: len(route.prefix), reverse=True)
        self._adapters = [(route.prefix, route.build(directory)) for route in ordered]
        self.routes = tuple(routes)
        self.subscriptions = [route.subscription for route in routes]

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Decoded]:
        for prefix, adapter in self._adapters:
            if topic.startswith(prefix):
                return adapter.decode(topic, payload, received_at)
        detail = "no adapter for this topic"
        return [reject(topic, payload, QuarantineReason.BAD_TOPIC, detail, received_at)]
