"""Every rule from the signals devices really send, to the right people with the right
text; acknowledgement by SMS reply and keypad; mainland numbers through Alibaba Cloud;
a failed SMS falling back to a call and then up the ladder."""

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from alerting import inbound, lifecycle, store, timers
from alerting.dispatch import record_delivery
from alerting.notifiers.base import DeliveryStatus
from alerting.templates import AckOutcome
from core.types import EventKind
from core.vocabulary import Outcome
from tests.support.alerting_stack import (
    DAUGHTER,
    SON,
    WORKER,
    AlertingStack,
    alerting_stack,
)


@pytest.fixture
def stack() -> Iterator[AlertingStack]:
    with alerting_stack() as stack:
        yield stack


SIGNALS = [
    pytest.param(
        "btn-1",
        "event",
        {"kind": EventKind.BUTTON_PRESS},
        "emergency_call",
        "紧急呼叫",
        id="button",
    ),
    pytest.param("smoke-1", "reading", {"smoke": True}, "smoke", "烟雾报警", id="smoke"),
    pytest.param("gas-1", "reading", {"gas": True}, "gas", "燃气报警", id="gas-flag"),
    pytest.param(
        "gas-1", "reading", {"gas": False, "gas_lel": 12.0}, "gas", "燃气报警", id="gas-lel"
    ),
    pytest.param("pir-1", "reading", {"battery": 15}, "low_battery", "电量低", id="low-battery"),
    pytest.param("smoke-1", "reading", {"tamper": True}, "tamper", "拆动", id="tamper"),
    pytest.param("gas-1", "event", {"kind": EventKind.FAULT}, "fault", "故障", id="fault"),
]


@pytest.mark.parametrize(("device", "how", "what", "rule", "wording"), SIGNALS)
def test_each_rule_fires_and_pages_the_worker_first(
    stack: AlertingStack, device: str, how: str, what: dict[str, object], rule: str, wording: str
) -> None:
    if how == "event":
        stack.event(device, what.pop("kind"), **what)  # type: ignore[arg-type]
    else:
        stack.reading(device, **what)
    stack.run()
    [alert] = stack.alerts()
    assert alert["rule"] == rule
    [sms] = stack.sms_to(WORKER)
    assert wording in sms and "王秀英" in sms
    assert stack.sms_to(DAUGHTER) == stack.sms_to(SON) == []


def test_gas_below_the_threshold_is_no_alert(stack: AlertingStack) -> None:
    stack.reading("gas-1", gas=False, gas_lel=6.0)
    stack.run()
    assert stack.alerts() == []


def test_elder_override_lowers_the_gas_threshold(stack: AlertingStack) -> None:
    with stack.pool.connection() as conn:
        conn.execute("UPDATE elders SET rule_settings = '{\"gas_lel_threshold\": 5}'")
    stack.reading("gas-1", gas=False, gas_lel=6.0)
    stack.run()
    assert [a["rule"] for a in stack.alerts()] == ["gas"]


def test_inactivity_on_a_controllable_clock(stack: AlertingStack) -> None:
    stack.reading("pir-1", motion=True)  # 08:00 local, then silence
    stack.run()
    stack.clock.advance(hours=11, minutes=59)
    stack.reading("pir-1", motion=False)  # the sensor is alive: heartbeats, no motion
    timers.check_inactivity(stack.service.engine)
    stack.run()
    assert stack.alerts() == []
    stack.clock.advance(minutes=2)
    timers.check_inactivity(stack.service.engine)
    stack.run()
    [alert] = stack.alerts()
    assert alert["rule"] == "inactivity" and alert["severity"] == "warning"
    assert "无活动" in stack.sms_to(WORKER)[0]

    stack.clock.advance(minutes=1)
    stack.reading("pir-1", motion=True)  # she is up: the alert closes by itself
    timers.check_inactivity(stack.service.engine)
    assert stack.alerts()[0]["status"] == "resolved"


def test_no_inactivity_alert_while_away_or_when_the_pir_is_offline(stack: AlertingStack) -> None:
    stack.reading("pir-1", motion=True)
    with stack.pool.connection() as conn:
        conn.execute("UPDATE elders SET presence = 'away'")
    stack.clock.advance(hours=13)
    timers.check_inactivity(stack.service.engine)
    assert stack.alerts() == []
    with stack.pool.connection() as conn:
        conn.execute("UPDATE elders SET presence = 'home'")
    timers.check_inactivity(stack.service.engine)  # the PIR has been silent 13 h: offline
    assert stack.alerts() == []
    timers.check_offline(stack.service.engine)
    assert {a["rule"] for a in stack.alerts()} == {"device_offline"}


def test_offline_device_alert_and_recovery(stack: AlertingStack) -> None:
    for device in ("btn-1", "smoke-1", "gas-1", "pir-1"):
        stack.reading(device, battery=90)
    stack.clock.advance(minutes=29)  # heartbeat 10 min: offline after 30
    stack.reading("btn-1", battery=90)
    stack.reading("smoke-1", battery=90)
    stack.reading("gas-1", battery=90)
    stack.clock.advance(minutes=2)
    timers.check_offline(stack.service.engine)
    stack.run()
    [alert] = stack.alerts()
    assert (alert["rule"], alert["device_id"]) == ("device_offline", "pir-1")
    assert "设备离线" in stack.sms_to(WORKER)[0]
    stack.clock.advance(minutes=1)
    stack.reading("pir-1", battery=90)  # back: the alert closes by itself
    timers.check_offline(stack.service.engine)
    assert stack.alerts()[0]["status"] == "resolved"


