"""Two engines on one database send every notification exactly once; an engine killed
after a signal was stored pages it exactly once when it comes back."""

import signal
import time
from collections import Counter
from datetime import UTC, datetime

import psycopg

from alerting.channels import build_notifiers
from alerting.service import AlertingService
from core.db import open_pool
from core.settings import Settings
from core.types import EventKind
from tests.support.alerting_stack import (
    DAUGHTER,
    SUPERVISOR,
    WORKER,
    AlertingStack,
    alerting_stack,
)
from tests.support.cli import clean_env, start_nuanxin


def wall_clock_stack_settings(stack: AlertingStack) -> Settings:
    return Settings(
        database_url=stack.database_url,
        twilio_account_sid=stack.twilio.account_sid,
        twilio_auth_token=stack.twilio.auth_token,
        twilio_from_number="+14155550000",
        twilio_api_base_url=stack.twilio.url,
    )


def wait_until(condition: object, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_two_engines_send_each_notification_once() -> None:
    with alerting_stack() as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            for i in range(2, 11):
                conn.execute(
                    "INSERT INTO devices (device_id, device_type, home_id, state)"
                    " VALUES (%s, 'emergency_button', %s, 'commissioned')",
                    (f"btn-{i}", stack.ids["home"]),
                )
        settings = wall_clock_stack_settings(stack)
        pools = [open_pool(stack.database_url, name=f"engine-{i}", max_size=4) for i in (1, 2)]
        engines = []
        for pool in pools:  # both on the test's clock, each with its own threads and pool
            notifiers, channels = build_notifiers(settings, pool)
            engines.append(
                AlertingService(pool, stack.database_url, notifiers, channels, stack.clock)
            )
        try:
            for engine in engines:
                engine.start()
            for i in range(1, 11):
                stack.event(f"btn-{i}", EventKind.BUTTON_PRESS)
            wait_until(lambda: len(stack.sms_to(WORKER)) >= 10)
            stack.clock.advance(seconds=181)  # both sweeps race for the family level
            wait_until(lambda: stack.calls_to(DAUGHTER) >= 10)
            stack.clock.advance(seconds=301)  # and for the supervisor's
            wait_until(lambda: stack.calls_to(SUPERVISOR) >= 10)
            time.sleep(2)  # anything doubled would have been sent by now
        finally:
            for engine in engines:
                engine.stop()
            for pool in pools:
                pool.close()

        assert len(stack.alerts()) == 10
        assert len(stack.sms_to(WORKER)) == 10
        assert stack.calls_to(SUPERVISOR) == 10
        with psycopg.connect(stack.database_url) as conn:
            rows = conn.execute(
                "SELECT alert_id, level, contact_id, channel, status FROM notifications"
            ).fetchall()
        keys = Counter((a, level, c, ch) for a, level, c, ch, _ in rows)
        assert max(keys.values()) == 1, "a notification was planned twice"
        sent = [r for r in rows if r[3] in ("sms", "voice") and r[4] != "cancelled"]
        assert len(stack.twilio.requests) == len(sent)


def test_engine_killed_before_the_alert_exists_pages_once_after_restart() -> None:
    with alerting_stack() as stack:
        env = clean_env(
            NUANXIN_DATABASE_URL=stack.database_url,
            NUANXIN_TWILIO_ACCOUNT_SID=stack.twilio.account_sid,
            NUANXIN_TWILIO_AUTH_TOKEN=stack.twilio.auth_token,
            NUANXIN_TWILIO_FROM_NUMBER="+14155550000",
            NUANXIN_TWILIO_API_BASE_URL=stack.twilio.url,
        )
        engine = start_nuanxin("alerting", env=env)
        time.sleep(1.5)
        engine.send_signal(signal.SIGKILL)
        engine.wait(10)

        stack.clock.now = datetime.now(UTC)
        stack.event("btn-1", EventKind.BUTTON_PRESS)  # stored, in the outbox, no engine
        assert stack.alerts() == []

        engine = start_nuanxin("alerting", env=env)
        try:
            wait_until(lambda: len(stack.sms_to(WORKER)) >= 1)
            time.sleep(2)
        finally:
            engine.terminate()
            engine.wait(30)
        assert len(stack.alerts()) == 1
        assert len(stack.sms_to(WORKER)) == 1
        assert engine.returncode == 0
