"""An alert engine against a real database and the local Twilio and Alibaba Cloud SMS
servers, on a clock the test moves: one elder's home in 东胜区 with every device type,
a community worker, two family members and a supervisor."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypedDict

import psycopg
from psycopg_pool import ConnectionPool

from alerting.channels import build_notifiers
from alerting.service import AlertingService
from core.db import open_pool
from core.settings import Settings
from core.types import EventKind
from ingest import writer
from ingest.messages import Event, Reading
from simulators.aliyun_sms_server import AliyunSmsServer
from simulators.twilio_server import TwilioServer
from tests.support.clock import T0, ManualClock
from tests.support.databases import migrated_database

WORKER = "+14155550101"  # a worker's phone abroad: Twilio carries it
DAUGHTER = "+8613912345678"  # mainland family: Alibaba Cloud SMS when configured
SON = "+8613712345678"
SUPERVISOR = "+14155550199"

DEVICES = {
    "btn-1": "emergency_button",
    "smoke-1": "smoke",
    "gas-1": "gas",
    "pir-1": "pir",
}


@dataclass
class AlertingStack:
    database_url: str
    pool: ConnectionPool
    service: AlertingService
    clock: ManualClock
    twilio: TwilioServer
    aliyun: AliyunSmsServer | None
    ids: dict[str, int] = field(default_factory=dict)
    _seq: int = 0

    # --- what devices say -----------------------------------------------------------

    def event(self, device_id: str, kind: EventKind, **detail: Any) -> None:
        self._write(Event(device_id, self.clock(), self._msg(), self.clock(), kind, detail))

    def reading(self, device_id: str, **values: Any) -> None:
        self._write(Reading(device_id, self.clock(), self._msg(), self.clock(), **values))

    def _msg(self) -> str:
        self._seq += 1
        return f"m{self._seq}"

    def _write(self, message: Event | Reading) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            writer.prepare(conn)
            writer.write_batch(conn, [message])

    # --- what the engine does -------------------------------------------------------

    def run(self) -> None:
        """Evaluate signals, climb due ladders and send, as the running service would."""
        self.service.run_until_idle()
        while self.service.engine.sweep():
            self.service.run_until_idle()

    def alerts(self) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute("SELECT * FROM alerts ORDER BY id")
            return cur.fetchall()

    def sms_to(self, number: str) -> list[str]:
        return [m.form["Body"] for m in self.twilio.messages() if m.form["To"] == number]

    def calls_to(self, number: str) -> int:
        return sum(1 for c in self.twilio.calls() if c.form["To"] == number)


def seed(conn: psycopg.Connection[Any]) -> dict[str, int]:
    ids: dict[str, int] = {}

    def one(sql: str, *params: Any) -> int:
        row = conn.execute(sql + " RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    ids["district"] = one("INSERT INTO districts (name) VALUES ('东胜区')")
    ids["community"] = one(
        "INSERT INTO communities (district_id, name) VALUES (%s, '富兴社区')", ids["district"]
    )
    ids["elder"] = one(
        "INSERT INTO elders (community_id, name) VALUES (%s, '王秀英')", ids["community"]
    )
    ids["home"] = one(
        "INSERT INTO homes (elder_id, address) VALUES (%s, '富兴南路12号3单元201')", ids["elder"]
    )
    ids["worker"] = one(
        "INSERT INTO contacts (kind, name, phone, community_id, locale)"
        " VALUES ('community_worker', '刘网格员', %s, %s, 'zh-CN')",
        WORKER,
        ids["community"],
    )
    ids["daughter"] = one(
        "INSERT INTO contacts (kind, name, phone, elder_id, relation, priority)"
        " VALUES ('family', '王丽', %s, %s, '女儿', 1)",
        DAUGHTER,
        ids["elder"],
    )
    ids["son"] = one(
        "INSERT INTO contacts (kind, name, phone, elder_id, relation, priority)"
        " VALUES ('family', '王强', %s, %s, '儿子', 2)",
        SON,
        ids["elder"],
    )
    ids["supervisor"] = one(
        "INSERT INTO contacts (kind, name, phone, district_id)"
        " VALUES ('supervisor', '值班主任', %s, %s)",
        SUPERVISOR,
        ids["district"],
    )
    for device_id, kind in DEVICES.items():
        conn.execute(
            "INSERT INTO devices (device_id, device_type, home_id, state, commissioned_at,"
            " heartbeat_interval_s) VALUES (%s, %s, %s, 'commissioned', %s, 600)",
            (device_id, kind, ids["home"], T0 - timedelta(days=1)),
        )
    return ids


class AliyunSettings(TypedDict, total=False):
    """The settings that point Alibaba Cloud SMS at the local server."""

    aliyun_sms_access_key_id: str
    aliyun_sms_access_key_secret: str
    aliyun_sms_template_alert: str
    aliyun_sms_template_reminder: str
    aliyun_sms_endpoint: str
    aliyun_sms_protocol: str


def aliyun_settings(server: AliyunSmsServer) -> AliyunSettings:
    return {
        "aliyun_sms_access_key_id": "LTAI-test",
        "aliyun_sms_access_key_secret": "aliyun-secret",
        "aliyun_sms_template_alert": "SMS_100001",
        "aliyun_sms_template_reminder": "SMS_100002",
        "aliyun_sms_endpoint": server.endpoint,
        "aliyun_sms_protocol": "http",
    }


@contextmanager
def alerting_stack(*, aliyun: bool = False) -> Iterator[AlertingStack]:
    with migrated_database() as url, TwilioServer() as twilio:
        aliyun_server = AliyunSmsServer("LTAI-test", "aliyun-secret").start() if aliyun else None
        with psycopg.connect(url, autocommit=True) as conn:
            ids = seed(conn)
        settings = Settings(
            database_url=url,
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number="+14155550000",
            twilio_api_base_url=twilio.url,
            **(aliyun_settings(aliyun_server) if aliyun_server else {}),
        )
        pool = open_pool(url, name="alerting-test", max_size=4)
        clock = ManualClock()
        notifiers, channels = build_notifiers(settings, pool)
        service = AlertingService(pool, url, notifiers, channels, clock)
        try:
            yield AlertingStack(url, pool, service, clock, twilio, aliyun_server, ids)
        finally:
            pool.close()
            if aliyun_server is not None:
                aliyun_server.stop()
