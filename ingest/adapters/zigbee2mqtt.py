"""Zigbee2MQTT gateways: off-the-shelf Zigbee sensors translated into our message model.

Topics under the gateway's base topic (default `zigbee2mqtt`):

    {base}/bridge, {base}/bridge/…         ignored: the gateway's own control plane
    {base}/{name}/set[/…], {name}/get[/…]  ignored: commands to devices, ours or another app's
    {base}/{name}/availability             Status (JSON `{"state": …}` or a plain word)
    {base}/{name}                          Reading, Events, and a Rejected for bad values

Friendly names may contain "/" and spaces, so a name registered as a whole wins over the
suffix rules. A device is found by friendly name, by IEEE address (the default friendly
name), or by `device.ieeeAddr` when the gateway sets `include_device_information`.

A device registered with a catalogue model (`DeviceInfo.model`, core.catalog) is read
through that model's row: its `fields` add keys (ZG-204ZM `presence`, Aqara `gas_density`
in % LEL), rescale them, or keep them in `extra` on purpose (a chip's `temperature`, the
FP1's region `action`); its `not_measuring` says when the sensor is warming up, and then
no sensor value but an alarm is read from the message (a warm-up is not an all-clear). A
device of unknown model is read through the generic KEYS table.

An empty payload is the broker deleting a retained message (Zigbee2MQTT clears a renamed
device's topics that way): nothing to store, nothing to quarantine.

Zigbee2MQTT republishes a device's whole cached state in every message, so events come
from transitions of per-device flags (`Z2mDeviceState.raised`), not from the presence of a
key; the reading itself is stored every time. `action` is not cached by Zigbee2MQTT
(lib/state.ts, CACHE_IGNORE_PROPERTIES), so each non-empty action is a new press.

Messages carry no msg_id: it is a hash of device and payload bytes. `ts` is the gateway's
`last_seen` when enabled (then a redelivery repeats ts and msg_id and is stored once);
otherwise the arrival time. Without `last_seen` a QoS 1 redelivery and a new message with
the same bytes look alike, so dedup is best effort and only where a mistake loses nothing:
a message identical to the device's previous one within REDELIVERY_WINDOW reuses its ts
(its reading is stored once) unless it is news (`_news`): an `action` — two presses of a
button are the same bytes — or a flag rising against the device's state. News always gets
its arrival time, so a redelivered press is stored as a second press (one extra repeat on
the alert) rather than a second press being dropped as a redelivery (safety invariant 7).
A redelivered state message cannot raise a flag twice: the flag is already up.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from core import catalog
from core.types import DeviceType, EventKind
from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.fields import ANY_TYPE, SENSOR_FIELDS, FieldError, describe, only
from ingest.adapters.payload import (
    MAX_PAYLOAD_BYTES,
    Quarantine,
    load_object,
    parse_ts,
    reject,
    window_error,
)
from ingest.messages import (
    Decoded,
    DeviceInfo,
    Event,
    QuarantineReason,
    Reading,
    Status,
)

DEFAULT_BASE_TOPIC: Final = "zigbee2mqtt"
REDELIVERY_WINDOW: Final = timedelta(seconds=60)
COMMAND = re.compile(r".+/(set|get)(/.+)?")  # as Zigbee2MQTT's own topic regex
BUTTON = only(DeviceType.EMERGENCY_BUTTON)


@dataclass(frozen=True, slots=True)
class Z2mKey:
    """One published key: the reading field it fills (checked by SENSOR_FIELDS), or none
    (kept in `extra`), and the events of its false→true (`rise`) and true→false (`fall`)."""

    field: str | None = None
    types: frozenset[DeviceType] = ANY_TYPE  # for keys without a field
    rise: EventKind | None = None
    fall: EventKind | None = None
    scale: float = 1.0  # published unit → the field's unit
    words: Mapping[str, Any] | None = None  # published word → field value, for enums


# Radars publish presence as a word. Every word but "none" means someone is there, moving
# or still (a body lying still is "present" too: see docs/devices.md, presence sensors).
# src/devices/tuya.ts: ZG-205Z presence_state none/presence/peaceful/small_movement/
# large_movement; RD24G01 none/motion/stationary; the presence switch none/presence;
# Excellux ZG-301A NONE/PRESENCE; ZY-M100-24G/V2/V3 `state` none/presence/move.
PRESENCE_WORDS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        **dict.fromkeys(("none", "NONE"), False),
        **dict.fromkeys(
            ("presence", "PRESENCE", "peaceful", "small_movement", "large_movement"), True
        ),
        **dict.fromkeys(("motion", "stationary", "move"), True),
    }
)
# Words of keys a model row maps to a field (`state` is a radar's presence for ZY-M100,
# but a gas detector's warm-up for Aqara, so it is never read generically).
WORDS: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {"presence_state": PRESENCE_WORDS, "state": PRESENCE_WORDS}
)


# Where two keys fill one field the first present wins: before 2.0 the generic converter
# published the raw ZCL value as `illuminance` and lux as `illuminance_lux`.
# `linkquality` is an LQI (0–255), not dBm, so it stays in `extra`, never in `rssi`;
# Aqara's `device_temperature` is the chip's, not the room's, so it stays there too.
KEYS: Final = MappingProxyType(
    {
        "smoke": Z2mKey("smoke", rise=EventKind.ALARM, fall=EventKind.ALARM_CLEAR),
        "gas": Z2mKey("gas", rise=EventKind.ALARM, fall=EventKind.ALARM_CLEAR),
        "occupancy": Z2mKey("motion"),
        # mmWave presence sensors (Tuya ZG-204ZM, Aqara FP1, Linptech ES1) publish this
        # instead: someone is there, moving or not, which is what inactivity asks.
        "presence": Z2mKey("motion"),
        # Radars that say it in words (Tuya ZG-205Z, RD24G01, …); after `presence`, which
        # wins where both come, and stands in when a converter leaves `presence` null.
        "presence_state": Z2mKey("motion", words=PRESENCE_WORDS),
        "illuminance_lux": Z2mKey("illuminance"),
        "illuminance": Z2mKey("illuminance"),
        "battery": Z2mKey("battery"),
        "battery_low": Z2mKey("battery_low", rise=EventKind.LOW_BATTERY),
        "tamper": Z2mKey("tamper", rise=EventKind.TAMPER),
        "temperature": Z2mKey("temperature"),
        # IAS SOS buttons (Feibit SEB01ZB, fz.ias_sos_alarm_2) raise a zone flag, no action.
        "sos": Z2mKey(types=BUTTON, rise=EventKind.BUTTON_PRESS),
        "test": Z2mKey(rise=EventKind.SELF_TEST),  # IAS zone bit 8, e.g. Heiman smoke
        "trouble": Z2mKey(rise=EventKind.FAULT),  # IAS zone bit 6
    }
)
TRANSITIONS: Final = MappingProxyType(
    {key: spec for key, spec in KEYS.items() if spec.rise or spec.fall}
)

# Values of `action` from real button definitions: Heiman HS1EB (off/single/double/hold),
# Heiman HS1RC remotes (emergency, arm_*/disarm), Xiaomi/Aqara and Tuya buttons.
PRESSES: Final = ("single", "double", "triple", "quadruple", "many", "hold", "long", "press")
PANICS: Final = ("emergency", "sos", "panic")
NOT_PRESSES: Final = ("off", "release", "disarm", "arm_day_zones", "arm_night_zones")
NOT_PRESSES_ARMING: Final = ("arm_all_zones", "arm_partial_zones")
ACTIONS: Final[Mapping[str, EventKind | None]] = MappingProxyType(
    {
        **dict.fromkeys(PRESSES + PANICS, EventKind.BUTTON_PRESS),
        **dict.fromkeys(NOT_PRESSES + NOT_PRESSES_ARMING, None),
    }
)
# An emergency button saying something unknown is treated as a press: a spurious page
# costs a phone call, a missed one may cost a life.
UNMAPPED_ACTION: Final = EventKind.BUTTON_PRESS
METADATA_KEYS: Final = frozenset({"device"})  # include_device_information: not a reading


@dataclass(frozen=True, slots=True)
class KeyTable:
    """How one model's messages are read: the generic table with its catalogue row on top."""

    keys: Mapping[str, Z2mKey]
    transitions: Mapping[str, Z2mKey]
    kept: frozenset[str] = frozenset()  # keys the model keeps in `extra` on purpose
    not_measuring: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def warming_up(self, body: Mapping[str, Any]) -> bool:
        return any(
            _same(body.get(key), value)
            for key, values in self.not_measuring.items()
            for value in values
        )


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # True is not 1 here


