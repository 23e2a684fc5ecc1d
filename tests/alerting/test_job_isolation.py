"""Safety invariant 3 for every job the alert engine runs: the jobs are enumerated from
the service itself (the worker's and every one the scheduler registers), and for each
one item is poisoned — the real database refuses it, through a trigger — while another
waits beside it. The other must be done, the poisoned one logged, counted in
nuanxin_job_item_errors_total{job} and not marked done, and once the poison is gone the
next run must do it. A job added later without a poisoning here fails
`test_every_job_is_poisoned_here`."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from core.types import EventKind
from tests.support.alerting_stack import AlertingStack, alerting_stack
from tests.support.clock import T0


@pytest.fixture
def stack() -> Iterator[AlertingStack]:
    with alerting_stack() as stack:
        yield stack


def item_errors(job: str) -> float:
    return REGISTRY.get_sample_value("nuanxin_job_item_errors_total", {"job": job}) or 0.0


def poison(stack: AlertingStack, table: str, timing: str, when: str) -> None:
    """The database refuses the rows `when` selects: one item fails for real."""
    with stack.pool.connection() as conn:
        conn.execute(
            "CREATE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned for the test'; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER poisoned {timing} ON {table} FOR EACH ROW WHEN ({when})"
            " EXECUTE FUNCTION poisoned()"
        )


def cure(stack: AlertingStack, table: str) -> None:
    with stack.pool.connection() as conn:
        conn.execute(f"DROP TRIGGER poisoned ON {table}")


def scalar(stack: AlertingStack, sql: str, *params: object) -> object:
    with stack.pool.connection() as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def alert_id(stack: AlertingStack, rule: str) -> int:
    return int(str(scalar(stack, "SELECT id FROM alerts WHERE rule = %s", rule)))


@dataclass(frozen=True)
class Poisoning:
    """Two items of the job, one poisoned; `done(stack, which)` says if that one was
    processed; `retry` is what must happen (besides curing) before the next run."""

    arrange: Callable[[AlertingStack], None]
    table: str
    done: Callable[[AlertingStack, str], bool]
    retry: Callable[[AlertingStack], None] = lambda stack: None


# --- one poisoning per job ---------------------------------------------------------------


def _outbox(stack: AlertingStack) -> None:
    poison(stack, "alerts", "BEFORE INSERT", "NEW.rule = 'smoke'")
    stack.reading("smoke-1", smoke=True)  # poisoned
    stack.event("btn-1", EventKind.BUTTON_PRESS)


def _outbox_done(stack: AlertingStack, which: str) -> bool:
    signal = {"poisoned": "smoke", "other": "button_press"}[which]
    processed = scalar(stack, "SELECT processed_at FROM alert_outbox WHERE signal = %s", signal)
    return processed is not None


def _two_due_alerts(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.reading("smoke-1", smoke=True)
    stack.service.run_until_idle()
    poison(stack, "alerts", "BEFORE UPDATE", f"OLD.id = {alert_id(stack, 'smoke')}")
    stack.clock.advance(seconds=181)  # both are due to climb to the family


def _climbed(stack: AlertingStack, which: str) -> bool:
    rule = {"poisoned": "smoke", "other": "emergency_call"}[which]
    return scalar(stack, "SELECT level FROM alerts WHERE rule = %s", rule) == 1


def _two_silent_devices(stack: AlertingStack) -> None:
    # Every seeded device was commissioned a day ago and has not been heard since.
    poison(stack, "alerts", "BEFORE INSERT", "NEW.device_id = 'smoke-1'")


def _offline(stack: AlertingStack, which: str) -> bool:
    device = {"poisoned": "smoke-1", "other": "pir-1"}[which]
    return bool(
        scalar(
            stack,
            "SELECT count(*) FROM alerts WHERE rule = 'device_offline' AND device_id = %s",
            device,
        )
    )


def _two_still_elders(stack: AlertingStack) -> None:
    with stack.pool.connection() as conn:
        conn.execute(
            "INSERT INTO elders (community_id, name) VALUES (%s, '李桂兰')",
            (stack.ids["community"],),
        )
        conn.execute(
            "INSERT INTO homes (elder_id, address) SELECT id, '富兴南路14号' FROM elders"
            " WHERE name = '李桂兰'"
        )
        conn.execute(
            "INSERT INTO devices (device_id, device_type, home_id, state, commissioned_at,"
            " heartbeat_interval_s) SELECT 'pir-2', 'pir', h.id, 'commissioned', %s, 600"
            " FROM homes h JOIN elders e ON e.id = h.elder_id WHERE e.name = '李桂兰'",
            (T0 - timedelta(days=1),),
        )
    for pir in ("pir-1", "pir-2"):
        stack.reading(pir, motion=True)
    stack.clock.advance(hours=12, minutes=1)
    for pir in ("pir-1", "pir-2"):
        stack.reading(pir, motion=False)
    poison(stack, "alerts", "BEFORE INSERT", f"NEW.elder_id = {stack.ids['elder']}")


def _inactive(stack: AlertingStack, which: str) -> bool:
    name = {"poisoned": "王秀英", "other": "李桂兰"}[which]
    return bool(
        scalar(
            stack,
            "SELECT count(*) FROM alerts a JOIN elders e ON e.id = a.elder_id"
            " WHERE a.rule = 'inactivity' AND e.name = %s",
            name,
        )
    )


def _two_planned_notifications(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.event("gas-1", EventKind.ALARM)
    stack.service.engine.process_outbox()
    poison(
        stack,
        "notifications",
        "BEFORE UPDATE",
        f"OLD.alert_id = {alert_id(stack, 'gas')} AND NEW.status NOT IN ('sending', 'pending')",
    )


def _sent(stack: AlertingStack, which: str) -> bool:
    rule = {"poisoned": "gas", "other": "emergency_call"}[which]
    status = scalar(
        stack,
        "SELECT n.status FROM notifications n JOIN alerts a ON a.id = n.alert_id"
        " WHERE a.rule = %s AND n.channel = 'sms'",
        rule,
    )
    return status in ("queued", "sent", "delivered")


def _stale_again(stack: AlertingStack) -> None:
    stack.clock.advance(minutes=3)  # the poisoned send was left `sending`: it goes again
    stack.service.jobs["stale-sends"].run()


def _two_stale_sends(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.event("gas-1", EventKind.ALARM)
    stack.service.engine.process_outbox()
    with stack.pool.connection() as conn:  # as an engine that died mid-send leaves them
        conn.execute("UPDATE notifications SET status = 'sending', updated_at = %s", (T0,))
    stack.clock.advance(minutes=3)
    poison(stack, "notifications", "BEFORE UPDATE", f"OLD.alert_id = {alert_id(stack, 'gas')}")


def _pending_again(stack: AlertingStack, which: str) -> bool:
    rule = {"poisoned": "gas", "other": "emergency_call"}[which]
    status = scalar(
        stack,
        "SELECT n.status FROM notifications n JOIN alerts a ON a.id = n.alert_id"
        " WHERE a.rule = %s AND n.channel = 'sms'",
        rule,
    )
    return status == "pending"


def _two_devices_with_old_readings(stack: AlertingStack) -> None:
    with stack.pool.connection() as conn:
        for device in ("smoke-1", "pir-1"):
            conn.execute(
                "INSERT INTO readings (device_id, ts, msg_id) VALUES (%s, %s, 'ancient')",
                (device, T0 - timedelta(days=500)),
            )
    poison(stack, "readings", "BEFORE DELETE", "OLD.device_id = 'smoke-1'")


def _pruned(stack: AlertingStack, which: str) -> bool:
    device = {"poisoned": "smoke-1", "other": "pir-1"}[which]
    return not scalar(
        stack, "SELECT count(*) FROM readings WHERE device_id = %s AND msg_id = 'ancient'", device
    )


def _later(**delta: float) -> Callable[[AlertingStack], None]:
    def advance(stack: AlertingStack) -> None:
        stack.clock.advance(**delta)

    return advance


POISONINGS = {
    "alert-outbox": Poisoning(_outbox, "alerts", _outbox_done, _later(minutes=15)),
    "dispatch": Poisoning(_two_planned_notifications, "notifications", _sent, _stale_again),
    "escalation-sweep": Poisoning(_two_due_alerts, "alerts", _climbed, _later(minutes=2)),
    "device-offline": Poisoning(_two_silent_devices, "alerts", _offline),
    "inactivity": Poisoning(_two_still_elders, "alerts", _inactive),
    "stale-sends": Poisoning(_two_stale_sends, "notifications", _pending_again),
    "retention": Poisoning(_two_devices_with_old_readings, "readings", _pruned),
}


def test_every_job_is_poisoned_here(stack: AlertingStack) -> None:
    jobs = stack.service.jobs
    scheduled = {job.id for job in stack.service.scheduler.get_jobs()}
    assert scheduled <= set(jobs), "the scheduler runs a job outside AlertingService.jobs"
    assert scheduled == {name for name, job in jobs.items() if job.every_s is not None}
    assert set(jobs) == set(POISONINGS), "write a poisoning for the new job"


@pytest.mark.parametrize("name", sorted(POISONINGS))
def test_one_poisoned_item_stops_no_other(stack: AlertingStack, name: str) -> None:
    poisoning = POISONINGS[name]
    job = stack.service.jobs[name]
    poisoning.arrange(stack)
    before = item_errors(name)

    job.run()  # the function the scheduler (or the worker) runs, as it runs it

    assert poisoning.done(stack, "other"), "the healthy item waited behind the poisoned one"
    assert not poisoning.done(stack, "poisoned"), "a failed item was marked done"
    assert item_errors(name) > before

    cure(stack, poisoning.table)
    poisoning.retry(stack)
    job.run()
    assert poisoning.done(stack, "poisoned"), "the failed item was not retried"
