"""An acknowledgement answers exactly one thing, once (safety invariant 2), played end to
end: the engine pages through the local Twilio server, replies and key presses come back
signed by `RequestValidator` to a real uvicorn, and every check reads real PostgreSQL.

The family contacts of 王秀英 and 李建国 share one phone number, as a daughter who looks
after two neighbours would."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from psycopg_pool import ConnectionPool

from alerting import lifecycle
from alerting.engine import utc_now
from alerting.notifiers.callbacks import CallbackPath, callback_url
from core.vocabulary import Outcome
from device_registry import contacts
from device_registry.access import system_actor
from device_registry.provisioning import BrokerAdmin
from device_registry.schemas import ContactCreate
from simulators.twilio_server import Callback, gather_action
from tests.support.api_alerts import add_staff, alert_row, open_alert
from tests.support.twilio_stack import TwilioStack, twilio_stack
from tests.support.world import PASSWORD, World

INBOUND = CallbackPath.TWILIO_SMS_INBOUND
FAMILY_PHONE = "+8613800138000"  # the world's family contact of every elder, as stored
SUPERVISOR_PHONE = "+14155550199"


@pytest.fixture(scope="module")
def stack(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin, world: World
) -> Iterator[TwilioStack]:
    add_staff(pool, world)
    with pool.connection() as conn:
        contacts.create_contact(
            conn,
            system_actor("test-setup"),
            ContactCreate(
                kind="supervisor",
                name="赵主任",
                phone=SUPERVISOR_PHONE,
                district_id=world.districts["east"],
            ),
        )
    with twilio_stack(database_url, pool, provisioner) as stack:
        yield stack


OpenAlert = Callable[[str], int]


@pytest.fixture
def opened(stack: TwilioStack, pool: ConnectionPool, world: World) -> Iterator[OpenAlert]:
    """Opens an elder's emergency call and sends its first SMS; closes them all after."""
    ids: list[int] = []

    def open_one(elder_key: str) -> int:
        alert_id = open_alert(pool, world, elder_key, channels=stack.channels)
        stack.service.run_until_idle()
        ids.append(alert_id)
        return alert_id

    yield open_one
    with pool.connection() as conn:
        for alert_id in ids:
            if alert_row(pool, alert_id)["status"] != "resolved":
                lifecycle.resolve(conn, alert_id, "test", Outcome.OTHER, "", utc_now())


def family_reply(stack: TwilioStack, body: str) -> Callback:
    return stack.twilio.post_inbound_sms(callback_url(stack.url, INBOUND), FAMILY_PHONE, body)


def replay(callback: Callback) -> httpx.Response:
    """The very request again: same URL, parameters and signature."""
    return httpx.post(
        callback.url, data=callback.params, headers={"X-Twilio-Signature": callback.signature}
    )


