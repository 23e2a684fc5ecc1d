"""The catalogue is complete: every kind has its rules, simulator profile and labels in
the app; every Zigbee model has a simulator model that agrees with it; a quirk says what
to do about it. (Each model's fixture: tests/ingest/test_fixtures.py.)"""

import re
from pathlib import Path

import pytest

from alerting.rules import ANY_DEVICE, RULES
from core import catalog
from core.types import DeviceType
from simulators import zigbee2mqtt as z2m_simulator
from simulators.devices import PROFILES, Power

STRINGS = Path(__file__).parents[2] / "api" / "web" / "js" / "strings"


@pytest.mark.parametrize("kind", list(catalog.KINDS), ids=str)
def test_every_kind_has_rules_of_its_own(kind: DeviceType) -> None:
    """Not only the rules every device has (offline, battery): one that names the kind."""
    own = [rule.name for rule in RULES if kind in rule.devices and rule.devices != ANY_DEVICE]
    assert own, f"no rule in alerting/rules.py for {kind}"


@pytest.mark.parametrize("kind", list(catalog.KINDS), ids=str)
def test_every_kind_has_a_simulator_profile(kind: DeviceType) -> None:
    assert kind in PROFILES


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("kind", list(catalog.KINDS), ids=str)
def test_every_kind_has_a_label_in_the_app(kind: DeviceType, locale: str) -> None:
    strings = (STRINGS / f"{locale}.js").read_text(encoding="utf-8")
    assert re.search(rf'"device\.{kind.value}":\s*"[^"]+"', strings), (locale, kind)


def test_every_kind_is_a_device_type() -> None:
    assert set(catalog.KINDS) == set(DeviceType)
    assert all(key is kind.device_type for key, kind in catalog.KINDS.items())


@pytest.mark.parametrize(
    "model", catalog.models_for(catalog.Transport.ZIGBEE2MQTT), ids=lambda m: m.key
)
def test_every_zigbee_model_is_simulated_alike(model: catalog.Model) -> None:
    simulated = z2m_simulator.MODELS.get(model.model)
    assert simulated is not None, f"simulators/zigbee2mqtt.py has no {model.model}"
    assert (simulated.vendor, simulated.device_type) == (model.vendor, model.kind)
    assert (simulated.power is Power.MAINS) == model.mains_powered, model.key
    published = set(simulated.state) | set(simulated.press or {})
    # What the row reads specially must be what the simulated converter publishes.
    assert set(model.fields) & published or not model.fields, model.key
    assert set(model.not_measuring) <= published, model.key


def test_every_simulated_zigbee_model_is_in_the_catalogue() -> None:
    rows = {m.model for m in catalog.models_for(catalog.Transport.ZIGBEE2MQTT)}
    assert set(z2m_simulator.MODELS) == rows


def test_every_quirk_says_what_to_do() -> None:
    for model in catalog.MODELS:
        assert len({q.code for q in model.quirks}) == len(model.quirks), model.key
        for quirk in model.quirks:
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", quirk.code), quirk.code
            assert quirk.summary and quirk.mitigation and quirk.references, quirk.code


HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_quirk_says_what_to_do_in_chinese_too() -> None:
    """Installers read the app in Chinese: each quirk's summary and mitigation are
    written in Chinese, not the English sentence again (file names and codes may stay)."""
    for model in catalog.MODELS:
        for quirk in model.quirks:
            for english, chinese in (
                (quirk.summary, quirk.summary_zh),
                (quirk.mitigation, quirk.mitigation_zh),
            ):
                assert len(HAN.findall(chinese)) >= 10, (quirk.code, chinese)
                assert english not in chinese and chinese != english, quirk.code


def test_the_hs1cg_e_quirk_names_the_converter_we_ship() -> None:
    model = catalog.lookup("GASSensor-EM")
    assert model is not None and model.key == "heiman-hs1cg-e"
    [quirk] = model.quirks
    assert quirk.code == "z2m-external-converter-gas-bit1"
    converter = "deploy/zigbee2mqtt/heiman-hs1cg-e.js"
    assert converter in quirk.mitigation and converter in quirk.mitigation_zh
    assert (Path(__file__).parents[2] / converter).is_file()
    assert catalog.open_quirks(model, []) == (quirk,)
    assert catalog.open_quirks(model, [quirk.code]) == ()


# (model, key, code) of every carrier code that lowers a smoke or gas flag: each is the
# detector's own statement that the danger is gone (core/catalog/carriers.py says why;
# a heartbeat, "online" or "muted" code is not one).
CLEARING_CODES = {
    ("lian-nb-smoke", "Alarm_Status", 7),  # its alarm state: normal
    ("siterwell-nb-gas", "gas_sensor_state", 0),  # its alarm state: normal
    ("wanlin-nb306", "devState", "f"),  # alarm restored (报警恢复); 0 is a heartbeat
    ("wanlin-nb306", "devState", "F"),
}


def test_only_a_detectors_own_all_clear_clears_a_condition() -> None:
    clearing = {
        (model.key, key, code)
        for model in catalog.MODELS
        for key, table in model.codes.items()
        for code, meaning in table.items()
        if any(meaning.values.get(flag) is False for flag in ("smoke", "gas"))
    }
    assert clearing == CLEARING_CODES
