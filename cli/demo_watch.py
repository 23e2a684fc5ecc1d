"""What the demo prints while it runs, in the order things happened and on one clock
(seconds since the story began): a line for each alert as it opens, climbs, is
acknowledged and closes (from the database's notifications), and each SMS and call as it
would arrive on a phone (from the local Twilio server), naming the alert it is about and
never printed before that alert's first line. At the end, a summary a person can read."""

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg

from core import notify_channels
from core.db import fetch_one
from core.masking import mask_phone
from simulators.demo_world import DemoWorld
from simulators.twilio_server import ApiRequest, TwilioServer

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
# The summary's rows: what is counted, and how a person reads it.
SUMMARY_ROWS = (
    ("opened", "alerts opened"),
    ("escalated", "escalations"),
    ("acknowledged", "acknowledged"),
    ("on_site", "on site"),
    ("cleared", "cleared by the device"),
    ("resolved", "closed"),
    ("deadline_missed", "on-site deadlines missed"),
    ("sms", "SMS sent"),
    ("call", "calls placed"),
)
HOLD_PHONE_S = 5.0  # a phone line waits this long for its alert's first line, at most
NOTIFICATION_IN_URL = re.compile(r"/twilio/(?:sms|voice)/(\d+)")


class Console:
    """One clock and one voice for every line the demo prints: seconds since the story
    began, and a lock so lines of the story, alerts and phones never interleave."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def start_clock(self) -> None:
        self._started = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self._started

    def say(self, text: str) -> None:
        with self._lock:
            print(f"[{self.age():5.0f}s] {text}", flush=True)


class Tally:
    """How many alerts did what, by rule; printed at the end (and read by the demo's test)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    def add(self, kind: str, rule: str = "") -> None:
        with self.lock:
            self.counts[(kind, rule)] += 1

    def total(self, kind: str, rule: str | None = None) -> int:
        with self.lock:
            return sum(n for (k, r), n in self.counts.items() if k == kind and rule in (None, r))

    def summary(self) -> str:
        lines = ["demo summary:"]
        for kind, label in SUMMARY_ROWS:
            total = self.total(kind)
            with self.lock:
                by_rule = sorted((r, n) for (k, r), n in self.counts.items() if k == kind and r)
            detail = " · ".join(f"{RULE_NAMES.get(r, r)} {n}" for r, n in by_rule)
            lines.append(f"  {label:<26}{total:>3}" + (f"   {detail}" if detail else ""))
        return "\n".join(lines)


@dataclass
class _Phone:
    request: ApiRequest
    alert_id: int | None
    seen_at: float = field(default_factory=time.monotonic)


class Narrator:
    """Reads both sources in one thread, so their lines come out in causal order."""

    def __init__(
        self,
        database_url: str,
        twilio: TwilioServer,
        world: DemoWorld,
        tally: Tally,
        console: Console,
    ) -> None:
        self.database_url, self.twilio, self.world = database_url, twilio, world
        self.tally, self.console = tally, console
        self._announced: set[int] = set()  # alerts whose first line is out
        self._held: list[_Phone] = []
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="narrator", daemon=True)

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
                payloads = [n.payload for n in conn.notifies(timeout=0.3, stop_after=50)]
                for payload in payloads:
                    alert_id, _, kind = payload.partition(":")
                    if kind in SHOWN:
                        self._alert_line(conn, int(alert_id), kind)
                self._phone_lines(conn)

    def _alert_line(self, conn: psycopg.Connection[Any], alert_id: int, kind: str) -> None:
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
        self.console.say(
            f"{SHOWN[kind]} #{alert_id} {RULE_NAMES.get(row['rule'], row['rule'])}"
            f" {row['name']}（{row['address']}） {extra}".rstrip()
        )
        self._announced.add(alert_id)

    def _phone_lines(self, conn: psycopg.Connection[Any]) -> None:
        requests = self.twilio.requests
        for request in requests[self._seen :]:
            self._held.append(_Phone(request, _alert_of(conn, request)))
        self._seen = len(requests)
        now, held, self._held = time.monotonic(), self._held, []
        for phone in held:
            if phone.alert_id in self._announced or now - phone.seen_at > HOLD_PHONE_S:
                self._phone_line(phone)
            else:
                self._held.append(phone)

    def _phone_line(self, phone: _Phone) -> None:
        request = phone.request
        to = request.form.get("To", "")
        who = f"{self.world.contact_names.get(to, '?')} {mask_phone(to)}"
        about = f"（#{phone.alert_id}）" if phone.alert_id is not None else ""
        if request.kind == "message":
            self.tally.add("sms")
            self.console.say(f"   📱 短信 → {who}{about}: {request.form.get('Body', '')}")
        else:
            self.tally.add("call")
            self.console.say(f"   📞 来电 → {who}{about}（按1确认）")


def _alert_of(conn: psycopg.Connection[Any], request: ApiRequest) -> int | None:
    """The alert a message or call is about: its status callback names our notification."""
    match = NOTIFICATION_IN_URL.search(request.form.get("StatusCallback", ""))
    if match is None:
        return None
    row = conn.execute(
        "SELECT alert_id FROM notifications WHERE id = %s", (int(match.group(1)),)
    ).fetchone()
    return int(row[0]) if row else None
