"""Every carrier-platform push under tests/fixtures/payloads/{ctwing,onenet} decodes into
what its file expects, through the platform's decoder and the device's catalogue model.

Each file: `_source` (where the envelope and the model's dictionary come from), `device`
(how it is registered: model, platform identity), `messages` in order, each a push body
(`body` as JSON, or `body_text` sent as is) and its `expect`: a list of decoded items
(`{"kind": …, <attribute>: <value>}`, `extra_keys` for `Reading.extra`), or
`"refused:<reason>"` for a push that is not the platform's (signature).
"""

import json
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from core import catalog
from core.types import DeviceType
from ingest.adapters import StaticDirectory
from ingest.messages import Decoded, DeviceInfo, Event, Reading, Rejected, Status
from ingest.platforms import ctwing, onenet

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
FILES = sorted([*PAYLOADS.glob("ctwing/*.json"), *PAYLOADS.glob("onenet/*.json")])
KINDS: dict[str, type] = {
    "reading": Reading,
    "event": Event,
    "status": Status,
    "rejected": Rejected,
}
STEP = timedelta(seconds=10)


def directory_for(device: dict[str, Any]) -> StaticDirectory:
    info = DeviceInfo(device["device_id"], DeviceType(device["device_type"]), device["model"])
    names = [device[key] for key in ("platform_device_id", "imei") if key in device]
    return StaticDirectory(
        [info], platform={(device["platform"], name): info.device_id for name in names}
    )


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
            assert sorted(item.extra or {}) == sorted(value), f"{where}: {item.extra}"
        else:
            assert plain(getattr(item, name)) == value, f"{where}: {name} of {item}"


def decode(path: Path, message: dict[str, Any], directory: StaticDirectory, at: datetime) -> Any:
    if "body_text" in message:
        body = message["body_text"].encode()
    else:
        body = json.dumps(message["body"], ensure_ascii=False).encode()
    if path.parent.name == "ctwing":
        return ctwing.decode(body, at, directory)
    token = json.loads(path.read_text(encoding="utf-8"))["_source"]["token"]
    return onenet.receive(body, at, directory, onenet.Keys(token, message.get("aes_key")))


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    directory = directory_for(fixture["device"])
    arrival = datetime.fromisoformat(fixture["received_at"])
    for step, message in enumerate(fixture["messages"]):
        where = f"{path.name} message {step} ({message['name']})"
        result = decode(path, message, directory, arrival + step * STEP)
        if isinstance(message["expect"], str):
            assert isinstance(result, onenet.Refused), f"{where}: {result}"
            assert f"refused:{result.reason}" == message["expect"], where
            continue
        assert isinstance(result, list), f"{where}: {result}"
        assert len(result) == len(message["expect"]), f"{where}: {result}"
        for item, expected in zip(result, message["expect"], strict=True):
            check(item, expected, where)


def test_every_carrier_model_has_its_fixture() -> None:
    for transport in (catalog.Transport.CTWING, catalog.Transport.ONENET):
        for model in catalog.models_for(transport):
            path = PAYLOADS / model.fixture
            assert path.parent.name == transport.value, model.key
            fixture = json.loads(path.read_text(encoding="utf-8"))
            assert fixture["device"]["model"] == model.key
            assert {"platform", "model"} <= fixture["_source"].keys()
