"""CTWing and OneNET pushes against the real API (uvicorn), the real database and the
alert engine: stored once, retried and stored once, refused and counted, quarantined
with a reason, moving device state, opening the right alert — and never a 200 without
a commit."""

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from cli.wiring import BrokerProvisioner
from core.db import open_pool
from ingest.platforms import onenet
from simulators.carriers import Push, PushSender, now_ms
from tests.platforms.support import (
    CTWING_TOKEN,
    GAS,
    GAS_ENCRYPTED,
    ONENET_TOKEN,
    SMOKE,
    PlatformStack,
    platform_stack,
    settings_for,
)
from tests.support.api_server import serve
from tests.support.metrics import scrape

READINGS = "SELECT 1 FROM readings WHERE device_id = %s"
EVENTS = "SELECT 1 FROM events WHERE device_id = %s"
QUARANTINE = "SELECT 1 FROM quarantine WHERE reason = %s"


@pytest.fixture
def ps() -> Iterator[PlatformStack]:
    with platform_stack() as stack:
        yield stack


def refused(base_url: str, platform: str, reason: str) -> float:
    labels = (("platform", platform), ("reason", reason))
    return scrape(base_url).get(("nuanxin_platform_refused_total", labels), 0.0)


def send(ps: PlatformStack, push: Push) -> httpx.Response:
    response = ps.sender.send(push)
    assert response.status_code == 200, response.text
    return response


def alerts(ps: PlatformStack, rule: str) -> list[dict[str, Any]]:
    ps.stack.run()
    return [a for a in ps.stack.alerts() if a["rule"] == rule]


# --- CTWing ---------------------------------------------------------------------------


def test_ctwing_push_is_stored_once_even_when_retried(ps: PlatformStack) -> None:
    push = SMOKE.data_report({"Alarm_Status": 7, "Battery_Level": 90, "RSRP": -90})
    assert send(ps, push).json() == {"status": "stored"}
    send(ps, push)  # CTWing retries when our answer is late or lost
    assert ps.count(READINGS, "smoke-1") == 1
    assert ps.one("SELECT battery FROM device_state WHERE device_id = 'smoke-1'") == 90


def test_ctwing_wrong_token_is_refused_and_counted(ps: PlatformStack) -> None:
    before = refused(ps.base_url, "ctwing", "bad_token")
    wrong = PushSender(ps.base_url, CTWING_TOKEN[:-1] + "x")
    response = wrong.send(SMOKE.data_report({"Alarm_Status": 1}))
    wrong.close()
    assert response.status_code == 403
    assert refused(ps.base_url, "ctwing", "bad_token") == before + 1
    assert ps.count(READINGS, "smoke-1") == 0
    assert ps.count("SELECT 1 FROM quarantine") == 0


def test_ctwing_unknown_device_is_quarantined_with_its_body(ps: PlatformStack) -> None:
    stranger = SMOKE.__class__("ffff0000", "860000000000000")
    push = stranger.data_report({"Alarm_Status": 1})
    response = send(ps, push)
    assert response.json()["status"] == "quarantined"
    assert response.json()["quarantined"][0]["reason"] == "unknown_device"
    stored = ps.one("SELECT payload FROM quarantine WHERE reason = 'unknown_device'")
    assert bytes(stored) == push.body


def test_ctwing_online_offline_moves_device_state(ps: PlatformStack) -> None:
    send(ps, SMOKE.online(False, now_ms() - 1000))
    assert ps.one("SELECT online FROM device_state WHERE device_id = 'smoke-1'") is False
    send(ps, SMOKE.online(True))
    assert ps.one("SELECT online FROM device_state WHERE device_id = 'smoke-1'") is True


def test_lian_alarm_opens_a_smoke_alert_muting_keeps_it_and_normal_clears_it(
    ps: PlatformStack,
) -> None:
    t = now_ms()
    send(ps, SMOKE.data_report({"Alarm_Status": 1}, t))
    [alert] = alerts(ps, "smoke")
    assert alert["device_id"] == "smoke-1" and alert["severity"] == "critical"
    send(ps, SMOKE.data_report({"Alarm_Status": 2}, t + 1000))  # silenced, not gone
    [alert] = alerts(ps, "smoke")
    assert alert["condition_cleared_at"] is None
    send(ps, SMOKE.data_report({"Alarm_Status": 7}, t + 2000))
    [alert] = alerts(ps, "smoke")
    assert alert["condition_cleared_at"] is not None


