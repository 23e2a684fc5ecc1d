"""The API with its carrier-platform routes, served by a real uvicorn against the
alerting test stack's database: the stack's smoke detector registered as a LiAn on
CTWing, its gas detector as a Siterwell on OneNET."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from api.app import create_app
from cli.wiring import BrokerProvisioner
from core.settings import Settings
from simulators.carriers import CtwingDevice, OnenetDevice, PushSender
from tests.support.alerting_stack import AlertingStack, alerting_stack
from tests.support.api_server import serve

CTWING_TOKEN = "ct-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ONENET_TOKEN = "onenet-token-7c1d"
ONENET_AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # an EncodingAESKey: 43 characters

SMOKE = CtwingDevice("a1b2c3d4e5f6869162052818257", "869162052818257")
GAS = OnenetDevice(583221045, "868334031234567", ONENET_TOKEN)
GAS_ENCRYPTED = OnenetDevice(583221045, "868334031234567", ONENET_TOKEN, ONENET_AES)


@dataclass
class PlatformStack:
    stack: AlertingStack
    base_url: str
    sender: PushSender

    def count(self, sql: str, *params: Any) -> int:
        return int(self.one(f"SELECT count(*) FROM ({sql}) AS q", *params))

    def one(self, sql: str, *params: Any) -> Any:
        with psycopg.connect(self.stack.database_url) as conn:
            row = conn.execute(sql, params or None).fetchone()
        return None if row is None else row[0]


def register_platform_devices(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE devices SET platform = 'ctwing', platform_device_id = %s, imei = %s,"
            " model = 'lian-nb-smoke' WHERE device_id = 'smoke-1'",
            (SMOKE.device_id, SMOKE.imei),
        )
        conn.execute(
            "UPDATE devices SET platform = 'onenet', platform_device_id = %s, imei = %s,"
            " model = 'siterwell-nb-gas' WHERE device_id = 'gas-1'",
            (str(GAS.dev_id), GAS.imei),
        )


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        ctwing_push_token=CTWING_TOKEN,
        onenet_push_token=ONENET_TOKEN,
        onenet_aes_key=ONENET_AES,
    )


@contextmanager
def platform_stack() -> Iterator[PlatformStack]:
    with alerting_stack() as stack:
        stack.clock.now = datetime.now(UTC)  # pushes carry the platforms' real clock
        register_platform_devices(stack.database_url)
        settings = settings_for(stack.database_url)
        provisioner = BrokerProvisioner(settings)  # never used by these routes
        app = create_app(settings, stack.pool, provisioner, on_signals=stack.service.wake)
        with serve(app) as base_url, PushSender(base_url, CTWING_TOKEN) as sender:
            yield PlatformStack(stack, base_url, sender)
