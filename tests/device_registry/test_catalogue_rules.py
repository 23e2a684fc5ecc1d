"""The registry's catalogue rules (device_registry.catalogue), pure: refusals, warnings
and defaults over catalogue rows, including a carrier-platform row of the test's own so
the rules hold for every transport whatever rows the catalogue ships."""

from dataclasses import replace

import pytest

from core import catalog
from core.catalog import CARRIER_PLATFORMS, Model, Quirk, Transport
from core.types import DeviceType
from device_registry import catalogue
from device_registry.catalogue import GENERIC_DECODING, HOW_TO_REGISTER, Registration
from device_registry.schemas import Platform, PowerSource

NB_SMOKE = Model(
    key="test-nb-smoke",
    vendor="Test",
    model="NB-1",
    kind=DeviceType.SMOKE,
    transport=Transport.CTWING,
    source="this test",
    fixture="none",
    quirks=(Quirk("test-quirk", "It forgets.", "Remind it.", "它会忘记。", "提醒它。"),),
    heartbeat_s=43200,
)


@pytest.fixture
def with_nb_smoke(monkeypatch: pytest.MonkeyPatch) -> Model:
    """The catalogue with one more row, as adding a model is: a row."""
    real = catalog.lookup
    monkeypatch.setattr(
        catalog, "lookup", lambda name: NB_SMOKE if name == NB_SMOKE.model else real(name)
    )
    return NB_SMOKE


def test_platforms_are_the_catalogues_carrier_transports() -> None:
    assert {p.value for p in Platform} == {t.value for t in CARRIER_PLATFORMS}
    assert set(HOW_TO_REGISTER) == set(GENERIC_DECODING) == set(Transport)


def test_a_carrier_model_needs_its_platform(with_nb_smoke: Model) -> None:
    native = Registration(DeviceType.SMOKE, model="NB-1")
    [problem] = catalogue.problems(native)
    assert problem.field == "platform"
    assert "through ctwing" in problem.message and "platform ctwing" in problem.message
    other = replace(native, platform=Platform.ONENET, imei="861234567890127")
    assert [p.field for p in catalogue.problems(other)] == ["platform"]
    right = replace(native, platform=Platform.CTWING, imei="861234567890127")
    assert catalogue.problems(right) == []


def test_its_quirk_warns_until_listed_and_its_interval_is_the_default(
    with_nb_smoke: Model,
) -> None:
    device = Registration(
        DeviceType.SMOKE, model="NB-1", platform=Platform.CTWING, platform_device_id="d1"
    )
    [warning] = catalogue.warnings(device)
    assert warning.code == "test-quirk" and "Remind it." in warning.message
    # the Chinese line is Chinese through and through: no English sentence in it
    assert "它会忘记。" in warning.message_zh and "提醒它。" in warning.message_zh
    assert "It forgets." not in warning.message_zh and "Remind it." not in warning.message_zh
    assert catalogue.warnings(replace(device, mitigations=("test-quirk",))) == []
    assert catalogue.default_heartbeat_s(device, PowerSource.BATTERY) == 43200


def test_defaults_without_a_model_come_from_the_kind_and_power() -> None:
    button = Registration(DeviceType.EMERGENCY_BUTTON)
    assert catalogue.default_power(button) is PowerSource.BATTERY
    assert catalogue.default_heartbeat_s(button, PowerSource.BATTERY) == (
        catalog.KINDS[DeviceType.EMERGENCY_BUTTON].heartbeat_s
    )
    assert catalogue.default_heartbeat_s(button, PowerSource.MAINS) == 300


def test_every_catalogue_model_registers_cleanly_its_own_way() -> None:
    """Each shipped row, registered as its transport wants, is refused for nothing, and
    warns exactly of its quirks."""
    for model in catalog.MODELS:
        ways: dict[Transport, dict[str, str]] = {
            Transport.NATIVE: {},
            Transport.ZIGBEE2MQTT: {"zigbee_name": "room/device"},
            **{t: {"platform": t.value, "imei": "861234567890127"} for t in CARRIER_PLATFORMS},
        }
        device = Registration.of(
            {"device_type": model.kind, "model": model.model, **ways[model.transport]}
        )
        assert catalogue.problems(device) == [], model.key
        assert [w.code for w in catalogue.warnings(device)] == [q.code for q in model.quirks]
