"""The database goes away between sending a notification and recording it. What was
sent is recorded once the database is back, and the rest of the claimed batch is sent
too: nothing is left `sending` for the stale-send recovery, which would page again
minutes later."""

import contextlib
import threading
from collections import Counter

import psycopg
from psycopg.types.json import Jsonb

from alerting.channels import build_notifiers
from alerting.dispatch import Dispatcher
from alerting.engine import AlertEngine
from alerting.notifiers.base import Message, Notifier, SendResult
from core.db import open_pool
from core.settings import Settings
from core.types import EventKind
from core.vocabulary import Channel
from embedded.postgres import EmbeddedPostgres
from ingest import writer
from ingest.messages import Event
from simulators.twilio_server import TwilioServer
from tests.support.alerting_stack import WORKER, seed
from tests.support.clock import ManualClock
from tests.support.databases import migrated
from tests.support.servers import own_postgres

BUTTONS = ("btn-1", "btn-2", "btn-3")
SMS_ONLY = [{"targets": [{"role": "community_worker"}], "channels": ["sms"], "timeout_s": 600}]


class OutageAfterFirstSend:
    """The real SMS notifier; right after the provider took the first message, the
    database stops (immediately, as in a crash) and starts again in the background."""

    channel = Channel.SMS

    def __init__(self, notifier: Notifier, postgres: EmbeddedPostgres) -> None:
        self.name = notifier.name
        self._notifier, self._postgres = notifier, postgres
        self.restarted: threading.Thread | None = None

    def send(self, message: Message) -> SendResult:
        result = self._notifier.send(message)
        if self.restarted is None:
            self._postgres.stop(mode="immediate")
            self.restarted = threading.Thread(target=self._postgres.start)
            self.restarted.start()
        return result


def test_a_database_outage_mid_batch_neither_doubles_nor_strands_a_notification() -> None:
    with own_postgres() as postgres:
        _seed(postgres.url)
        with TwilioServer(callback_delay_ms=None) as twilio:
            _run(postgres, twilio)
            with psycopg.connect(postgres.url) as conn:
                rows = conn.execute("SELECT id, status FROM notifications").fetchall()
            accepted = Counter(m.form["StatusCallback"] for m in twilio.messages())

    assert len(rows) == len(BUTTONS)
    assert {status for _, status in rows} == {"queued"}  # none left `sending`
    assert len(accepted) == len(BUTTONS)  # every one sent...
    assert set(accepted.values()) == {1}  # ...once
    assert {m.form["To"] for m in twilio.messages()} == {WORKER}


def _seed(url: str) -> None:
    with psycopg.connect(migrated(url), autocommit=True) as conn:
        ids = seed(conn)
        for device_id in BUTTONS[1:]:
            conn.execute(
                "INSERT INTO devices (device_id, device_type, home_id, state)"
                " VALUES (%s, 'emergency_button', %s, 'commissioned')",
                (device_id, ids["home"]),
            )
        conn.execute(
            "INSERT INTO escalation_policies (name, severity, district_id, levels)"
            " VALUES ('sms only', 'critical', %s, %s)",
            (ids["district"], Jsonb(SMS_ONLY)),
        )
        writer.prepare(conn)
        clock = ManualClock()
        presses = [
            Event(b, clock(), f"press-{b}", clock(), EventKind.BUTTON_PRESS, {}) for b in BUTTONS
        ]
        writer.write_batch(conn, presses)


def _run(postgres: EmbeddedPostgres, twilio: TwilioServer) -> None:
    settings = Settings(
        database_url=postgres.url,
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_from_number="+14155550000",
        twilio_api_base_url=twilio.url,
    )
    pool = open_pool(postgres.url, name="dispatch-outage", max_size=2)
    try:
        notifiers, channels = build_notifiers(settings, pool)
        outage = OutageAfterFirstSend(notifiers[("sms", "twilio")], postgres)
        clock = ManualClock()  # still: the stale-send recovery never comes to help
        assert AlertEngine(pool, channels, clock).process_outbox() == len(BUTTONS)
        dispatcher = Dispatcher(pool, {**notifiers, ("sms", "twilio"): outage}, channels, clock)
        with contextlib.suppress(psycopg.OperationalError):  # the database went away
            dispatcher.run_once()
        assert outage.restarted is not None, "the outage never happened"
        outage.restarted.join()
        while True:  # as the engine's loop does after a database error
            with contextlib.suppress(psycopg.OperationalError):
                if not dispatcher.run_once():
                    break
    finally:
        pool.close()