def sms_reply(stack: AlertingStack, sender: str, body: str) -> inbound.Answer:
    """A reply from `sender`, handled in one transaction as the webhook does."""
    sms = inbound.Inbound("twilio", f"SM{next(SIDS):032x}", sender)
    with stack.pool.connection() as conn:
        return inbound.sms_reply(conn, sms, body, stack.clock())


SIDS = itertools.count(1)


@pytest.mark.parametrize("reply", ["1", "收到", "OK", "ｏｋ", " 好的 ", "1#{id}", "收到 ＃{id}"])
def test_sms_reply_acknowledges(stack: AlertingStack, reply: str) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    [alert] = stack.alerts()
    answer = sms_reply(stack, WORKER, reply.format(id=alert["id"]))
    assert answer.outcome is AckOutcome.ACKNOWLEDGED and answer.alert_id == alert["id"]
    assert answer.changed is not None and answer.changed.status == "acknowledged"
    assert stack.alerts()[0]["acknowledged_by"].startswith("contact:刘网格员")


def test_other_replies_do_not_acknowledge(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    for body in ("谁?", "123", "1#", "#5", "1#abc", "2"):
        assert sms_reply(stack, WORKER, body).outcome is AckOutcome.NOT_AN_ACK, body
    assert sms_reply(stack, "+10000000000", "1").outcome is AckOutcome.NOTHING_OPEN
    assert stack.alerts()[0]["status"] == "notified"


def test_keypad_one_in_the_call_acknowledges(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    stack.clock.advance(seconds=181)  # family level: SMS and a call
    stack.run()
    with stack.pool.connection() as conn:
        row = store.fetch_one(
            conn,
            "SELECT * FROM notifications WHERE channel = 'voice' AND to_address = %s",
            (DAUGHTER,),
        )
        assert row is not None
        call = inbound.Inbound("twilio", row["provider_id"], DAUGHTER)
        answer = inbound.keypad(conn, call, row, stack.clock())
    assert answer.changed is not None and answer.changed.status == "acknowledged"
    stack.clock.advance(seconds=301)
    stack.run()
    assert stack.calls_to("+14155550199") == 0  # the supervisor is not called


def sms_id(stack: AlertingStack, provider_id: str) -> int:
    """Our notification id for a provider's message, as the callback URL carries it."""
    with stack.pool.connection() as conn:
        row = conn.execute(
            "SELECT id FROM notifications WHERE provider_id = %s", (provider_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_failed_sms_falls_back_to_voice_then_up_the_ladder(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    [sms] = [m for m in stack.twilio.messages() if m.form["To"] == WORKER]
    with stack.pool.connection() as conn:  # the carrier reports the SMS failed
        record_delivery(
            conn,
            sms_id(stack, str(sms.sid)),
            str(sms.sid),
            DeliveryStatus.FAILED,
            "30003",
            stack.clock(),
            stack.service.engine.channels,
        )
    stack.run()
    assert stack.calls_to(WORKER) == 1
    [call] = stack.twilio.calls()
    with stack.pool.connection() as conn:  # nobody answers the call either
        record_delivery(
            conn,
            sms_id(stack, str(call.sid)),
            str(call.sid),
            DeliveryStatus.FAILED,
            "no-answer",
            stack.clock(),
            stack.service.engine.channels,
        )
    stack.run()  # nobody left on the first level: the family is paged now, not in 3 min
    assert len(stack.sms_to(DAUGHTER)) == 1
    with stack.pool.connection() as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM alert_timeline ORDER BY id")]
    assert kinds.count("failed") == 2 and kinds.count("fallback") == 2


def test_mainland_numbers_go_through_alibaba_cloud_abroad_through_twilio() -> None:
    with alerting_stack(aliyun=True) as stack:
        stack.event("btn-1", EventKind.BUTTON_PRESS)
        stack.run()
        stack.clock.advance(seconds=181)
        stack.run()
        assert stack.aliyun is not None
        sent = stack.aliyun.sent()
        numbers = sorted(r.phone_numbers for r in sent)
        assert numbers == ["13712345678", "13912345678"]  # +86 stripped, as Aliyun expects
        assert all(r.signature_valid for r in sent)
        assert {r.params["TemplateCode"] for r in sent} == {"SMS_100001"}
        params = json.loads(sent[0].params["TemplateParam"])
        assert params["elder"] == "王秀英" and params["event"] == "紧急呼叫"
        assert stack.sms_to(DAUGHTER) == []  # not through Twilio
        assert len(stack.sms_to(WORKER)) == 1  # the +1 worker: Twilio
        assert stack.calls_to(DAUGHTER) == 1  # calls still go through Twilio


def test_critical_alert_closes_only_by_a_person(stack: AlertingStack) -> None:
    stack.reading("smoke-1", smoke=True)
    stack.clock.advance(seconds=30)
    stack.reading("smoke-1", smoke=False)
    stack.run()
    [alert] = stack.alerts()
    assert alert["status"] == "notified" and alert["condition_cleared_at"] is not None
    with stack.pool.connection() as conn:
        lifecycle.resolve(
            conn, alert["id"], "user:liu", Outcome.FALSE_ALARM, "厨房油烟", stack.clock()
        )
    assert stack.alerts()[0]["status"] == "resolved"
    assert stack.alerts()[0]["outcome"] == "false_alarm"
    assert timedelta(0) <= stack.clock() - alert["opened_at"]