def test_a_replayed_reply_acknowledges_nothing_new_and_the_next_level_is_paged(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    first = opened("east_a")
    stack.escalate(first)  # the family level: SMS and a call to the daughter
    reply = family_reply(stack, "收到")
    assert reply.status == 200
    assert alert_row(pool, first)["status"] == "acknowledged"

    second = opened("east_b")
    stack.escalate(second)
    assert [n["to_address"] for n in stack.notifications(second, "sms")][-1] == FAMILY_PHONE

    again = replay(reply)
    assert again.status_code == 200
    assert "已收到" in again.text
    assert alert_row(pool, second)["status"] == "notified"

    stack.escalate(second)  # nobody acknowledged it: the supervisor is called
    calls = stack.notifications(second, "voice")
    assert [(c["level"], c["to_address"]) for c in calls if c["level"] == 2] == [
        (2, SUPERVISOR_PHONE)
    ]
    assert alert_row(pool, first)["acknowledged_by"].startswith("contact:王秀英之子")


def test_the_same_reply_sent_at_once_acknowledges_once(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    alert = opened("east_a")
    stack.escalate(alert)
    callback = family_reply(stack, "chatter first")  # a request to copy: its id is new
    params = {**callback.params, "MessageSid": "SM" + "7" * 32, "Body": "收到"}
    copies = [lambda: stack.post(INBOUND.value, params) for _ in range(4)]
    with ThreadPoolExecutor(len(copies)) as threads:
        answers = list(threads.map(lambda post: post(), copies))
    assert [a.status_code for a in answers] == [200] * 4
    assert sum("已确认" in a.text for a in answers) == 1
    assert sum("已收到" in a.text for a in answers) == 3
    assert [e["kind"] for e in timeline(pool, alert)].count("acknowledged") == 1


def test_two_open_alerts_and_no_code_acknowledge_none_until_one_is_named(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    first, second = opened("east_a"), opened("east_b")
    stack.escalate(first)
    stack.escalate(second)
    texts = [n["body"] for n in stack.notifications(second, "sms") if n["level"] == 1]
    assert texts and texts[0].endswith(f"回复1#{second}确认")  # each SMS names its code

    answer = stack.reply(FAMILY_PHONE, "收到")
    assert f"#{first}王秀英紧急呼叫" in answer.text and f"#{second}李建国紧急呼叫" in answer.text
    assert "请回复1#编号确认" in answer.text
    assert alert_row(pool, first)["status"] == alert_row(pool, second)["status"] == "notified"

    picked = stack.reply(FAMILY_PHONE, f"1 #{second}")
    assert f"已确认#{second}" in picked.text and "李建国" in picked.text
    assert alert_row(pool, second)["status"] == "acknowledged"
    assert alert_row(pool, first)["status"] == "notified"

    # one open alert left: a plain reply now names it unambiguously
    assert f"已确认#{first}" in stack.reply(FAMILY_PHONE, "1").text
    assert alert_row(pool, first)["status"] == "acknowledged"


def test_a_key_press_acknowledges_only_its_own_calls_alert(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    first, second = opened("east_a"), opened("east_b")
    stack.escalate(first)
    stack.escalate(second)
    [call_a] = [stack.sent(n["provider_id"]) for n in stack.notifications(first, "voice")]
    [call_b] = [stack.sent(n["provider_id"]) for n in stack.notifications(second, "voice")]

    # call A's key, posted to call B's action (a mis-routed or crafted, yet signed, request)
    crossed = stack.twilio.post_gather(call_a, "1", url=gather_action(call_b.form["Twiml"]))
    assert crossed.status == 200
    assert alert_row(pool, second)["status"] == "notified"
    assert alert_row(pool, first)["status"] == "notified"

    pressed = stack.twilio.post_gather(call_a, "1")
    assert pressed.status == 200
    assert alert_row(pool, first)["status"] == "acknowledged"
    assert alert_row(pool, second)["status"] == "notified"
    assert "已收到" in replay(pressed).text  # the same press again changes nothing
    assert [e["kind"] for e in timeline(pool, first)].count("acknowledged") == 1


def test_a_number_never_notified_about_an_alert_cannot_acknowledge_it(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    first, second = opened("east_a"), opened("east_b")
    stack.escalate(second)  # the family number hears of the second alert only

    named = stack.reply(FAMILY_PHONE, f"1#{first}")
    assert f"警报#{first}未通知过您的号码，未作确认" in named.text
    assert stack.reply(SUPERVISOR_PHONE, f"1#{second}").text.count("未通知过您的号码") == 1
    assert "<Message>" not in stack.reply("+14155550123", f"1#{first}").text  # a stranger
    no_such = stack.reply(FAMILY_PHONE, "1#" + "9" * 18)  # the largest code the grammar takes
    assert no_such.status_code == 200 and "未通知过您的号码" in no_such.text
    assert alert_row(pool, first)["status"] == alert_row(pool, second)["status"] == "notified"


def test_replies_to_acknowledged_or_closed_alerts_change_nothing_and_say_so(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    alert = opened("east_a")
    stack.escalate(alert)
    assert f"已确认#{alert}" in stack.reply(FAMILY_PHONE, f"1#{alert}").text
    acknowledged = alert_row(pool, alert)

    assert f"警报#{alert}已有人确认" in stack.reply(FAMILY_PHONE, f"1#{alert}").text
    assert "目前没有需要您确认的警报" in stack.reply(FAMILY_PHONE, "1").text
    with pool.connection() as conn:
        lifecycle.resolve(conn, alert, "test", Outcome.HANDLED, "", utc_now())
    assert f"警报#{alert}已处理完毕" in stack.reply(FAMILY_PHONE, f"1#{alert}").text
    after = alert_row(pool, alert)
    assert after["acknowledged_at"] == acknowledged["acknowledged_at"]
    assert after["acknowledged_by"] == acknowledged["acknowledged_by"]
    assert [e["kind"] for e in timeline(pool, alert)].count("acknowledged") == 1


def test_the_timeline_names_the_person_the_channel_and_the_provider_message_id(
    stack: TwilioStack, opened: OpenAlert, world: World
) -> None:
    alert = opened("east_a")
    stack.escalate(alert)
    reply = family_reply(stack, "收到")

    token = httpx.post(
        stack.url + "/api/v1/auth/token",
        data={"username": world.usernames["admin"], "password": PASSWORD},
    ).json()["access_token"]
    detail = httpx.get(
        f"{stack.url}/api/v1/alerts/{alert}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    [entry] = [e for e in detail["timeline"] if e["kind"] == "acknowledged"]
    assert entry["actor"] == "contact:王秀英之子 (+86138****8000)"
    assert entry["detail"]["via"] == "sms reply" and entry["detail"]["channel"] == "sms"
    assert entry["detail"]["provider"] == "twilio"
    assert entry["detail"]["provider_message_id"] == reply.params["MessageSid"]


def timeline(pool: ConnectionPool, alert_id: int) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT kind, actor, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
            (alert_id,),
        ).fetchall()
    return [{"kind": r[0], "actor": r[1], "detail": r[2]} for r in rows]


def test_a_reply_with_a_parameter_boundary_moved_is_refused(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    """Twilio signs name+value pairs glued together in name order: moving the boundary
    between MessageSid and the parameter after it keeps the signature and makes the sid look
    new. Each such shift of a captured reply must be refused, never count as a new reply."""
    first = opened("east_a")
    stack.escalate(first)
    reply = family_reply(stack, "收到")
    assert alert_row(pool, first)["status"] == "acknowledged"

    second = opened("east_b")
    stack.escalate(second)
    sid = reply.params["MessageSid"]
    later = sorted(key for key in reply.params if key > "MessageSid")
    assert later, "the captured reply has parameters after MessageSid"
    for n in range(1, len(later) + 1):  # absorb the next n parameters into the sid
        absorbed = later[:n]
        shifted = {k: v for k, v in reply.params.items() if k not in absorbed}
        shifted["MessageSid"] = sid + "".join(k + reply.params[k] for k in absorbed)
        answer = httpx.post(
            reply.url, data=shifted, headers={"X-Twilio-Signature": reply.signature}
        )
        assert answer.status_code == 400, (absorbed, answer.text)
        assert "MessageSid" in answer.text
    assert alert_row(pool, second)["status"] == "notified"


def test_a_key_press_with_a_parameter_boundary_moved_is_refused(
    stack: TwilioStack, opened: OpenAlert, pool: ConnectionPool
) -> None:
    alert = opened("east_a")
    stack.escalate(alert)
    call = next(r for r in stack.twilio.requests if r.kind == "call")
    press = stack.twilio.post_gather(call, "1")
    after = min(key for key in press.params if key > "CallSid")  # the next name Twilio glued
    shifted = {k: v for k, v in press.params.items() if k != after}
    shifted["CallSid"] = press.params["CallSid"] + after + press.params[after]
    answer = httpx.post(press.url, data=shifted, headers={"X-Twilio-Signature": press.signature})
    assert answer.status_code == 400 and "CallSid" in answer.text
    assert alert_row(pool, alert)["status"] == "notified"
