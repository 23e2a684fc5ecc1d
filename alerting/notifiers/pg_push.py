"""App push across processes: the engine publishes on a PostgreSQL channel, and every API
process forwards what it hears to its connected staff apps (`api.stream.LiveHub`). So pushes reach
the app whether the engine runs inside `nuanxin serve` or as its own process."""

import json
from typing import Final

import psycopg
from psycopg_pool import ConnectionPool

from alerting.notifiers.base import DeliveryStatus, Message, SendResult
from core import notify_channels
from core.vocabulary import Channel

PROVIDER: Final = "push"


class PgPushNotifier:
    channel = Channel.APP
    name = PROVIDER

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def send(self, message: Message) -> SendResult:
        payload = json.dumps(
            {
                "user_id": message.to,
                "notification_id": message.notification_id,
                "alert_id": message.alert_id,
                "text": message.text,
            },
            ensure_ascii=False,
        )
        try:
            with self._pool.connection() as conn:
                conn.execute("SELECT pg_notify(%s, %s)", (notify_channels.PUSH, payload))
        except psycopg.DataError as exc:  # e.g. a payload over NOTIFY's 8,000 bytes
            return SendResult.failure(PROVIDER, f"database: {exc}", retryable=False)
        except Exception as exc:  # the database is the transport; it may be down
            return SendResult.failure(PROVIDER, f"database: {type(exc).__name__}", retryable=True)
        return SendResult(PROVIDER, None, DeliveryStatus.SENT)
