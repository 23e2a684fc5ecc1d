"""The API served by a real uvicorn, the alert engine sending through the local Twilio
server, and helpers to post to the API as Twilio does (signed by `RequestValidator`).
Shared by the webhook suites."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from alerting.channels import build_notifiers
from alerting.engine import utc_now
from alerting.notifiers.callbacks import CallbackPath
from alerting.planner import Channels
from alerting.service import AlertingService
from api.app import create_app
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from simulators.twilio_server import ApiRequest, TwilioServer
from tests.support.api_server import base_url, bound_socket, serve


@dataclass
class TwilioStack:
    url: str
    twilio: TwilioServer
    service: AlertingService
    channels: Channels
    pool: ConnectionPool

    def notifications(self, alert_id: int, channel: str) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT * FROM notifications WHERE alert_id = %s AND channel = %s ORDER BY id",
                (alert_id, channel),
            )
            return cur.fetchall()

    def sent(self, sid: str) -> ApiRequest:
        return next(r for r in self.twilio.requests if r.sid == sid)

    def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        signed_url: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST as Twilio would, signed over `signed_url` (default: the real URL)."""
        url = self.url + path
        validator = RequestValidator(token) if token else self.twilio.validator
        signature = validator.compute_signature(signed_url or url, params)
        all_headers = {"X-Twilio-Signature": signature, **(headers or {})}
        return httpx.post(url, data=params, headers=all_headers)

    def reply(self, sender: str, body: str, **headers: str) -> httpx.Response:
        """An SMS from `sender` to our number, with a new MessageSid, signed; the answer."""
        sid = "SM" + secrets.token_hex(16)
        params = {"MessageSid": sid, "SmsSid": sid, "From": sender, "Body": body}
        return self.post(CallbackPath.TWILIO_SMS_INBOUND.value, params, headers=headers)

    def escalate(self, alert_id: int) -> None:
        """The alert's level times out now: the sweep pages the next level, which is sent."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE alerts SET next_due_at = %s WHERE id = %s",
                (utc_now() - timedelta(seconds=1), alert_id),
            )
        self.service.engine.sweep()
        self.service.run_until_idle()


@contextmanager
def twilio_stack(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin
) -> Iterator[TwilioStack]:
    sock = bound_socket()
    # status callbacks only when a test asks: no race with the dispatcher recording the SID
    with TwilioServer(callback_delay_ms=None) as twilio:
        settings = Settings(
            database_url=database_url,
            public_base_url=base_url(sock),
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number="+14155550000",
            twilio_api_base_url=twilio.url,
        )
        notifiers, channels = build_notifiers(settings, pool)
        service = AlertingService(pool, database_url, notifiers, channels)
        app = create_app(settings, pool, provisioner, channels)
        with serve(app, sock) as url:
            yield TwilioStack(url, twilio, service, channels, pool)
