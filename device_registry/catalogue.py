"""The registry against the device catalogue (core.catalog): what a registration must
agree with, what the installer is warned about, and the defaults a model brings.

Both are tables of small functions over one `Registration`, the device as it will stand
once the request is applied: a PATCH is judged on the merged device, so clearing an IMEI
cannot leave a platform device without any id. Pure: no database, no clock.

- `PROBLEMS`: each answers a refusal (the body field at fault and what to do), which the
  service raises as InvalidRequest (422 naming the field);
- `WARNINGS`: each answers the warnings a registration is accepted with (open quirks of
  the model, a model the catalogue does not know). They are computed again on every read,
  so a device shows its warning until the mitigation is listed.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core import catalog
from core.catalog import CARRIER_PLATFORMS, KINDS, Model, Quirk, Transport
from core.types import DeviceType, EventKind
from device_registry.access import Actor
from device_registry.schemas import (
    DEFAULT_HEARTBEAT_S,
    CataloguePublic,
    DeviceWarning,
    KindPublic,
    ModelPublic,
    Platform,
    PowerSource,
    QuirkPublic,
    WarningKind,
)


@dataclass(frozen=True, slots=True)
class Registration:
    """What the catalogue checks look at: a device's type, model and ways in."""

    device_type: DeviceType
    model: str = ""
    platform: Platform | None = None
    platform_device_id: str | None = None
    imei: str | None = None
    zigbee_name: str | None = None
    zigbee_ieee: str | None = None
    mitigations: Sequence[str] = ()

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> "Registration":
        """From a request body's or a devices row's values (other keys are ignored)."""
        platform = values.get("platform")
        return cls(
            device_type=DeviceType(values["device_type"]),
            model=values.get("model") or "",
            platform=Platform(platform) if platform else None,
            platform_device_id=values.get("platform_device_id"),
            imei=values.get("imei"),
            zigbee_name=values.get("zigbee_name"),
            zigbee_ieee=values.get("zigbee_ieee"),
            mitigations=tuple(values.get("mitigations") or ()),
        )

    @property
    def transport(self) -> Transport:
        """How its messages reach us, as registered."""
        if self.platform is not None:
            return Transport(self.platform.value)
        if self.zigbee_name is not None or self.zigbee_ieee is not None:
            return Transport.ZIGBEE2MQTT
        return Transport.NATIVE

    @property
    def catalogued(self) -> Model | None:
        return catalog.lookup(self.model)

    @property
    def has_own_account(self) -> bool:
        """Only a device that speaks MQTT itself gets a broker account: a Zigbee device
        publishes through its gateway's, a platform device through the platform."""
        return self.transport is Transport.NATIVE


# --- refusals --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


# How to register a device of each transport, for messages that say what to fix.
HOW_TO_REGISTER: Mapping[Transport, str] = {
    Transport.NATIVE: "without platform or zigbee_name (it gets its own MQTT account)",
    Transport.ZIGBEE2MQTT: "with zigbee_name or zigbee_ieee (its name or address in Zigbee2MQTT)",
    **{
        t: f"with platform {t.value} and its platform_device_id or imei"
        for t in sorted(CARRIER_PLATFORMS)
    },
}


def _platform_without_id(r: Registration) -> Problem | None:
    if r.platform is None or r.platform_device_id or r.imei:
        return None
    return Problem(
        "platform",
        f"a device behind {r.platform} needs platform_device_id or imei: the id "
        f"{r.platform} knows it by, so that its reports reach it",
    )


def _id_without_platform(r: Registration) -> Problem | None:
    if r.platform is not None:
        return None
    given = next((f for f in ("platform_device_id", "imei") if getattr(r, f)), None)
    if given is None:
        return None
    return Problem(
        given,
        f"{given} is the id a carrier platform knows a device by: give platform "
        "(ctwing, onenet or iotda) too, or leave it out",
    )


def _two_ways_in(r: Registration) -> Problem | None:
    if r.platform is None or (r.zigbee_name is None and r.zigbee_ieee is None):
        return None
    return Problem(
        "platform",
        "a device reaches nuanxin either through a carrier platform or through a Zigbee "
        "gateway, not both: leave out platform or zigbee_name/zigbee_ieee",
    )


def _kind_differs(r: Registration) -> Problem | None:
    model = r.catalogued
    if model is None or model.kind is r.device_type:
        return None
    return Problem(
        "device_type",
        f"model {model.model} is a {KINDS[model.kind].label_en.lower()} ({model.kind}), "
        f"not {r.device_type}: register it as {model.kind}, or check the model",
    )


def _transport_differs(r: Registration) -> Problem | None:
    model = r.catalogued
    if model is None or model.transport is r.transport:
        return None
    field = "platform" if model.transport in CARRIER_PLATFORMS or r.platform else "zigbee_name"
    return Problem(
        field,
        f"model {model.model} reaches nuanxin through {model.transport}, not "
        f"{r.transport}: register it {HOW_TO_REGISTER[model.transport]}",
    )


def _unknown_mitigations(r: Registration) -> Problem | None:
    model = r.catalogued
    known = {q.code for q in model.quirks} if model else set()
    unknown = sorted(set(r.mitigations) - known)
    if not unknown:
        return None
    if model is None:
        named = f"model {r.model}" if r.model else "a device without a model"
        why = f"{named} is not in the catalogue, so it has no known quirks"
    else:
        why = f"model {model.model} has " + (
            f"only these: {', '.join(sorted(known))}" if known else "no known quirks"
        )
    return Problem("mitigations", f"no quirk {', '.join(unknown)} to mitigate: {why}")


