"""Nobody outside an alert's district or family is paged, whatever the database says.

The API refuses a policy target or a contact's account of another district; these tests
play the data written before it did: rows put straight into the database, then an alarm
through the real engine, the local Twilio server and the push channel.
"""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from core.types import EventKind
from tests.support.alerting_stack import DAUGHTER, SON, AlertingStack, alerting_stack

OUTSIDER = "+14155550177"  # the duty supervisor of 康巴什区


@pytest.fixture
def stack() -> Iterator[AlertingStack]:
    with alerting_stack() as stack:
        yield stack


def _other_district(stack: AlertingStack) -> dict[str, int]:
    """康巴什区 with its supervisor and a community worker's account; the daughter's
    contact linked to that account, and the elder's policy naming that supervisor."""
    with stack.pool.connection() as conn:

        def one(sql: str, *params: Any) -> int:
            row = conn.execute(sql + " RETURNING id", params).fetchone()
            assert row is not None
            return int(row[0])

        district = one("INSERT INTO districts (name) VALUES ('康巴什区')")
        outsider = one(
            "INSERT INTO contacts (kind, name, phone, district_id)"
            " VALUES ('supervisor', '康巴什值班', %s, %s)",
            OUTSIDER,
            district,
        )
        user = one(
            "INSERT INTO users (username, password_hash, role)"
            " VALUES ('kbs-worker', 'x', 'community_worker')"
        )
        conn.execute(
            "INSERT INTO user_districts (user_id, district_id) VALUES (%s, %s)", (user, district)
        )
        conn.execute(
            "UPDATE contacts SET user_id = %s WHERE id = %s", (user, stack.ids["daughter"])
        )
        levels = [
            {
                "targets": [{"contact_id": outsider}, {"role": "family"}],
                "channels": ["sms", "voice", "app"],
                "timeout_s": 60,
            }
        ]
        conn.execute(
            "INSERT INTO escalation_policies (name, severity, elder_id, levels)"
            " VALUES ('旧数据', 'critical', %s, %s)",
            (stack.ids["elder"], Jsonb(levels)),
        )
    return {"outsider": outsider, "user": user}


def _timeline(stack: AlertingStack, alert_id: int) -> list[dict[str, Any]]:
    with stack.pool.connection() as conn:
        rows = conn.execute(
            "SELECT kind, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id", (alert_id,)
        ).fetchall()
    return [{"kind": kind, **detail} for kind, detail in rows]


def _notified(stack: AlertingStack, alert_id: int) -> list[tuple[int | None, int | None, str]]:
    with stack.pool.connection() as conn:
        rows = conn.execute(
            "SELECT contact_id, user_id, channel FROM notifications WHERE alert_id = %s",
            (alert_id,),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_a_stored_cross_district_target_is_paged_by_no_channel(
    stack: AlertingStack, caplog: pytest.LogCaptureFixture
) -> None:
    other = _other_district(stack)
    caplog.set_level(logging.WARNING)
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    [alert] = stack.alerts()

    assert stack.sms_to(OUTSIDER) == [] and stack.calls_to(OUTSIDER) == 0
    notified = _notified(stack, alert["id"])
    assert other["outsider"] not in [contact for contact, _, _ in notified]
    assert other["user"] not in [user for _, user, _ in notified]  # no app push to 康巴什区
    # the people in scope are still called, the daughter by SMS and voice
    assert len(stack.sms_to(DAUGHTER)) == 1 and len(stack.sms_to(SON)) == 1
    assert stack.calls_to(DAUGHTER) == 1

    skipped = [e for e in _timeline(stack, alert["id"]) if e["kind"] == "recipient_out_of_scope"]
    assert {(e["contact_id"], e.get("user_id")) for e in skipped} == {
        (other["outsider"], None),
        (stack.ids["daughter"], other["user"]),
    }
    assert f"contact {other['outsider']}" in caplog.text


def test_the_skip_repeats_on_every_round_and_never_stops_the_climb(stack: AlertingStack) -> None:
    _other_district(stack)
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    for _ in range(2):  # the only level repeats until someone acknowledges
        stack.clock.advance(seconds=601)
        stack.run()
    assert stack.sms_to(OUTSIDER) == [] and stack.calls_to(OUTSIDER) == 0
    assert len(stack.sms_to(DAUGHTER)) == 3  # first message and two reminders
    [alert] = stack.alerts()
    skips = [e for e in _timeline(stack, alert["id"]) if e["kind"] == "recipient_out_of_scope"]
    assert len(skips) == 2 * 3  # the supervisor and the daughter's account, each round