def _table(model: catalog.Model) -> KeyTable:
    keys = dict(KEYS)
    kept: set[str] = set()
    for key, scaled in model.fields.items():
        if scaled.field is None:
            keys.pop(key, None)
            kept.add(key)
        else:
            spec = keys.get(key, Z2mKey(words=WORDS.get(key)))
            keys[key] = replace(spec, field=scaled.field, scale=scaled.scale)
    return KeyTable(
        MappingProxyType(keys),
        MappingProxyType({key: spec for key, spec in keys.items() if spec.rise or spec.fall}),
        frozenset(kept),
        MappingProxyType(dict(model.not_measuring)),
    )


GENERIC: Final = KeyTable(KEYS, TRANSITIONS)
TABLES: Final[Mapping[str, KeyTable]] = MappingProxyType(
    {model.key: _table(model) for model in catalog.models_for(catalog.Transport.ZIGBEE2MQTT)}
)


def table_for(device: DeviceInfo) -> KeyTable:
    """The device's model's table, or the generic one for a model we do not know."""
    model = catalog.lookup(device.model)
    return TABLES.get(model.key, GENERIC) if model else GENERIC


@dataclass(frozen=True, slots=True)
class Z2mDeviceState:
    """What one device's next message is compared with; constant size per device."""

    raised: frozenset[str] = frozenset()  # TRANSITIONS keys last reported true
    msg_id: str = ""  # of the last state message
    ts: datetime | None = None  # the ts it was given


