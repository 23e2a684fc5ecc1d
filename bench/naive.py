"""The baseline ingest is measured against: one INSERT and one COMMIT per message,
acknowledged by paho after the callback returns (so, like ours, after the commit)."""

import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from core.mqtt import new_client
from ingest.adapters import Router, StaticDirectory
from ingest.messages import Reading
from ingest.state import VALUE_FIELDS

COLUMNS = ("device_id", "ts", "msg_id", "received_at", *VALUE_FIELDS)
INSERT = (
    f"INSERT INTO readings ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    " ON CONFLICT DO NOTHING"
)


class NaiveIngest:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        database_url: str,
        directory: StaticDirectory,
    ) -> None:
        self._conn = psycopg.connect(database_url)
        self._router = Router(directory)
        self.stored = 0
        self.subscribed = threading.Event()
        # the broker binds every account to its username as client id
        self._client = new_client(username, username=username, password=password)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self.subscribed.set()
        self._client.on_connect = lambda client, *args: client.subscribe("nuanxin/v1/+/+", 1)
        self._client.connect(host, port)
        self._client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for item in self._router.decode(message.topic, bytes(message.payload), datetime.now(UTC)):
            if isinstance(item, Reading):
                self._conn.execute(INSERT, [getattr(item, c) for c in COLUMNS])
                self._conn.commit()
                self.stored += 1

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._conn.close()
