"""The engine's own figures move with what it does: operators alarm on them (README,
"Monitoring"), so a metric that is declared but never set would hide an outage."""

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from core.types import EventKind
from tests.support.alerting_stack import AlertingStack, alerting_stack


@pytest.fixture
def stack() -> Iterator[AlertingStack]:
    with alerting_stack() as stack:
        yield stack


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_opened_alert_is_counted_by_rule_and_severity(stack: AlertingStack) -> None:
    labels = {"rule": "emergency_call", "severity": "critical"}
    before = _value("nuanxin_alerts_opened_total", **labels)
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()
    assert _value("nuanxin_alerts_opened_total", **labels) == before + 1
    stack.event("btn-1", EventKind.BUTTON_PRESS)  # the same alert, still open
    stack.run()
    assert _value("nuanxin_alerts_opened_total", **labels) == before + 1


def test_pending_notifications_show_what_is_due_and_not_sent(stack: AlertingStack) -> None:
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.service.engine.process_outbox()
    with stack.pool.connection() as conn:
        due = conn.execute(
            "SELECT count(*) FROM notifications WHERE status = 'pending' AND next_attempt_at <= %s",
            (stack.clock(),),
        ).fetchone()
    assert due is not None and due[0] > 0
    stack.service.dispatcher.run_once(limit=0)  # a dispatcher that can send nothing
    assert _value("nuanxin_notifications_pending") == due[0]
    stack.run()
    assert _value("nuanxin_notifications_pending") == 0
