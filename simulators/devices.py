"""Simulated devices speaking the native contract (docs/device-contract.md) over real
MQTT, for tests, benchmarks and the demo.

A device type is a row in PROFILES; a quarantine case is a row in MALFORMED. A
`SimulatedDevice` logs in with its own account, sets its will, announces itself, sends
heartbeats on an interval and, when a script says so, the readings and events of a real
device in trouble. Everything it publishes is logged (`published`, `msg_ids()`) so tests
can compare it with what ingest stored.

Errors: the `simulators.mqtt` hierarchy, plus two `SimulatorError`s of its own:
`UnsupportedTrigger` (a gas detector has no button) and `DeviceSilent`.
"""

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Self

from core.types import DeviceType, EventKind
from ingest.adapters.payload import MAX_PAYLOAD_BYTES
from ingest.messages import QuarantineReason
from simulators.mqtt import (
    Connection,
    Endpoint,
    NotConnected,
    Published,
    SimulatorError,
    Ticker,
    Will,
    encode,
    millis,
    rfc3339,
    shanghai_now,
)

LOW_BATTERY_BELOW: Final = 20  # % — the "low battery" rule's default threshold (alerting/rules.py)
LOW_BATTERY_LEVEL: Final = 15.0  # where `low_battery()` puts the battery
GAS_ALARM_LEL: Final = 10.0  # % LEL at which the detector itself raises `gas`
SMOKE_DENSITY: Final = 4.2  # dB/m reported while `smoke(True)`


class UnsupportedTrigger(SimulatorError):
    """Raised for a trigger the device's profile (or Zigbee model) does not have."""


class DeviceSilent(SimulatorError):
    """Raised for a trigger between `go_silent()` and `resume()`."""


class Power(StrEnum):
    """Same values as the registry's power source."""

    BATTERY = "battery"
    MAINS = "mains"


class Trigger(StrEnum):
    PRESS = "press"
    SMOKE = "smoke"
    GAS = "gas"
    MOTION = "motion"
    TAMPER = "tamper"
    SELF_TEST = "self_test"
    LOW_BATTERY = "low_battery"


@dataclass(frozen=True, slots=True)
class Profile:
    sensors: Mapping[str, Any]  # telemetry sensor fields and their idle values
    heartbeat: timedelta  # the registry's default for the power source
    power: Power
    drain_per_message: float  # battery % used by each telemetry or event message
    triggers: frozenset[Trigger]


COMMON: Final = frozenset({Trigger.TAMPER, Trigger.SELF_TEST})
BATTERY_DRAIN: Final = 0.01  # % per message: 8,000 messages from full to the low mark

PROFILES: Final[Mapping[DeviceType, Profile]] = MappingProxyType(
    {
        DeviceType.EMERGENCY_BUTTON: Profile(
            sensors={},
            heartbeat=timedelta(hours=1),
            power=Power.BATTERY,
            drain_per_message=BATTERY_DRAIN,
            triggers=COMMON | {Trigger.PRESS, Trigger.LOW_BATTERY},
        ),
        DeviceType.SMOKE: Profile(
            sensors={"smoke": False, "smoke_density": 0.0},
            heartbeat=timedelta(hours=1),
            power=Power.BATTERY,
            drain_per_message=BATTERY_DRAIN,
            triggers=COMMON | {Trigger.SMOKE, Trigger.LOW_BATTERY},
        ),
        # Mains powered, like the Heiman HS1CG and most domestic gas detectors.
        DeviceType.GAS: Profile(
            sensors={"gas": False, "gas_lel": 0.0},
            heartbeat=timedelta(minutes=5),
            power=Power.MAINS,
            drain_per_message=0.0,
            triggers=COMMON | {Trigger.GAS},
        ),
        DeviceType.PIR: Profile(
            sensors={"motion": False, "illuminance": 120.0},
            heartbeat=timedelta(hours=1),
            power=Power.BATTERY,
            drain_per_message=BATTERY_DRAIN,
            triggers=COMMON | {Trigger.MOTION, Trigger.LOW_BATTERY},
        ),
    }
)


