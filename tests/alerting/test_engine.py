"""The alert engine end to end below MQTT: signals as ingest stores them, the engine's
decisions, and what reaches the local Twilio server — on a clock the test moves."""

from collections.abc import Iterator

import pytest

from alerting import lifecycle, metrics
from core.types import EventKind
from device_registry import policies
from device_registry.access import system_actor
from device_registry.schemas import PolicyCreate
from tests.support.alerting_stack import (
    DAUGHTER,
    SON,
    SUPERVISOR,
    WORKER,
    AlertingStack,
    alerting_stack,
)


@pytest.fixture
def stack() -> Iterator[AlertingStack]:
    with alerting_stack() as stack:
        yield stack


def test_button_press_pages_the_worker_at_once(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    [alert] = stack.alerts()
    assert (alert["rule"], alert["severity"], alert["status"]) == (
        "emergency_call",
        "critical",
        "notified",
    )
    [sms] = stack.sms_to(WORKER)
    assert "王秀英" in sms and "富兴南路12号" in sms and "1" in sms
    assert stack.sms_to(DAUGHTER) == []


def test_unacknowledged_alert_climbs_every_level_then_repeats(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    stack.clock.advance(seconds=179)
    stack.run()
    assert stack.sms_to(DAUGHTER) == []  # not yet
    stack.clock.advance(seconds=2)
    stack.run()
    assert len(stack.sms_to(DAUGHTER)) == 1 and len(stack.sms_to(SON)) == 1
    assert stack.calls_to(DAUGHTER) == 1
    stack.clock.advance(seconds=301)
    stack.run()
    assert stack.calls_to(SUPERVISOR) == 1
    stack.clock.advance(seconds=601)
    stack.run()
    assert stack.calls_to(SUPERVISOR) == 2  # the last level repeats until someone acks


def test_acknowledgement_stops_the_climb_and_starts_the_on_site_deadline(
    stack: AlertingStack,
) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    [alert] = stack.alerts()
    with stack.pool.connection() as conn:
        lifecycle.acknowledge(conn, alert["id"], "user:liu", stack.clock(), "app")
    stack.clock.advance(minutes=29)
    stack.run()
    assert stack.sms_to(DAUGHTER) == []
    stack.clock.advance(minutes=2)  # nobody confirmed being on site within 30 minutes
    stack.run()
    assert len(stack.sms_to(DAUGHTER)) == 1
    [alert] = stack.alerts()
    assert alert["status"] == "notified" and alert["level"] == 1


def test_flapping_smoke_detector_is_one_alert(stack: AlertingStack) -> None:
    for _ in range(5):
        stack.reading("smoke-1", smoke=True)
        stack.clock.advance(seconds=5)
        stack.reading("smoke-1", smoke=False)
        stack.clock.advance(seconds=5)
    stack.run()
    [alert] = stack.alerts()
    assert alert["trigger_count"] == 5
    assert alert["status"] != "resolved"  # critical: only a person closes it
    assert alert["condition_cleared_at"] is not None
    assert len(stack.sms_to(WORKER)) == 1


@pytest.mark.parametrize("first_channels", [["sms"], ["sms", "webhook"]])
def test_a_registry_policy_pages_the_people_it_names(
    stack: AlertingStack, first_channels: list[str]
) -> None:
    """An elder override made through the registry (validated, stored as JSON) is what
    the engine climbs: here the daughter first, by name, then community workers. A
    webhook on a level goes to the deployment's robots, and never stops the people."""
    levels = [
        {
            "targets": [{"contact_id": stack.ids["daughter"]}],
            "channels": first_channels,
            "timeout_s": 60,
        },
        {"targets": [{"role": "community_worker"}], "channels": ["sms"], "timeout_s": 60},
    ]
    with stack.pool.connection() as conn:
        policies.create_policy(
            conn,
            system_actor(),
            PolicyCreate.model_validate(
                {
                    "name": "女儿优先",
                    "severity": "critical",
                    "elder_id": stack.ids["elder"],
                    "levels": levels,
                }
            ),
        )
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    assert len(stack.sms_to(DAUGHTER)) == 1 and stack.sms_to(WORKER) == []
    stack.clock.advance(seconds=61)
    stack.run()
    assert len(stack.sms_to(WORKER)) == 1


def test_a_signal_that_cannot_be_evaluated_is_kept_counted_and_blocks_nothing(
    stack: AlertingStack,
) -> None:
    # A fault inside evaluation, made real by the database refusing the smoke alert.
    with stack.pool.connection() as conn:
        conn.execute(
            "CREATE FUNCTION refuse_smoke() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF NEW.rule = 'smoke' THEN RAISE EXCEPTION 'refused for the test';"
            " END IF; RETURN NEW; END $$;"
            " CREATE TRIGGER refuse_smoke BEFORE INSERT ON alerts"
            " FOR EACH ROW EXECUTE FUNCTION refuse_smoke()"
        )
    failed_before = metrics.OUTBOX_FAILED._value.get()
    stack.reading("smoke-1", smoke=True)
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    assert [a["rule"] for a in stack.alerts()] == ["emergency_call"]
    assert len(stack.sms_to(WORKER)) == 1
    with stack.pool.connection() as conn:
        kept = conn.execute(
            "SELECT signal, error FROM alert_outbox WHERE error IS NOT NULL"
        ).fetchall()
    assert [(signal, "refused for the test" in error) for signal, error in kept] == [
        ("smoke", True)
    ]
    assert metrics.OUTBOX_FAILED._value.get() == failed_before + 1