def test_lian_test_alarm_is_a_self_test_not_a_fire(ps: PlatformStack) -> None:
    send(ps, SMOKE.data_report({"Alarm_Status": 14}))
    assert alerts(ps, "smoke") == []
    assert ps.count(EVENTS + " AND event = 'self_test'", "smoke-1") == 1


# --- OneNET ---------------------------------------------------------------------------


def test_onenet_url_verification(ps: PlatformStack) -> None:
    msg, nonce = "xJ7fGh2k", "abcdefgh"
    params = {"msg": msg, "nonce": nonce, "signature": onenet.sign(ONENET_TOKEN, nonce, msg)}
    response = httpx.get(f"{ps.base_url}/api/v1/platforms/onenet", params=params)
    assert response.status_code == 200 and response.text == msg
    before = refused(ps.base_url, "onenet", "bad_signature")
    params["signature"] = onenet.sign("another-token", nonce, msg)
    response = httpx.get(f"{ps.base_url}/api/v1/platforms/onenet", params=params)
    assert response.status_code == 403 and msg not in response.text
    assert refused(ps.base_url, "onenet", "bad_signature") == before + 1


@pytest.mark.parametrize("device", [GAS, GAS_ENCRYPTED], ids=["plain", "encrypted"])
def test_onenet_push_is_stored_once_even_when_retried(ps: PlatformStack, device: Any) -> None:
    push = device.data_point("gas_sensor_state", 0)
    send(ps, push)
    send(ps, push)
    assert ps.count(READINGS, "gas-1") == 1
    studio = device.studio_property({"gas_sensor_state": 0})
    send(ps, studio)
    send(ps, studio)
    assert ps.count(READINGS, "gas-1") == 2


def test_onenet_bad_signature_is_refused_and_counted(ps: PlatformStack) -> None:
    forged = GAS.data_point("gas_sensor_state", 1)
    forged = Push("onenet", forged.body.replace(b'"value":1', b'"value":0'))
    before = refused(ps.base_url, "onenet", "bad_signature")
    response = ps.sender.send(forged)
    assert response.status_code == 403
    assert refused(ps.base_url, "onenet", "bad_signature") == before + 1
    unsigned = Push("onenet", b'{"msg":{"type":1},"nonce":"abcdefgh"}')
    assert ps.sender.send(unsigned).status_code == 401
    assert ps.count(READINGS, "gas-1") == 0 and ps.count("SELECT 1 FROM quarantine") == 0


def resent(push: Push, **changes: Any) -> Push:
    """A captured push sent again with unsigned members changed: what a replay looks like."""
    return Push("onenet", json.dumps({**json.loads(push.body), **changes}).encode())


def test_onenet_studio_replay_with_another_id_stores_nothing(ps: PlatformStack) -> None:
    """The attacker: a captured, validly signed Studio alarm sent again with only `id`
    changed (the signature covers `msg` and `nonce`, not `id` or `time`), then with `time`
    moved to now as well. Neither may store a second alarm or touch the alert."""
    push = GAS.studio_property({"gas_sensor_state": 2})
    send(ps, push)
    [alert] = alerts(ps, "gas")
    stored = (ps.count(READINGS, "gas-1"), ps.count(EVENTS, "gas-1"))
    send(ps, resent(push, id=secrets.token_hex(16)))
    send(ps, resent(push, id=secrets.token_hex(16), time=now_ms() + 5000))
    assert (ps.count(READINGS, "gas-1"), ps.count(EVENTS, "gas-1")) == stored
    assert alerts(ps, "gas") == [alert]


HOUR_MS = 3600 * 1000


