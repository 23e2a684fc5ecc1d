"""`nuanxin bench faults`: while readings flow and emergency buttons are pressed, one
fault after another — the broker restarted, PostgreSQL restarted, an ingest process and
an alert engine killed with SIGKILL (and started again), the Twilio server out of order —
then the database is checked: nothing acknowledged lost or stored twice, every press
alerted, every notification that became due sent, once.

The platform: the rig of `bench.ingest` (embedded PostgreSQL, the project's Mosquitto),
two `nuanxin ingest` on one shared subscription with fixed client ids, two `nuanxin
alerting`, and the local Twilio server. A policy of the benchmark's own pages the
community worker by SMS, once per alert (no climb within the run).

One phase per fault, in FAULTS order: inject it; press the phase's buttons spread over
`fault_seconds`; recover (the same port, data and client id); then wait, by counts and
not by time, until the readings acknowledged so far are stored and the phase's presses
are alerted and their SMS settled, so that each phase starts from a quiet platform.

Attribution is by msg_id: the publisher (`SteadyLoad`: `homes` × 4 PIR sensors, `rate`
readings/s through one connection that never stops for long) puts the name of the
current phase's fault in every msg_id (`broker_restart-1234`), and each phase presses
buttons of its own. A row therefore counts what happened to the messages and presses
*begun* in its phase, even those stored after it.

Definitions, per phase:
- published: readings the broker acknowledged with PUBACK Success, at the first try or
  after being sent again;
- unrouted: copies acknowledged "No matching subscribers" (0x10). Mosquitto 2.0 does not
  keep shared subscriptions over a restart, so until ingest has subscribed again it
  takes device messages and drops them, and says so with this code. As the device
  contract asks (docs/device-contract.md), the publisher sends each again a second
  later, same msg_id and ts, until one copy is published; resent counts those copies;
- unacked: messages with no PUBACK at all, the connection being lost first (the broker
  going down); not sent again. Such a message may or may not have reached the broker,
  so stored may exceed published, but it must never be stored twice;
- stored: its rows in `readings`; duplicated: rows beyond one per (device_id, msg_id);
  lost: published readings not stored;
- presses: presses the broker acknowledged with Success (a button presses again until
  it is); alerts: the emergency-call alerts of those buttons, exactly one each;
- notifications_due: the SMS and voice notifications of those alerts (not cancelled);
  sent: those the Twilio server accepted (it reads our notification id from the status
  callback URL); sent_twice: those it accepted more than once, plus rows beyond one per
  (alert, level, round, contact, channel).

Two choices keep the verdict exact rather than probabilistic:
- The alert engine is killed between sends: with no signal waiting and no notification
  pending or `sending`, and the phase's presses only after the kill. What it shows is
  the other engine taking the presses over and the killed one coming back. A kill during
  a send is the documented at-least-once case (docs/operations.md, "Several alert engines"): the row
  goes out again after two minutes, maybe twice.
- The Twilio server answers 503 while paused ("error"), which the engine retries with
  backoff (2, 10, 30 s). In a "hang" outage longer than the notifier's 10 s timeout
  the request is ambiguous and deliberately sent again (alerting/notifiers/base.py);
  and an outage longer than the retries (42 s) ends in fallback, counted as unsent.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from bench.ingest import LOAD_USER, POSTGRES_SETTINGS, IngestBenchConfig, Rig, _rig
from bench.stack import press, provision_buttons, start_engine, start_ingest, stop
from core.types import DeviceType
from embedded.account import server_workdir
from simulators.load import SteadyLoad
from simulators.mqtt import Endpoint
from simulators.twilio_server import ApiRequest, TwilioServer

SHARE_GROUP: Final = "faults"
PROCESSES: Final = 2  # ingest processes, and alert engines
PRESS_RETRY_S: Final = 0.5
POLL_S: Final = 0.5
# The community worker by SMS; no second level and no repeat within a run.
POLICY: Final = [
    {"targets": [{"role": "community_worker"}], "channels": ["sms"], "timeout_s": 3600}
]
NOTIFICATION_ID: Final = re.compile(r"/(\d+)/status$")  # in a status callback URL


@dataclass(frozen=True)
class FaultsBenchConfig:
    homes: int = 2_000
    fault_seconds: float = 10.0
    rate: int = 500  # readings/s
    presses: int = 5  # per fault, spread over it
    settle_timeout_s: float = 180.0  # how long a phase may take to catch up


@dataclass
class Platform:
    """The nuanxin processes on the rig, and the Twilio server they send to."""

    rig: Rig
    twilio: TwilioServer
    ingest: list[subprocess.Popen[str]] = field(default_factory=list)
    engines: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self) -> None:
        self.ingest = [self._ingest(k) for k in range(PROCESSES)]
        self.engines = [start_engine(self.rig, self.twilio) for _ in range(PROCESSES)]

    def restart_ingest(self, k: int) -> None:
        self.ingest[k] = self._ingest(k)

    def restart_engine(self, k: int) -> None:
        self.engines[k] = start_engine(self.rig, self.twilio)

    def stop(self) -> None:
        for process in [*self.ingest, *self.engines]:
            stop(process)

    def _ingest(self, k: int) -> subprocess.Popen[str]:
        # A fixed client id per process: a restart resumes its session and its queue.
        return start_ingest(self.rig, SHARE_GROUP, f"nuanxin-{SHARE_GROUP}-ingest-{k + 1}")


@dataclass(frozen=True)
class Fault:
    inject: Callable[[Platform], None]
    recover: Callable[[Platform], None]
    between_sends: bool = False  # inject only while no notification is being sent


def _kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)


FAULTS: Final[Mapping[str, Fault]] = MappingProxyType(
    {
        "broker_restart": Fault(
            lambda p: p.rig.broker.stop(),  # SIGTERM: it saves sessions and queues
            lambda p: p.rig.broker.start(),  # same port, persistence, dynamic security
        ),
        "postgres_restart": Fault(
            lambda p: p.rig.postgres.stop(),
            lambda p: p.rig.postgres.start(POSTGRES_SETTINGS),
        ),
        "ingest_kill": Fault(lambda p: _kill(p.ingest[0]), lambda p: p.restart_ingest(0)),
        "engine_kill": Fault(
            lambda p: _kill(p.engines[0]), lambda p: p.restart_engine(0), between_sends=True
        ),
        "twilio_pause": Fault(lambda p: p.twilio.pause("error"), lambda p: p.twilio.resume()),
    }
)


@dataclass
class Phase:
    name: str
    duration_s: float
    buttons: list[tuple[str, str]]  # (device id, password), pressed in this phase
    pressed: list[str] = field(default_factory=list)  # presses acknowledged, in order


def run(config: FaultsBenchConfig) -> dict[str, Any]:
    with server_workdir("nuanxin-bench-faults-") as tmp:
        rig = _rig(Path(tmp), IngestBenchConfig(registered=config.homes * 4))
        twilio = TwilioServer(callback_delay_ms=None).start()
        platform = Platform(rig, twilio)
        try:
            phases = _phases(rig, config)
            platform.start()
            load = _run_phases(platform, phases, config)
            return _result(config, rig, twilio, load, phases)
        finally:
            platform.stop()
            twilio.stop()
            rig.broker.stop()
            rig.postgres.stop()


def _phases(rig: Rig, config: FaultsBenchConfig) -> list[Phase]:
    """Buttons for every phase, and the policy that pages for them."""
    passwords = list(provision_buttons(rig, len(FAULTS) * config.presses).items())
    with psycopg.connect(rig.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO escalation_policies (name, severity, district_id, levels,"
            " repeat_interval_s) SELECT 'bench faults', 'critical', id, %s, 3600 FROM districts",
            (Jsonb(POLICY),),
        )
    n = config.presses
    return [
        Phase(name, config.fault_seconds, passwords[k * n : (k + 1) * n])
        for k, name in enumerate(FAULTS)
    ]


def _run_phases(platform: Platform, phases: list[Phase], config: FaultsBenchConfig) -> SteadyLoad:
    """Every phase under a load that never stops; returns the load, stopped, once all it
    published and every press is settled (or the settle timeout passed)."""
    rig = platform.rig
    endpoint = Endpoint(rig.broker.host, rig.broker.port)
    devices = {f"bench-{i:06d}": DeviceType.PIR for i in range(config.homes * 4)}
    load = SteadyLoad(endpoint, LOAD_USER, rig.secret, devices, config.rate, tag=phases[0].name)
    load.start()
    try:
        for phase in phases:
            _run_phase(platform, load, endpoint, phase, config)
    finally:
        load.stop()
    published = {phase.name: set(load.acked(phase.name)) for phase in phases}
    pressed = [device_id for phase in phases for device_id in phase.pressed]
    _wait(lambda: _caught_up(rig, published, pressed), config.settle_timeout_s)
    return load


def _run_phase(
    platform: Platform,
    load: SteadyLoad,
    endpoint: Endpoint,
    phase: Phase,
    config: FaultsBenchConfig,
) -> None:
    fault, rig = FAULTS[phase.name], platform.rig
    load.tag = phase.name
    if fault.between_sends:  # after the timeout it goes ahead: the figures will tell
        _wait(lambda: _idle(rig), config.settle_timeout_s)
    fault.inject(platform)
    deadline = time.monotonic() + config.settle_timeout_s
    presser = threading.Thread(target=_press, args=(endpoint, phase, deadline), daemon=True)
    presser.start()
    time.sleep(phase.duration_s)
    fault.recover(platform)
    published = {phase.name: set(load.acked(phase.name))}
    presser.join(max(0.0, deadline - time.monotonic()))
    _wait(lambda: _caught_up(rig, published, phase.pressed), config.settle_timeout_s)


def _press(endpoint: Endpoint, phase: Phase, deadline: float) -> None:
    """The phase's buttons spread over its fault, each retried until the broker
    acknowledges it (or the deadline passes, and it is missing from `pressed`)."""
    spacing = phase.duration_s / len(phase.buttons)
    start = time.monotonic()
    for j, (device_id, password) in enumerate(phase.buttons):
        time.sleep(max(0.0, start + (j + 0.5) * spacing - time.monotonic()))
        while not press(endpoint, device_id, password):
            if time.monotonic() > deadline:
                return
            time.sleep(PRESS_RETRY_S)
        phase.pressed.append(device_id)


# --- what the database says -----------------------------------------------------------


def _wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll until `condition` holds; a database that does not answer yet is a no."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except psycopg.OperationalError:
            pass
        time.sleep(POLL_S)
    return False


def _stored(conn: psycopg.Connection[Any], tag: str) -> list[tuple[str, str]]:
    """(device_id, msg_id) of every stored row of a phase, duplicates included."""
    rows = conn.execute(
        "SELECT device_id, msg_id FROM readings WHERE starts_with(msg_id, %s)", (f"{tag}-",)
    ).fetchall()
    return [(device_id, msg_id) for device_id, msg_id in rows]


def _caught_up(rig: Rig, published: Mapping[str, set[tuple[str, str]]], pressed: list[str]) -> bool:
    """Every published reading stored; every press alerted and its notifications settled."""
    with psycopg.connect(rig.database_url) as conn:
        if any(not readings <= set(_stored(conn, tag)) for tag, readings in published.items()):
            return False
        alerted, unsettled = _one(
            conn,
            "SELECT count(DISTINCT a.device_id), count(n.id) FILTER"
            " (WHERE n.status IN ('pending', 'sending'))"
            " FROM alerts a LEFT JOIN notifications n ON n.alert_id = a.id"
            " WHERE a.rule = 'emergency_call' AND a.device_id = ANY(%s)",
            pressed,
        )
    return bool(alerted == len(pressed) and unsettled == 0)


def _idle(rig: Rig) -> bool:
    """No signal waiting for an engine and no notification waiting or being sent."""
    with psycopg.connect(rig.database_url) as conn:
        waiting, sending = _one(
            conn,
            "SELECT (SELECT count(*) FROM alert_outbox WHERE processed_at IS NULL),"
            " (SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending'))",
        )
    return bool(waiting == sending == 0)


def _one(conn: psycopg.Connection[Any], sql: str, *params: Any) -> tuple[Any, ...]:
    row = conn.execute(sql, params or None).fetchone()
    assert row is not None
    return tuple(row)


# --- figures --------------------------------------------------------------------------


def _result(
    config: FaultsBenchConfig,
    rig: Rig,
    twilio: TwilioServer,
    load: SteadyLoad,
    phases: list[Phase],
) -> dict[str, Any]:
    accepted = _accepted(twilio.requests)
    with psycopg.connect(rig.database_url) as conn:
        rows = [_figures(conn, load, phase, accepted) for phase in phases]
    return {
        "benchmark": "faults",
        "homes": config.homes,
        "rate_per_s": config.rate,
        "presses_per_fault": config.presses,
        "publisher_reconnects": load.reconnects,
        "faults": rows,
        "total": _total(rows),
    }


def _accepted(requests: Iterable[ApiRequest]) -> Counter[int]:
    """How often the Twilio server accepted a message or call for each notification."""
    counts: Counter[int] = Counter()
    for request in requests:
        found = NOTIFICATION_ID.search(request.form.get("StatusCallback", ""))
        if request.status == 201 and request.kind != "other" and found:
            counts[int(found[1])] += 1
    return counts


def _figures(
    conn: psycopg.Connection[Any], load: SteadyLoad, phase: Phase, accepted: Counter[int]
) -> dict[str, Any]:
    stored = _stored(conn, phase.name)
    published = set(load.acked(phase.name))
    (alerts,) = _one(
        conn,
        "SELECT count(*) FROM alerts WHERE rule = 'emergency_call' AND device_id = ANY(%s)",
        phase.pressed,
    )
    due = conn.execute(
        "SELECT n.id, n.alert_id, n.level, n.round, n.contact_id, n.channel"
        " FROM notifications n JOIN alerts a ON a.id = n.alert_id"
        " WHERE a.rule = 'emergency_call' AND a.device_id = ANY(%s)"
        " AND n.channel IN ('sms', 'voice') AND n.status <> 'cancelled'",
        (phase.pressed,),
    ).fetchall()
    planned_twice = len(due) - len({tuple(row[1:]) for row in due})
    return {
        "name": phase.name,
        "duration_s": phase.duration_s,
        "published": len(published),
        "unrouted": load.unrouted(phase.name),
        "resent": load.resent(phase.name),
        "unacked": load.sent(phase.name) - len(published) - load.unrouted(phase.name),
        "stored": len(stored),
        "lost": len(published - set(stored)),
        "duplicated": len(stored) - len(set(stored)),
        "presses": len(phase.pressed),
        "alerts": alerts,
        "notifications_due": len(due),
        "sent": sum(1 for row in due if accepted[row[0]]),
        "sent_twice": planned_twice + sum(max(0, accepted[row[0]] - 1) for row in due),
    }


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    numbers = [key for key, value in rows[0].items() if isinstance(value, int | float)]
    return {"name": "total", **{key: sum(row[key] for row in rows) for key in numbers}}


def failures(row: Mapping[str, Any], presses: int) -> list[str]:
    """What is wrong with a row of the table (`presses` were due); empty when nothing is."""
    checks = {
        "a press never acknowledged": row["presses"] == presses,
        "lost": row["lost"] == 0,
        "duplicated": row["duplicated"] == 0,
        "sent_twice": row["sent_twice"] == 0,
        "a press without its one alert": row["alerts"] == row["presses"],
        "a due notification unsent": row["sent"] == row["notifications_due"],
    }
    return [what for what, ok in checks.items() if not ok]


def main(config: FaultsBenchConfig) -> int:
    result = run(config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    presses = result["presses_per_fault"]
    return 1 if any(failures(row, presses) for row in result["faults"]) else 0