NO_STATE: Final = Z2mDeviceState()


@dataclass(frozen=True, slots=True)
class Z2mResult:
    """Decoded messages, and the device's new state to keep when `state` is set."""

    decoded: list[Decoded]
    device_id: str | None = None
    state: Z2mDeviceState | None = None


def decode(
    topic: str,
    payload: bytes,
    received_at: datetime,
    directory: DeviceDirectory,
    previous: Mapping[str, Z2mDeviceState],
    base_topic: str = DEFAULT_BASE_TOPIC,
) -> Z2mResult:
    """Pure: the state of every device seen so far goes in, the changed one comes out."""
    name = topic[len(base_topic) + 1 :] if topic.startswith(f"{base_topic}/") else ""
    if not name:
        return _rejected(topic, payload, received_at, QuarantineReason.BAD_TOPIC, "no device name")
    if name == "bridge" or name.startswith("bridge/") or not payload:
        return Z2mResult([])  # a fresh list: callers may extend it
    device = directory.by_zigbee(name)
    if device is None:
        owner, _, last = name.rpartition("/")
        if last == "availability" and owner:
            return _availability(topic, payload, received_at, directory.by_zigbee(owner))
        if COMMAND.fullmatch(name):
            return Z2mResult([])  # a fresh list: callers may extend it
    try:
        body = load_object(payload)
        device = device or _by_ieee(body, directory)
        if device is None:
            raise Quarantine(QuarantineReason.UNKNOWN_DEVICE, f"no device mapped to {name!r}")
        state = previous.get(device.device_id, NO_STATE)
        return _state_message(topic, payload, body, device, received_at, state)
    except Quarantine as problem:
        device_id = device.device_id if device else None
        return Z2mResult([problem.rejected(topic, payload, received_at, device_id)])


def _by_ieee(body: dict[str, Any], directory: DeviceDirectory) -> DeviceInfo | None:
    info = body.get("device")
    ieee = info.get("ieeeAddr") if isinstance(info, dict) else None
    return directory.by_zigbee(ieee) if isinstance(ieee, str) else None


@dataclass(frozen=True, slots=True)
class _Origin:
    """What every message decoded from one payload shares."""

    device_id: str
    ts: datetime
    msg_id: str
    received_at: datetime

    def event(self, key: str, kind: EventKind, detail: dict[str, Any]) -> Event:
        # One payload may yield several events; the key keeps their ids apart.
        return Event(
            self.device_id, self.ts, f"{self.msg_id}:{key}", self.received_at, kind, detail
        )


