"""The device catalogue: what kinds of device exist and which real models we know.

One row per kind (`KINDS`) and one row per known model (`MODELS`). A kind says what a
device of that kind measures, how an installer proves it works and how often it should
be heard from; a model says who makes it, how it reaches us (its transport), how its
published keys and coded values map onto our reading and event model, and what is
known to be wrong with it (`Quirk`, with the mitigation an installer must apply).

Adding a model is a row in the transport's module (`zigbee2mqtt.py`, `carriers.py`,
`native.py`) plus its fixture under `tests/fixtures/payloads/`; the completeness tests
check that every row has one. Adding a kind is a row in `KINDS`, a `DeviceType`, and
whatever the completeness tests then ask for (rules, simulator profile, app labels).

This is data, read by ingest (model-aware decoding), the registry (warnings at
registration), simulators and the README's table of known devices; it imports nothing
but `core`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from core.types import DeviceType, EventKind


class Transport(StrEnum):
    """How a model's messages reach us."""

    NATIVE = "native"  # MQTT, nuanxin/v1/{device_id}/…
    ZIGBEE2MQTT = "zigbee2mqtt"  # Zigbee, through a Zigbee2MQTT gateway
    CTWING = "ctwing"  # NB-IoT / 4G via China Telecom CTWing (AEP) HTTP push
    ONENET = "onenet"  # NB-IoT / 4G via China Mobile OneNET HTTP push
    IOTDA = "iotda"  # NB-IoT / 4G via Huawei Cloud IoTDA, AMQP 1.0


# Transports whose devices are known by a carrier-platform identity, not by MQTT.
CARRIER_PLATFORMS: Final = frozenset({Transport.CTWING, Transport.ONENET, Transport.IOTDA})


@dataclass(frozen=True, slots=True)
class Kind:
    device_type: DeviceType
    label_zh: str
    label_en: str
    sensor_fields: frozenset[str]  # reading fields beyond the ones every kind may send
    proof_event: EventKind  # what an installation check waits for
    heartbeat_s: int  # default interval for a battery device of this kind


KINDS: Final[Mapping[DeviceType, Kind]] = MappingProxyType(
    {
        DeviceType.EMERGENCY_BUTTON: Kind(
            DeviceType.EMERGENCY_BUTTON,
            "紧急呼叫按钮",
            "Emergency button",
            frozenset(),
            EventKind.BUTTON_PRESS,
            3600,
        ),
        DeviceType.SMOKE: Kind(
            DeviceType.SMOKE,
            "烟雾报警器",
            "Smoke detector",
            frozenset({"smoke", "smoke_density"}),
            EventKind.SELF_TEST,
            3600,
        ),
        DeviceType.GAS: Kind(
            DeviceType.GAS,
            "燃气报警器",
            "Gas detector",
            frozenset({"gas", "gas_lel"}),
            EventKind.SELF_TEST,
            3600,
        ),
        DeviceType.PIR: Kind(
            DeviceType.PIR,
            "人体感应器",
            "Motion / presence sensor",
            frozenset({"motion", "illuminance"}),
            EventKind.SELF_TEST,
            3600,
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Quirk:
    """A documented defect of a model, and what an installer must do about it.

    `code` is what a device's `mitigations` lists once the mitigation is in place; until
    then registering the model answers with `summary` and `mitigation` as a warning, in
    English and in Chinese (`*_zh`, what installers read in the app): both are required,
    and a completeness test checks that the Chinese is written out, not the English."""

    code: str
    summary: str
    mitigation: str
    summary_zh: str
    mitigation_zh: str
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one coded value of a device means: an event to raise, reading fields to set.

    E.g. LiAn `Alarm_Status` 1 → Meaning(EventKind.ALARM, {"smoke": True})."""

    event: EventKind | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""  # the vendor's word for it, kept in the event's detail


@dataclass(frozen=True, slots=True)
class Scaled:
    """A published key that fills a reading field, in the field's unit.

    `field` None keeps the key in `extra` on purpose (e.g. a chip's own temperature)."""

    field: str | None
    scale: float = 1.0
    unit: str = ""  # the unit as published, for the docs


@dataclass(frozen=True, slots=True)
class Model:
    key: str  # catalogue id, lower-case: "heiman-hs1cg-e"
    vendor: str
    model: str  # as printed on the device and in the vendor's catalogue
    kind: DeviceType
    transport: Transport
    source: str  # where the facts below come from (converter, vendor doc, public parser)
    fixture: str  # file under tests/fixtures/payloads/ that replays its real payloads
    model_ids: tuple[str, ...] = ()  # Zigbee modelID / platform product ids that name it
    fields: Mapping[str, Scaled] = field(default_factory=dict)  # published key → field
    codes: Mapping[str, Mapping[Any, Meaning]] = field(default_factory=dict)  # key → table
    quirks: tuple[Quirk, ...] = ()
    # Published key → values that mean the sensor is not measuring (warming up): while one
    # holds, the kind's sensor values in that message are not readings (see the adapter).
    not_measuring: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    mains_powered: bool = False
    heartbeat_s: int | None = None  # None: the kind's default
    notes: str = ""

    @property
    def proof_event(self) -> EventKind:
        return KINDS[self.kind].proof_event

    @property
    def default_heartbeat_s(self) -> int:
        return self.heartbeat_s or KINDS[self.kind].heartbeat_s


def _index(models: Iterable[Model]) -> Mapping[str, Model]:
    table: dict[str, Model] = {}
    for model in models:
        for name in (model.key, model.model, *model.model_ids):
            key = name.casefold()
            if table.get(key, model) is not model:
                raise ValueError(f"catalogue: {name!r} names two models")
            table[key] = model
    return MappingProxyType(table)


def _all_models() -> tuple[Model, ...]:
    # The transport modules import this one for the row types, so they load here.
    from core.catalog import carriers, native, zigbee2mqtt

    return (*native.MODELS, *zigbee2mqtt.MODELS, *carriers.MODELS)


MODELS: Final[tuple[Model, ...]] = _all_models()
_BY_NAME: Final = _index(MODELS)


def lookup(name: str | None) -> Model | None:
    """The model a registered `model` text names (catalogue key, model or model id, any
    case), or None for a model the catalogue does not know."""
    return _BY_NAME.get(name.strip().casefold()) if name else None


def models_for(transport: Transport) -> tuple[Model, ...]:
    return tuple(model for model in MODELS if model.transport is transport)


def open_quirks(model: Model | None, mitigations: Iterable[str]) -> tuple[Quirk, ...]:
    """The model's quirks whose mitigation the device's registration does not list."""
    done = set(mitigations)
    return tuple(q for q in model.quirks if q.code not in done) if model else ()
