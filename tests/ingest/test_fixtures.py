"""Every stored payload under tests/fixtures/payloads decodes into what its file expects."""

import json
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from core import catalog
from core.types import DeviceType
from ingest.adapters import Router, StaticDirectory
from ingest.messages import Decoded, DeviceInfo, Event, Reading, Rejected, Status
from tests.ingest.support import compact

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
# MQTT transports only: carrier-platform fixtures run through their own decoders
# (tests/ingest/platforms/).
MQTT_FORMATS = ("native", "zigbee2mqtt")
FILES = sorted(path for name in MQTT_FORMATS for path in PAYLOADS.glob(f"{name}/*.json"))
KINDS: dict[str, type] = {
    "reading": Reading,
    "event": Event,
    "status": Status,
    "rejected": Rejected,
}
DEFAULT_ARRIVAL = "2026-11-28T00:20:00+00:00"
STEP = timedelta(seconds=10)  # between messages, so redelivery detection stays out of it


BY_FIXTURE = {model.fixture: model for model in catalog.MODELS}


def router_for(path: Path, device: dict[str, Any]) -> Router:
    """A directory that knows the device's model, as ingest's does: the catalogue row
    whose fixture this file is."""
    model = BY_FIXTURE.get(path.relative_to(PAYLOADS).as_posix())
    info = DeviceInfo(
        device["device_id"], DeviceType(device["device_type"]), model.key if model else None
    )
    names = [device[key] for key in ("friendly_name", "ieee") if key in device]
    return Router(StaticDirectory([info], dict.fromkeys(names, info.device_id)))


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value.value if isinstance(value, Enum) else value


def check(item: Decoded, expected: dict[str, Any], where: str) -> None:
    assert isinstance(item, KINDS[expected["kind"]]), f"{where}: {item}"
    for name, value in expected.items():
        if name == "kind":
            continue
        if name == "extra_keys":
            assert isinstance(item, Reading)
            assert sorted(item.extra or {}) == sorted(value), where
        else:
            assert plain(getattr(item, name)) == value, f"{where}: {name}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    router = router_for(path, fixture["device"])
    arrival = datetime.fromisoformat(fixture.get("received_at", DEFAULT_ARRIVAL))
    for step, message in enumerate(fixture["messages"]):
        if "payload_text" in message:
            payload = message["payload_text"].encode()
        else:
            payload = compact(message["payload"])
        received_at = arrival + step * STEP if "received_at" not in fixture else arrival
        decoded = router.decode(message["topic"], payload, received_at)
        where = f"{path.name} message {step} ({message['name']})"
        assert len(decoded) == len(message["expect"]), f"{where}: {decoded}"
        for item, expected in zip(decoded, message["expect"], strict=True):
            check(item, expected, where)
            assert item.received_at == received_at


def test_every_zigbee_fixture_names_its_source() -> None:
    for path in PAYLOADS.glob("zigbee2mqtt/*.json"):
        source = json.loads(path.read_text(encoding="utf-8"))["_source"]
        assert {"vendor", "model", "definition", "fromZigbee", "exposes"} <= source.keys(), path
    assert len(FILES) >= 15
    assert datetime.fromisoformat(DEFAULT_ARRIVAL).tzinfo == UTC


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda model: model.key)
def test_every_catalogue_model_has_its_fixture(model: catalog.Model) -> None:
    """A model we claim works replays its real payloads, as a device of its own kind."""
    path = PAYLOADS / model.fixture
    assert path.is_file(), f"{model.key}: no fixture {model.fixture}"
    fixture = json.loads(path.read_text(encoding="utf-8"))
    assert fixture["device"]["device_type"] == model.kind.value, model.key
    if model.transport is catalog.Transport.ZIGBEE2MQTT:
        assert model.model in fixture["_source"]["model"], model.key


def test_every_zigbee_fixture_is_a_catalogue_model() -> None:
    rows = {m.fixture for m in catalog.models_for(catalog.Transport.ZIGBEE2MQTT)}
    files = {p.relative_to(PAYLOADS).as_posix() for p in PAYLOADS.glob("zigbee2mqtt/*.json")}
    assert files == rows