def _state_message(
    topic: str,
    payload: bytes,
    body: dict[str, Any],
    device: DeviceInfo,
    received_at: datetime,
    previous: Z2mDeviceState,
) -> Z2mResult:
    msg_id = _msg_id(device.device_id, payload)
    table = table_for(device)
    reader = _Reader(table, device.device_type, table.warming_up(body))
    redelivery = previous if not _news(body, table, previous.raised) else NO_STATE
    ts, used = _timestamp(body, received_at, msg_id, redelivery)
    origin = _Origin(device.device_id, ts, msg_id, received_at)
    values, consumed, problems = _fields(body, reader)
    events, raised = _transitions(body, reader, origin, previous.raised)
    if "action" not in reader.table.kept:
        events += _action(body, device.device_type, origin, problems)
    consumed |= used | METADATA_KEYS
    extra = {key: value for key, value in body.items() if key not in consumed}
    decoded: list[Decoded] = [
        Reading(device.device_id, ts, msg_id, received_at, **values, extra=extra or None),
        *events,
    ]
    if problems:
        detail = "; ".join(problems) + " (the rest of the message was stored)"
        decoded.append(
            reject(topic, payload, QuarantineReason.SCHEMA, detail, received_at, device.device_id)
        )
    return Z2mResult(decoded, device.device_id, Z2mDeviceState(raised, msg_id, ts))


def _msg_id(device_id: str, payload: bytes) -> str:
    digest = hashlib.blake2b(device_id.encode() + b"\0" + payload, digest_size=16)
    return f"z2m:{digest.hexdigest()}"


def _news(body: dict[str, Any], table: KeyTable, raised: frozenset[str]) -> bool:
    """Whether the message is news whatever its bytes: an `action` (never cached by
    Zigbee2MQTT, so identical bytes are another press or region event) or a flag that
    rises against the device's last known state. Such a message never reuses an earlier
    ts, so its events can never collide with an earlier message's and be dropped."""
    action = body.get("action")
    rising = (key for key in table.transitions if key not in raised and body.get(key) is True)
    return (action is not None and action != "") or any(rising)


def _timestamp(
    body: dict[str, Any], received_at: datetime, msg_id: str, previous: Z2mDeviceState
) -> tuple[datetime, set[str]]:
    """The gateway's `last_seen` if usable, else arrival time; plus the keys consumed."""
    try:
        seen = parse_ts(body["last_seen"]) if "last_seen" in body else None
    except FieldError:
        seen = None  # "relative" format or junk: arrival time will do
    if seen is not None and window_error(seen, received_at) is None:
        return seen, {"last_seen"}
    if (
        previous.msg_id == msg_id
        and previous.ts is not None
        and timedelta(0) <= received_at - previous.ts <= REDELIVERY_WINDOW
    ):
        return previous.ts, set()
    return received_at, set()


@dataclass(frozen=True, slots=True)
class _Reader:
    """One message's table, and whether its sensor values count (not while warming up)."""

    table: KeyTable
    device_type: DeviceType
    warming_up: bool

    def held_back(self, spec: Z2mKey, value: Any) -> bool:
        """A sensor value of a warming-up device: not a measurement, unless it is an alarm
        (a warm-up can never clear an alarm, and never hide one either)."""
        sensor_fields = catalog.KINDS[self.device_type].sensor_fields
        return self.warming_up and spec.field in sensor_fields and value is not True


def _word(value: Any, spec: Z2mKey) -> Any:
    """The field value a published word stands for; a word we do not know is a problem
    (reported, kept in `extra`), so a new firmware's word is seen, not guessed."""
    if spec.words is None:
        return value
    if type(value) is str and value in spec.words:
        return spec.words[value]
    raise FieldError(f"{describe(value)} is not one of {', '.join(spec.words)}")


def _scaled(value: Any, scale: float) -> Any:
    return value * scale if scale != 1.0 and type(value) in (int, float) else value


def _fields(body: dict[str, Any], reader: _Reader) -> tuple[dict[str, Any], set[str], list[str]]:
    """Reading values, the keys they came from, and problems with single values.

    A device's whole state comes in every message, so one bad value must not hold back
    a smoke alarm: it is reported (SCHEMA) and kept in `extra`, the rest goes through.
    A key the device type cannot have means it was registered as the wrong type: that
    rejects the message (WRONG_TYPE)."""
    values: dict[str, Any] = {}
    consumed: set[str] = set()
    problems: list[str] = []
    device_type = reader.device_type
    for key, spec in reader.table.keys.items():
        value = body.get(key)
        if value is None:  # Zigbee2MQTT publishes null for "not known yet"
            continue
        name = spec.field
        if device_type not in (SENSOR_FIELDS[name].types if name else spec.types):
            raise Quarantine(
                QuarantineReason.WRONG_TYPE, f"{key}: a {device_type} device has no {key}"
            )
        if name is None or name in values or reader.held_back(spec, value):
            continue
        try:
            values[name] = SENSOR_FIELDS[name].parse(_scaled(_word(value, spec), spec.scale))
            consumed.add(key)
        except FieldError as error:
            problems.append(f"{key}: {error}")
    return values, consumed, problems


