"""What the demo prints while it runs: a line for each alert as it opens, climbs and is
acknowledged (from the database's notifications), and each SMS and call as it would
arrive on a phone (from the local Twilio server)."""

import json
import threading
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from core import notify_channels
from core.db import fetch_one
from core.masking import mask_phone
from simulators.demo_world import DemoWorld
from simulators.twilio_server import TwilioServer

LOCAL = ZoneInfo("Asia/Shanghai")
RULE_NAMES = {
    "emergency_call": "紧急呼叫",
    "smoke": "烟雾报警",
    "gas": "燃气报警",
    "inactivity": "长时间无活动",
    "device_offline": "设备离线",
    "low_battery": "电量低",
    "tamper": "设备被拆动",
    "fault": "设备故障",
    "self_test_failed": "自检失败",
}
SHOWN = {
    "opened": "● 新警报",
    "escalated": "↑ 升级",
    "acknowledged": "✔ 已确认",
    "on_site": "✔ 已到场",
    "cleared": "○ 已解除",
    "resolved": "■ 已关闭",
    "deadline_missed": "! 未按时到场",
}


class Tally:
    """How many alerts did what; printed at the end (and read by the demo's test)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def add(self, kind: str, rule: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            self.counts[f"{kind}:{rule}"] += 1

    def summary(self) -> str:
        with self.lock:
            return "demo summary: " + json.dumps(dict(sorted(self.counts.items())))


class AlertPrinter:
    def __init__(self, database_url: str, tally: Tally) -> None:
        self.database_url, self.tally = database_url, tally
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-printer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f"LISTEN {notify_channels.ALERTS}")
            while not self._stop.is_set():
                # Collected first: the connection cannot run a query while notifies() holds it.
                payloads = [n.payload for n in conn.notifies(timeout=0.5, stop_after=50)]
                for payload in payloads:
                    alert_id, _, kind = payload.partition(":")
                    if kind in SHOWN:
                        self._print(conn, int(alert_id), kind)

    def _print(self, conn: psycopg.Connection[Any], alert_id: int, kind: str) -> None:
        row = fetch_one(
            conn,
            "SELECT a.rule, a.level, a.acknowledged_by, a.outcome, e.name, h.address"
            " FROM alerts a LEFT JOIN elders e ON e.id = a.elder_id"
            " LEFT JOIN homes h ON h.elder_id = e.id WHERE a.id = %s",
            (alert_id,),
        )
        if row is None:
            return
        self.tally.add(kind, row["rule"])
        extra = {
            "escalated": f"第{row['level'] + 1}级",
            "acknowledged": f"by {row['acknowledged_by']}",
            "resolved": f"({row['outcome']})",
        }.get(kind, "")
        when = datetime.now(LOCAL).strftime("%H:%M:%S")
        print(
            f"[{when}] {SHOWN[kind]} #{alert_id} {RULE_NAMES.get(row['rule'], row['rule'])}"
            f" {row['name']}（{row['address']}） {extra}".rstrip(),
            flush=True,
        )


class PhonePrinter:
    def __init__(self, twilio: TwilioServer, world: DemoWorld, tally: Tally) -> None:
        self.twilio, self.world, self.tally = twilio, world, tally
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="phone-printer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            requests = self.twilio.requests
            for request in requests[self._seen :]:
                to = request.form.get("To", "")
                masked = mask_phone(to)
                who = self.world.contact_names.get(to, "?")
                if request.kind == "message":
                    self.tally.add("sms", "any")
                    body = request.form.get("Body", "")
                    print(f"    📱 短信 → {who} {masked}: {body}", flush=True)
                else:
                    self.tally.add("call", "any")
                    print(f"    📞 来电 → {who} {masked}（按1确认）", flush=True)
            self._seen = len(requests)