@dataclass(frozen=True, slots=True)
class MalformedContext:
    """What a MALFORMED row builds its message from."""

    device_type: DeviceType
    msg_id: str
    now: datetime
    fields: dict[str, Any]  # a valid reading's sensor fields

    def reading(self, **changes: Any) -> dict[str, Any]:
        body = {"msg_id": self.msg_id, "ts": rfc3339(self.now), **self.fields, **changes}
        return {key: value for key, value in body.items() if value is not OMIT}

    def event(self, kind: str) -> dict[str, Any]:
        return {"msg_id": self.msg_id, "ts": rfc3339(self.now), "event": kind, "detail": {}}

    def shifted(self, **delta: float) -> str:
        return rfc3339(self.now + timedelta(**delta))

    @property
    def foreign_field(self) -> str:
        """A sensor field of another device type, as a misregistered device sends."""
        own = PROFILES[self.device_type].sensors
        return next(f for p in PROFILES.values() for f in p.sensors if f not in own)

    @property
    def foreign_event(self) -> str:
        button = self.device_type is DeviceType.EMERGENCY_BUTTON
        return EventKind.ALARM if button else EventKind.BUTTON_PRESS


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: QuarantineReason  # the quarantine this message must end in
    body: Callable[[MalformedContext], Any]  # a JSON value, or bytes sent as they are
    kind: str = "telemetry"  # the last topic level(s)
    # False: a valid message, quarantined only because the registry does not know the
    # device (a broker account whose device row is gone or was rolled back). The ACL
    # keeps a device's account from publishing under any other device id.
    registered: bool = True
    # False: the project's broker refuses it (`message_size_limit`, closing the sender's
    # connection), so it never reaches ingest there; ingest quarantines it all the same
    # on a broker without that limit.
    passes_broker: bool = True


OMIT: Final[Any] = object()
Q = QuarantineReason

MALFORMED: Final[Mapping[str, Malformed]] = MappingProxyType(
    {
        "bad_json": Malformed(Q.BAD_JSON, lambda c: encode(c.reading())[:-1]),
        "not_utf8": Malformed(Q.BAD_JSON, lambda c: encode(c.reading())[:-1] + b',"n":"\xff"}'),
        "not_object": Malformed(Q.BAD_JSON, lambda c: [c.reading()]),
        "missing_ts": Malformed(Q.SCHEMA, lambda c: c.reading(ts=OMIT)),
        "bad_value": Malformed(Q.SCHEMA, lambda c: c.reading(rssi="strong")),
        "unknown_event": Malformed(Q.SCHEMA, lambda c: c.event("explosion"), "event"),
        "oversized": Malformed(
            Q.TOO_LARGE, lambda c: c.reading(pad="x" * MAX_PAYLOAD_BYTES), passes_broker=False
        ),
        "foreign_field": Malformed(Q.WRONG_TYPE, lambda c: c.reading(**{c.foreign_field: True})),
        "foreign_event": Malformed(Q.WRONG_TYPE, lambda c: c.event(c.foreign_event), "event"),
        "ts_future": Malformed(Q.TS_WINDOW, lambda c: c.reading(ts=c.shifted(hours=25))),
        "ts_past": Malformed(Q.TS_WINDOW, lambda c: c.reading(ts=c.shifted(days=-31))),
        "unknown_kind": Malformed(Q.BAD_TOPIC, lambda c: c.reading(), "metrics"),
        "unregistered": Malformed(Q.UNKNOWN_DEVICE, lambda c: c.reading(), registered=False),
    }
)