def _transitions(
    body: dict[str, Any], reader: _Reader, origin: _Origin, raised: frozenset[str]
) -> tuple[list[Event], frozenset[str]]:
    """Events for flags that changed; a flag that is absent or not a boolean keeps its
    previous value (a gateway without cache_state publishes only what changed), and so
    does one the device reports while warming up."""
    events: list[Event] = []
    now = set(raised)
    for key, spec in reader.table.transitions.items():
        value = body.get(key)
        if type(value) is not bool or value == (key in raised) or reader.held_back(spec, value):
            continue
        (now.add if value else now.discard)(key)
        kind = spec.rise if value else spec.fall
        if kind is not None:
            events.append(origin.event(key, kind, {"sensor": key}))
    return events, frozenset(now)


def _action(
    body: dict[str, Any], device_type: DeviceType, origin: _Origin, problems: list[str]
) -> list[Event]:
    value = body.get("action")
    if value is None or value == "":  # the empty action some versions send after a press
        return []
    if device_type not in BUTTON:
        # Not worth losing the message for (an FP1 of a model we do not know sends region
        # events as `action`), but worth a look: a button registered as a sensor would
        # have its presses land here.
        problems.append(
            f"action {describe(value)}: a {device_type} device has no buttons, kept in"
            " extra (if this is an emergency button, register it as one)"
        )
        return []
    if type(value) is not str:
        problems.append(f"action: expected a string, got {describe(value)}")
        return []
    kind = ACTIONS.get(value, UNMAPPED_ACTION)
    if kind is None:
        return []
    detail: dict[str, Any] = {"action": value}
    if value not in ACTIONS:
        detail["unmapped"] = True
    return [origin.event("action", kind, detail)]


AVAILABILITY: Final = MappingProxyType({"online": True, "offline": False})
PLAIN_AVAILABILITY: Final = MappingProxyType({b"online": True, b"offline": False})


def _availability(
    topic: str, payload: bytes, received_at: datetime, device: DeviceInfo | None
) -> Z2mResult:
    device_id = device.device_id if device else None
    try:
        online = _online(payload)
        if device is None:
            raise Quarantine(QuarantineReason.UNKNOWN_DEVICE, "no device mapped to this name")
    except Quarantine as problem:
        return Z2mResult([problem.rejected(topic, payload, received_at, device_id)])
    return Z2mResult([Status(device.device_id, online, received_at)])


def _online(payload: bytes) -> bool:
    """Zigbee2MQTT ≥ 1.21 with legacy_availability_payload off (2.x) sends
    `{"state": "online"}`; older or legacy gateways send the plain word."""
    word = payload.strip() if len(payload) <= MAX_PAYLOAD_BYTES else b""
    if word in PLAIN_AVAILABILITY:
        return PLAIN_AVAILABILITY[word]
    state = load_object(payload).get("state")
    if type(state) is str and state in AVAILABILITY:
        return AVAILABILITY[state]
    raise Quarantine(
        QuarantineReason.SCHEMA, f'state: expected "online" or "offline", got {describe(state)}'
    )


def _rejected(
    topic: str, payload: bytes, received_at: datetime, reason: QuarantineReason, detail: str
) -> Z2mResult:
    return Z2mResult([reject(topic, payload, reason, detail, received_at)])


class Zigbee2MqttAdapter:
    """`decode` with the per-device state kept in a dict: one small entry per registered
    device that has published, none for unknown ones."""

    def __init__(
        self,
        directory: DeviceDirectory,
        base_topic: str = DEFAULT_BASE_TOPIC,
        states: dict[str, Z2mDeviceState] | None = None,
    ) -> None:
        self._directory = directory
        self._base_topic = base_topic
        self.states: dict[str, Z2mDeviceState] = dict(states or {})

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Decoded]:
        result = decode(topic, payload, received_at, self._directory, self.states, self._base_topic)
        if result.device_id is not None and result.state is not None:
            self.states[result.device_id] = result.state
        return result.decoded

    def forget(self, device_id: str) -> None:
        """Drop a decommissioned or re-registered device's flags."""
        self.states.pop(device_id, None)
