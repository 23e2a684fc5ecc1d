"""The IoTDA envelope decoder: the model's fixture, then each way a message can be wrong."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.types import DeviceType
from ingest.adapters import StaticDirectory
from ingest.messages import DeviceInfo, Event, QuarantineReason, Reading, Rejected, Status
from ingest.platforms import iotda
from tests.ingest.support import compact
from tests.ingest.test_fixtures import check

PAYLOADS = Path(__file__).parents[2] / "fixtures" / "payloads" / "iotda"
FILES = sorted(PAYLOADS.glob("*.json"))
STEP = timedelta(seconds=10)

NOW = datetime(2026, 11, 28, 0, 20, tzinfo=UTC)
SMOKE = DeviceInfo("smoke-1", DeviceType.SMOKE, "wanlin-nb306")
IOTDA_ID, IMEI = "product1_861234567890123", "861234567890123"
DIRECTORY = StaticDirectory(
    [SMOKE], platform={("iotda", IOTDA_ID): "smoke-1", ("iotda", IMEI): "smoke-1"}
)


def directory_for(device: dict[str, Any]) -> StaticDirectory:
    info = DeviceInfo(device["device_id"], DeviceType(device["device_type"]), device["model"])
    names = [device[key] for key in ("platform_device_id", "imei") if key in device]
    return StaticDirectory([info], platform={("iotda", n): info.device_id for n in names})


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    assert {"vendor", "model", "properties", "envelope"} <= fixture["_source"].keys()
    directory = directory_for(fixture["device"])
    arrival = datetime.fromisoformat(fixture["received_at"])
    for step, message in enumerate(fixture["messages"]):
        decoded = iotda.decode_message(compact(message["body"]), arrival, directory)
        where = f"{path.name} message {step} ({message['name']})"
        assert len(decoded) == len(message["expect"]), f"{where}: {decoded}"
        for item, expected in zip(decoded, message["expect"], strict=True):
            check(item, expected, where)


def test_every_iotda_model_has_its_fixture() -> None:
    from core import catalog

    for model in catalog.models_for(catalog.Transport.IOTDA):
        assert (PAYLOADS.parent / model.fixture).is_file(), model.key


def envelope(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "resource": "device.property",
        "event": "report",
        "event_time": "20261128T001958Z",
        "request_id": "r-1",
        "notify_data": {
            "header": {"device_id": IOTDA_ID, "node_id": IMEI},
            "body": {"services": [{"service_id": "Report", "properties": {"devState": 1}}]},
        },
    }
    return message | overrides


def decode(message: dict[str, Any] | bytes) -> list[Any]:
    body = message if isinstance(message, bytes) else compact(message)
    return iotda.decode_message(body, NOW, DIRECTORY)


def rejected(message: dict[str, Any] | bytes) -> Rejected:
    decoded = decode(message)
    assert len(decoded) == 1 and isinstance(decoded[0], Rejected), decoded
    assert decoded[0].topic == iotda.TOPIC
    return decoded[0]


@pytest.mark.parametrize(
    ("body", "reason", "words"),
    [
        (b"\x00\xff garbage", QuarantineReason.BAD_JSON, "not UTF-8"),
        (b"{not json", QuarantineReason.BAD_JSON, "not JSON"),
        (b"[1, 2]", QuarantineReason.BAD_JSON, "not a JSON object"),
        (b"{}", QuarantineReason.SCHEMA, "resource must be"),
        (b"x" * 20000, QuarantineReason.TOO_LARGE, "limit"),
    ],
)
def test_bytes_that_are_no_envelope_are_quarantined(
    body: bytes, reason: QuarantineReason, words: str
) -> None:
    refused = rejected(body)
    assert refused.reason is reason and words in refused.detail
    assert refused.payload == body[: 16 * 1024]


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"resource": "device.command.status"}, QuarantineReason.SCHEMA, "forwarding rule"),
        ({"notify_data": {"body": {}}}, QuarantineReason.SCHEMA, "header must be"),
        ({"notify_data": {"header": {"app_id": "a"}}}, QuarantineReason.SCHEMA, "neither"),
        ({"event_time": "2026-11-28 00:19"}, QuarantineReason.SCHEMA, "yyyyMMddTHHmmssZ"),
        ({"event_time": "20261328T001958Z"}, QuarantineReason.SCHEMA, "not a real date"),
        ({"event_time": None}, QuarantineReason.SCHEMA, "event_time is missing"),
        ({"event_time": "20261201T001958Z"}, QuarantineReason.TS_WINDOW, "24 h after"),
        ({"event_time": "20260101T001958Z"}, QuarantineReason.TS_WINDOW, "30 days before"),
    ],
)
def test_bad_envelopes_are_quarantined_with_the_reason(
    changes: dict[str, Any], reason: QuarantineReason, words: str
) -> None:
    refused = rejected(envelope(**changes))
    assert refused.reason is reason, refused.detail
    assert words in refused.detail


@pytest.mark.parametrize(
    "body", [{}, {"services": []}, {"services": [{"service_id": "Report"}]}, {"services": [1]}]
)
def test_property_reports_without_properties_are_quarantined(body: dict[str, Any]) -> None:
    message = envelope(notify_data={"header": {"device_id": IOTDA_ID}, "body": body})
    refused = rejected(message)
    assert refused.reason is QuarantineReason.SCHEMA
    assert refused.device_id == "smoke-1"  # the quarantine row names the device it knows


def test_unknown_device_names_both_identities() -> None:
    message = envelope(notify_data={"header": {"device_id": "p_1", "node_id": "86999"}})
    refused = rejected(message)
    assert refused.reason is QuarantineReason.UNKNOWN_DEVICE
    assert "p_1 or 86999" in refused.detail


def test_request_id_is_the_message_id_and_a_redelivery_decodes_the_same() -> None:
    first, again = decode(envelope()), decode(envelope())
    assert first == again
    reading = first[0]
    assert isinstance(reading, Reading) and reading.msg_id == "iotda:r-1"


def test_without_request_id_the_envelope_hash_is_the_message_id() -> None:
    message = envelope()
    del message["request_id"]
    first, again = decode(message), decode(dict(message))
    assert first[0].msg_id == again[0].msg_id and first[0].msg_id.startswith("iotda:")
    other = decode(message | {"event_time": "20261128T001959Z"})
    assert other[0].msg_id != first[0].msg_id


def test_each_service_of_one_report_is_its_own_reading() -> None:
    services = [
        {"service_id": "Report", "properties": {"devState": 0}},
        {"service_id": "Battery", "properties": {"electricQuantity": 80}},
    ]
    message = envelope(
        notify_data={"header": {"device_id": IOTDA_ID}, "body": {"services": services}}
    )
    readings = [item for item in decode(message) if isinstance(item, Reading)]
    assert [r.msg_id for r in readings] == ["iotda:r-1:0:Report", "iotda:r-1:1:Battery"]
    assert readings[1].battery == 80


def test_the_service_time_wins_over_the_envelope_time() -> None:
    services = [
        {"service_id": "Report", "properties": {}, "event_time": "2026-11-28T00:19:01.250Z"}
    ]
    message = envelope(
        notify_data={"header": {"device_id": IOTDA_ID}, "body": {"services": services}}
    )
    reading = decode(message)[0]
    assert reading.ts == datetime(2026, 11, 28, 0, 19, 1, 250000, tzinfo=UTC)


def test_a_device_message_with_a_json_object_is_read_like_properties() -> None:
    content = json.dumps({"devState": 1})
    message = envelope(
        resource="device.message",
        notify_data={"header": {"device_id": IOTDA_ID}, "body": {"content": content}},
    )
    decoded = decode(message)
    assert isinstance(decoded[1], Event) and decoded[1].event.value == "alarm"


def test_a_device_message_in_plain_text_is_kept_as_a_heartbeat() -> None:
    message = envelope(
        resource="device.message",
        notify_data={"header": {"device_id": IOTDA_ID}, "body": {"content": "hello"}},
    )
    (reading,) = decode(message)
    assert isinstance(reading, Reading) and reading.extra == {"content": "hello"}


@pytest.mark.parametrize(("status", "online"), list(iotda.ONLINE_BY_STATUS.items()))
def test_every_status_moves_online(status: str, online: bool) -> None:
    message = envelope(
        resource="device.status",
        notify_data={"header": {"device_id": IOTDA_ID}, "body": {"status": status}},
    )
    (item,) = decode(message)
    assert isinstance(item, Status) and item.online is online
    assert item.ts == datetime(2026, 11, 28, 0, 19, 58, tzinfo=UTC)


@pytest.mark.parametrize("status", ["online", "SLEEPING", None, 1])
def test_a_status_no_table_knows_is_quarantined(status: Any) -> None:
    message = envelope(
        resource="device.status",
        notify_data={"header": {"device_id": IOTDA_ID}, "body": {"status": status}},
    )
    refused = rejected(message)
    assert refused.reason is QuarantineReason.SCHEMA and "ONLINE" in refused.detail