class SimulatedDevice:
    """One device on its own MQTT account; use it as a context manager, or start()/stop().

    `now` is the device's clock: every `ts` comes from it, so a scenario can send readings
    "at" chosen times. `interval_s` is the wall-clock time between heartbeats (default:
    the profile's heartbeat; tests pass fractions of a second).
    """

    def __init__(
        self,
        device_id: str,
        device_type: DeviceType,
        password: str,
        endpoint: Endpoint,
        *,
        now: Callable[[], datetime] = shanghai_now,
        interval_s: float | None = None,
        firmware: str = "1.4.2",
        battery: float = 100.0,
    ) -> None:
        self.device_id, self.device_type = device_id, device_type
        self.profile = PROFILES[device_type]
        self.endpoint, self.firmware, self.now = endpoint, firmware, now
        self.interval_s = interval_s or self.profile.heartbeat.total_seconds()
        self.battery = battery if self.profile.power is Power.BATTERY else None
        self.published: list[Published] = []
        self._password = password
        self._sensors = dict(self.profile.sensors)
        self._tamper = False
        self._rssi = random.Random(device_id).randint(-85, -55)  # stable per device
        self._seq = 0
        self._silent = False
        self._lock = threading.RLock()
        self._connection: Connection | None = None
        self._will: Published | None = None
        self._session_start = 0
        self._ticker: Ticker | None = None

    def topic(self, kind: str) -> str:
        return f"nuanxin/v1/{self.device_id}/{kind}"

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected

    # --- lifecycle --------------------------------------------------------------------

    def start(self, *, heartbeats: bool = True) -> None:
        """Connect with the will, publish the retained online status, start heartbeats."""
        with self._lock:
            self._will = will = self._status("offline", with_ts=False)
            self._connection = Connection(
                self.endpoint,
                self.device_id,
                self._password,
                client_id=self.device_id,  # a new session takes over a stale one
                will=Will(will.topic, will.payload),
            )
            self._connection.connect()
            self._session_start = len(self.published)  # older messages had other sessions
            self._silent = False
            self._send(self._status("online"))
        if heartbeats:
            self._ticker = Ticker(f"heartbeat-{self.device_id}", self.interval_s, self._tick)

    def stop(self) -> None:
        """A clean shutdown: a retained offline status, then DISCONNECT (no will)."""
        self._stop_ticker()
        connection = self._connection
        if connection is None or not connection.connected:
            return
        with self._lock:
            self._send(self._status("offline"))
        self.wait_acked()
        connection.close()

    def drop(self) -> None:
        """A power cut: the TCP connection ends without DISCONNECT; the broker sends the will.
        What was published before is flushed first, so the log is what the broker got."""
        self._stop_ticker()
        with self._lock:
            if self._connection is None or self._will is None or not self.connected:
                return
            self.wait_acked()
            self._connection.drop()
            self.published.append(self._will)

    def go_silent(self, silent: bool = True) -> None:
        """Hung firmware: connected, but publishing nothing until `resume()`."""
        self._silent = silent

    def resume(self) -> None:
        self.go_silent(False)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the log ----------------------------------------------------------------------

    def msg_ids(self, *kinds: str) -> list[str]:
        """msg_ids of well-formed messages of these kinds (default: telemetry and event,
        i.e. what ingest stores as readings and events)."""
        wanted = kinds or ("telemetry", "event")
        return [p.msg_id for p in self.published if p.kind in wanted and p.msg_id is not None]

    def unrouted(self) -> list[Published]:
        """Messages of this session the broker acknowledged with "No matching
        subscribers": it took them, but nobody subscribed will receive them."""
        connection = self._connection
        if connection is None:
            return []
        return [p for p in self.published[self._session_start :] if p.info in connection.unrouted]

    def wait_acked(self, timeout_s: float = 5.0) -> None:
        """Block until the broker has acknowledged everything published so far."""
        if self._connection is not None:
            session = self.published[self._session_start :]
            infos = [p.info for p in session if p.info is not None]
            self._connection.wait_acked(infos, timeout_s)

    # --- scripted triggers --------------------------------------------------------------

    def heartbeat(self) -> list[Published]:
        """Telemetry with the current state; for an emergency button, a bare heartbeat."""
        return self._trigger(None, lambda: [self._telemetry()])

    def press(self) -> list[Published]:
        return self._trigger(
            Trigger.PRESS, lambda: [self._event(EventKind.BUTTON_PRESS, {"presses": 1})]
        )

    def smoke(self, on: bool) -> list[Published]:
        """Telemetry with the smoke flag, plus `alarm`/`alarm_clear` when it changes."""
        density = SMOKE_DENSITY if on else 0.0
        detail = {"sensor": "smoke", "density": density} if on else {"sensor": "smoke"}
        return self._alarm(Trigger.SMOKE, "smoke", on, {"smoke_density": density}, detail)

    def gas_leak(self, lel: float) -> list[Published]:
        """Gas at `lel` % LEL; the detector raises `gas` (and `alarm`) from GAS_ALARM_LEL."""
        on = lel >= GAS_ALARM_LEL
        detail = {"sensor": "gas", "gas_lel": lel} if on else {"sensor": "gas"}
        return self._alarm(Trigger.GAS, "gas", on, {"gas_lel": lel}, detail)

    def gas_clear(self) -> list[Published]:
        return self._alarm(Trigger.GAS, "gas", False, {"gas_lel": 0.0}, {"sensor": "gas"})

    def motion(self, illuminance: float | None = None) -> list[Published]:
        """One motion report; PIRs report motion as an instant, so heartbeats stay false."""
        lux = {} if illuminance is None else {"illuminance": illuminance}
        return self._trigger(Trigger.MOTION, lambda: [self._telemetry(motion=True, **lux)])

    def tamper(self, opened: bool = True) -> list[Published]:
        """The cover opened (telemetry `tamper` and a `tamper` event) or closed again."""

        def build() -> list[Published]:
            self._tamper = opened
            event = self._event(EventKind.TAMPER, {"sensor": "tamper"})
            return [self._telemetry(), event] if opened else [self._telemetry()]

        return self._trigger(Trigger.TAMPER, build)

    def self_test(self, ok: bool = True) -> list[Published]:
        detail = {"result": "pass" if ok else "fail"}
        return self._trigger(Trigger.SELF_TEST, lambda: [self._event(EventKind.SELF_TEST, detail)])

    def low_battery(self) -> list[Published]:
        """The battery falls to LOW_BATTERY_LEVEL: telemetry and a `low_battery` event."""

        def build() -> list[Published]:
            self.battery = LOW_BATTERY_LEVEL
            detail = {"battery": round(LOW_BATTERY_LEVEL)}
            return [self._telemetry(), self._event(EventKind.LOW_BATTERY, detail)]

        return self._trigger(Trigger.LOW_BATTERY, build)

    def send_malformed(self, kind: str) -> Published:
        """Publish the MALFORMED row `kind`; its `reason` is the quarantine it must cause."""
        row = MALFORMED[kind]
        with self._lock:
            self._check(None)
            msg_id = self._next_msg_id()
            context = MalformedContext(
                self.device_type, msg_id, self.now(), self._telemetry_fields()
            )
            body = row.body(context)
            payload = body if isinstance(body, bytes) else encode(body)
            topic = self.topic(row.kind)
            logged_id = msg_id if f'"{msg_id}"'.encode() in payload else None
            return self._send(Published(topic, payload, f"malformed:{kind}", logged_id, None))

    # --- building messages --------------------------------------------------------------

    def _alarm(
        self, trigger: Trigger, flag: str, on: bool, values: dict[str, Any], detail: dict[str, Any]
    ) -> list[Published]:
        def build() -> list[Published]:
            changed = self._sensors[flag] != on
            self._sensors.update({flag: on, **values})
            if not changed:
                return [self._telemetry()]
            kind = EventKind.ALARM if on else EventKind.ALARM_CLEAR
            return [self._telemetry(), self._event(kind, detail)]

        return self._trigger(trigger, build)

    def _telemetry_fields(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"rssi": self._rssi, "tamper": self._tamper}
        if self.battery is not None:
            body["battery"] = round(self.battery)
            body["battery_low"] = self.battery < LOW_BATTERY_BELOW
        return {**body, **self._sensors, **overrides}

    def _telemetry(self, **overrides: Any) -> Published:
        msg_id, ts = self._next_msg_id(), millis(self.now())
        body = {"msg_id": msg_id, "ts": rfc3339(ts), **self._telemetry_fields(**overrides)}
        return Published(self.topic("telemetry"), encode(body), "telemetry", msg_id, ts)

    def _event(self, kind: EventKind, detail: dict[str, Any]) -> Published:
        msg_id, ts = self._next_msg_id(), millis(self.now())
        body = {"msg_id": msg_id, "ts": rfc3339(ts), "event": kind.value, "detail": detail}
        return Published(self.topic("event"), encode(body), "event", msg_id, ts)

    def _status(self, state: str, *, with_ts: bool = True) -> Published:
        # The will is composed at connect time, when the device cannot know when it will
        # die: no ts, so ingest uses the arrival time.
        msg_id, ts = self._next_msg_id(), millis(self.now()) if with_ts else None
        body: dict[str, Any] = {"msg_id": msg_id, "state": state, "fw": self.firmware}
        if ts is not None:
            body["ts"] = rfc3339(ts)
        kind = "status" if with_ts else "will"
        return Published(self.topic("status"), encode(body), kind, msg_id, ts, retained=True)

    def _next_msg_id(self) -> str:
        self._seq += 1
        return f"{self.device_id}-{self._seq}"

    # --- publishing ----------------------------------------------------------------------

    def _check(self, trigger: Trigger | None) -> None:
        if trigger is not None and trigger not in self.profile.triggers:
            raise UnsupportedTrigger(f"a {self.device_type} device has no {trigger} trigger")
        if self._silent:
            raise DeviceSilent(f"{self.device_id} has gone silent; resume() it first")

    def _trigger(
        self, trigger: Trigger | None, build: Callable[[], list[Published]]
    ) -> list[Published]:
        """Check, then change state, build and send the messages as one step."""
        with self._lock:
            self._check(trigger)
            messages = build()
            sent = [self._send(message) for message in messages]
            return sent + self._drain(len(messages))

    def _drain(self, count: int) -> list[Published]:
        """Use battery; crossing the low threshold makes the device say so, once."""
        if self.battery is None:
            return []
        before = self.battery
        self.battery = max(0.0, before - count * self.profile.drain_per_message)
        if before >= LOW_BATTERY_BELOW > self.battery:
            detail = {"battery": round(self.battery)}
            return [self._send(self._event(EventKind.LOW_BATTERY, detail))]
        return []

    def _send(self, message: Published) -> Published:
        if self._connection is None:
            raise NotConnected(f"{self.device_id} was never started")
        sent = self._connection.send(message)
        self.published.append(sent)
        return sent

    def _tick(self) -> bool:
        if self._silent:
            return True
        try:
            self.heartbeat()
        except DeviceSilent:
            pass  # silenced between the check and the send
        except NotConnected:
            return False  # dropped: a new start() starts a new ticker
        return True

    def _stop_ticker(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()