PROBLEMS: tuple[Callable[[Registration], Problem | None], ...] = (
    _platform_without_id,
    _id_without_platform,
    _two_ways_in,
    _kind_differs,
    _transport_differs,
    _unknown_mitigations,
)


def problems(registration: Registration) -> list[Problem]:
    return [p for check in PROBLEMS if (p := check(registration)) is not None]


# --- warnings --------------------------------------------------------------------------


def _quirk_warning(model: Model, quirk: Quirk) -> DeviceWarning:
    return DeviceWarning(
        kind=WarningKind.OPEN_QUIRK,
        code=quirk.code,
        message=(
            f"{model.vendor} {model.model} has a known defect: {quirk.summary} "
            f"What to do: {quirk.mitigation} Once done, list {quirk.code!r} in the "
            "device's mitigations."
        ),
        message_zh=(
            f"{model.vendor} {model.model} 有已知缺陷（{quirk.code}）：{quirk.summary_zh}"
            f"处理办法：{quirk.mitigation_zh}处理完成后，在设备的 mitigations 中登记 "
            f"“{quirk.code}”。"
        ),
    )


def _open_quirks(r: Registration) -> Iterator[DeviceWarning]:
    model = r.catalogued
    if model is not None:
        for quirk in catalog.open_quirks(model, r.mitigations):
            yield _quirk_warning(model, quirk)


# What decodes a device whose model the catalogue does not know, per transport (en, zh).
GENERIC_DECODING: Mapping[Transport, tuple[str, str]] = {
    Transport.NATIVE: (
        "the native contract (docs/device-contract.md); check the first readings",
        "按原生接入约定（docs/device-contract.md）解码；请核对最初几条读数",
    ),
    Transport.ZIGBEE2MQTT: (
        "the generic Zigbee2MQTT key table, which misreads some models; check the first "
        "readings and a test alarm before leaving",
        "按通用 Zigbee2MQTT 键表解码，部分型号会被误读；离开前请核对最初几条读数并做一次测试报警",
    ),
    **{
        t: (
            f"no dictionary: its {t.value} reports are kept unread, so its alarm codes "
            "open no alert and the installation check cannot pass; choose its model from "
            "the catalogue",
            f"没有该型号的编码表：{t.value} 上报的数据无法解读，报警不会触发告警，"
            "安装检查也无法通过；请从设备目录中选择型号",
        )
        for t in sorted(CARRIER_PLATFORMS)
    },
}


def _unknown_model(r: Registration) -> Iterator[DeviceWarning]:
    if r.catalogued is not None or (not r.model and r.transport is Transport.NATIVE):
        return  # a native device without a model speaks the contract: nothing to warn
    en, zh = GENERIC_DECODING[r.transport]
    named_en = f"model {r.model!r} is not in the device catalogue" if r.model else "no model"
    named_zh = f"型号 “{r.model}” 不在设备目录中" if r.model else "未填写型号"
    yield DeviceWarning(
        kind=WarningKind.UNKNOWN_MODEL,
        code=WarningKind.UNKNOWN_MODEL.value,
        message=f"{named_en}: decoded by {en}.",
        message_zh=f"{named_zh}：{zh}。",
    )


WARNINGS: tuple[Callable[[Registration], Iterator[DeviceWarning]], ...] = (
    _open_quirks,
    _unknown_model,
)


def warnings(registration: Registration) -> list[DeviceWarning]:
    return [w for produce in WARNINGS for w in produce(registration)]


# --- defaults --------------------------------------------------------------------------


def default_power(registration: Registration) -> PowerSource:
    model = registration.catalogued
    return PowerSource.MAINS if model and model.mains_powered else PowerSource.BATTERY


def default_heartbeat_s(registration: Registration, power: PowerSource) -> int:
    """The model's own interval, else a mains device's, else its kind's."""
    model = registration.catalogued
    if model is not None and model.heartbeat_s:
        return model.heartbeat_s
    if power is PowerSource.MAINS:
        return DEFAULT_HEARTBEAT_S[PowerSource.MAINS]
    return KINDS[registration.device_type].heartbeat_s


def proof_event(device_type: DeviceType, model: str | None) -> EventKind:
    """What an installation check waits for: the model's proof, else its kind's."""
    found = catalog.lookup(model)
    return found.proof_event if found else KINDS[device_type].proof_event


# --- the catalogue as the app reads it -------------------------------------------------


def listing(actor: Actor) -> CataloguePublic:
    """Every kind and model, for the installer's choice of model (GET /catalogue)."""
    actor.require("catalogue", "read")
    return CataloguePublic(
        kinds=[
            KindPublic(
                device_type=kind.device_type,
                label_zh=kind.label_zh,
                label_en=kind.label_en,
                proof_event=kind.proof_event,
                heartbeat_s=kind.heartbeat_s,
            )
            for kind in KINDS.values()
        ],
        models=[_model_public(model) for model in catalog.MODELS],
    )


def _model_public(model: Model) -> ModelPublic:
    return ModelPublic(
        key=model.key,
        vendor=model.vendor,
        model=model.model,
        kind=model.kind,
        transport=model.transport,
        model_ids=list(model.model_ids),
        mains_powered=model.mains_powered,
        heartbeat_s=model.default_heartbeat_s,
        proof_event=model.proof_event,
        quirks=[
            QuirkPublic(
                code=q.code,
                summary=q.summary,
                mitigation=q.mitigation,
                summary_zh=q.summary_zh,
                mitigation_zh=q.mitigation_zh,
                references=list(q.references),
            )
            for q in model.quirks
        ],
        remarks=model.notes,
    )