def test_onenet_studio_push_older_than_the_retry_schedule_is_kept_aside(
    ps: PlatformStack,
) -> None:
    """OneNET retries for ~2 h 45 min; a push whose `time` is over 3 h old is no retry."""
    retried = GAS.studio_property({"gas_sensor_state": 0}, now_ms() - 165 * 60 * 1000)
    assert send(ps, retried).json() == {"status": "stored"}
    stale = GAS.studio_property({"gas_sensor_state": 2}, now_ms() - 3 * HOUR_MS - 60_000)
    [note] = send(ps, stale).json()["quarantined"]
    assert note["reason"] == "ts_window" and "3 h" in note["detail"]
    assert ps.count(EVENTS, "gas-1") == 0 and alerts(ps, "gas") == []


def test_onenet_unknown_device_is_quarantined(ps: PlatformStack) -> None:
    stranger = GAS.__class__(999, "860000000000001", ONENET_TOKEN)
    response = send(ps, stranger.data_point("gas_sensor_state", 2))
    assert response.json()["quarantined"][0]["reason"] == "unknown_device"
    assert ps.count(QUARANTINE, "unknown_device") == 1


def test_onenet_online_offline_moves_device_state(ps: PlatformStack) -> None:
    send(ps, GAS.status(False, now_ms() - 1000))
    assert ps.one("SELECT online FROM device_state WHERE device_id = 'gas-1'") is False
    send(ps, GAS.status(True))
    assert ps.one("SELECT online FROM device_state WHERE device_id = 'gas-1'") is True


@pytest.mark.parametrize("level", [1, 2])
def test_siterwell_alarm_opens_a_gas_alert(ps: PlatformStack, level: int) -> None:
    send(ps, GAS_ENCRYPTED.data_point("gas_sensor_state", level))
    [alert] = alerts(ps, "gas")
    assert alert["device_id"] == "gas-1" and alert["severity"] == "critical"
    send(ps, GAS.studio_property({"gas_sensor_state": 0}, now_ms() + 1000))
    [alert] = alerts(ps, "gas")
    assert alert["condition_cleared_at"] is not None


# --- what must never happen -------------------------------------------------------------

GARBAGE = [
    b"",
    b"not json",
    b"\xff\xfe\x00",
    b"[1, 2, 3]",
    b'{"messageType": 5}',
    b'{"messageType": "dataReport", "deviceId": ["x"], "timestamp": "soon"}',
    b'{"messageType": "dataReport", "deviceId": "a1b2c3d4e5f6869162052818257",'
    b' "timestamp": 1, "payload": {"serviceData": {}}}',
    b"[" * 100_000,
    b'{"a": "\\u0000"}',
    b'{"x": ' + b"1" * 20_000 + b"}",
]


@pytest.mark.parametrize("path", ["ctwing/" + CTWING_TOKEN, "onenet"])
def test_garbage_gets_a_clear_answer_and_is_kept(ps: PlatformStack, path: str) -> None:
    url = f"{ps.base_url}/api/v1/platforms/{path}"
    for body in GARBAGE:
        response = httpx.post(url, content=body, timeout=10)
        assert response.status_code in (200, 401), (body[:40], response.text)
        if response.status_code == 200:  # kept in quarantine with its reason
            assert response.json()["status"] == "quarantined", body[:40]
    stored = ps.count("SELECT 1 FROM quarantine")
    assert stored >= (len(GARBAGE) if path != "onenet" else 1)
    huge = httpx.post(url, content=b"{" + b" " * (2 * 1024 * 1024) + b"}", timeout=30)
    assert huge.status_code == 413
    assert ps.count("SELECT 1 FROM readings") == 0


def test_no_200_without_a_commit() -> None:
    """With the database unreachable the push is answered 503, so the platform retries."""
    settings = settings_for("postgresql://postgres@127.0.0.1:1/nowhere")
    pool = open_pool(str(settings.database_url), name="unreachable", max_size=1, wait=False)
    try:
        app = create_app(settings, pool, BrokerProvisioner(settings))
        with serve(app) as base_url, PushSender(base_url, CTWING_TOKEN) as sender:
            response = sender.send(SMOKE.data_report({"Alarm_Status": 1}))
    finally:
        pool.close()
    assert response.status_code == 503
    assert "send it again" in response.json()["detail"]
