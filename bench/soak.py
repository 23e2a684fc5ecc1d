"""`nuanxin bench soak`: `nuanxin serve` in a process of its own under the steady load of
thousands of homes for N minutes, sampled every minute, to see what a short benchmark
cannot — memory that only grows, connections that leak, queues that fall behind,
latency that drifts.

The homes: each has an elder, an emergency button, smoke and gas detectors and a PIR,
all commissioned; together their devices publish `rate` readings/s at a steady pace (a
device every homes × 4 / rate seconds) through the load account. A few of the buttons
(`buttons`) are connected on their own accounts the whole time, as real ones are, and
one of them is pressed every `press_seconds`. The community worker answers like a
person would: each alert SMS is acknowledged by an SMS reply (收到 #code, through the local
Twilio's signed webhook) and, on the responder's next round, resolved in the app (the
API) — so an alert lives a few seconds, open alerts do not pile up, and every part of
serve (ingest, engine, notifier, webhooks, API) works the whole time. Twilio sends its
delivery callbacks as it does in production.

The load, the presser, the responder and the broker's $SYS reader are in
bench/soak_actors.py. Each sample (`Sample` in bench/soak_verdict.py) keeps the RSS and
CPU of serve, the PostgreSQL connections (pg_stat_activity), the broker's connected
clients and queued messages ($SYS), the queue depths (readings published but not stored,
unprocessed outbox rows, notifications pending or sending), publish→commit and press→SMS
p50/p99 of that interval, and stored readings/s. The JSON ends with the final count and the
verdict; the exit code is 1 when the verdict fails.
"""

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.alerts import first_sms_after, start_serve
from bench.ingest import INGEST_USER, IngestBenchConfig, Rig, _rig
from bench.process import cpu_seconds, percentile, rss_mb
from bench.seed import button_id, seed_buttons
from bench.soak_actors import (
    DRAIN_TIMEOUT_S,
    RESPONDER,
    RUN_ID,
    BrokerStats,
    Load,
    Presser,
    Responder,
)
from bench.soak_verdict import Limits, Percentiles, Sample, Tally, verdict
from core.types import DeviceType
from device_registry.access import system_actor
from device_registry.provisioning import BrokerAdmin
from device_registry.schemas import UserCreate
from device_registry.users import create_user
from embedded.account import server_workdir
from embedded.mosquitto import BrokerInfo, free_port
from simulators.devices import SimulatedDevice
from simulators.load import LoadGenerator
from simulators.mqtt import Endpoint
from simulators.twilio_server import ApiRequest, TwilioServer


@dataclass(frozen=True)
class SoakConfig:
    minutes: float = 30.0
    homes: int = 2_000
    rate: int = 500  # readings/s from all homes together
    sample_seconds: float = 60.0
    press_seconds: float = 5.0
    buttons: int = 30  # connected on their own accounts, pressed in turn

    @property
    def seconds(self) -> float:
        return self.minutes * 60


def run(config: SoakConfig) -> dict[str, Any]:
    with server_workdir("nuanxin-bench-soak-") as tmp:
        rig = _rig(Path(tmp), IngestBenchConfig(registered=0))
        twilio = TwilioServer().start()  # with delivery callbacks, as Twilio sends them
        try:
            samples, tally = _soak(rig, twilio, config)
        finally:
            twilio.stop()
            rig.broker.stop()
            rig.postgres.stop()
    return {
        "benchmark": "soak",
        "config": asdict(config),
        "samples": [asdict(s) for s in samples],
        "totals": {**asdict(tally), "lost": tally.lost, "duplicated": tally.duplicated},
        "verdict": verdict(samples, tally, config.rate, Limits()),
    }


def main(config: SoakConfig) -> int:
    result = run(config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["verdict"]["ok"] else 1


# --- the rig -----------------------------------------------------------------------------


def _seed(url: str, homes: int) -> None:
    """Every home as bench/seed.py makes it (an elder, a commissioned button), plus its
    smoke, gas and PIR devices, and the account the responder signs in with."""
    with psycopg.connect(url) as conn:  # one transaction: thousands of rows, one fsync
        seed_buttons(conn, homes)
        for kind in ("smoke", "gas", "pir"):
            conn.execute(
                "INSERT INTO devices (device_id, device_type, home_id, state)"
                " SELECT replace(device_id, 'btn-', %s), %s, home_id, 'commissioned'"
                " FROM devices WHERE device_type = 'emergency_button'",
                (f"{kind}-", kind),
            )
        username, password = RESPONDER
        create_user(
            conn,
            system_actor("bench-soak"),
            UserCreate(username=username, password=password, role="admin"),
        )


def _home_devices(homes: int) -> dict[str, DeviceType]:
    kinds = {
        "btn": DeviceType.EMERGENCY_BUTTON,
        "smoke": DeviceType.SMOKE,
        "gas": DeviceType.GAS,
        "pir": DeviceType.PIR,
    }
    return {
        button_id(i).replace("btn", prefix): kind
        for i in range(homes)
        for prefix, kind in kinds.items()
    }


@contextmanager
def _buttons(broker: BrokerInfo, count: int) -> Iterator[list[SimulatedDevice]]:
    endpoint = Endpoint(broker.host, broker.port)
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        passwords = {button_id(i): admin.provision_device(button_id(i)) for i in range(count)}
    buttons = [
        SimulatedDevice(d, DeviceType.EMERGENCY_BUTTON, p, endpoint) for d, p in passwords.items()
    ]
    for button in buttons:
        button.start(heartbeats=False)
    try:
        yield buttons
    finally:
        for button in buttons:
            button.stop()


# --- sampling ----------------------------------------------------------------------------


class Sampler:
    """Takes a `Sample` per interval. Readings are counted stored, and their latency
    measured, when they are first seen in the database: their publish time is taken out of
    the load generator's `published_at`, so what remains there is the backlog, and the
    bench's own memory stays bounded over a long run."""

    def __init__(
        self,
        rig: Rig,
        serve_pid: int,
        load: LoadGenerator,
        presser: Presser,
        twilio: TwilioServer,
        broker: BrokerStats,
    ) -> None:
        self._url, self._pid, self._load = rig.database_url, serve_pid, load
        self._broker_pid = rig.broker.pid
        self._presser, self._twilio, self._broker = presser, twilio, broker
        self._since = time.time()  # publish time of the oldest reading not seen stored
        self._sms_seen = 0  # Twilio messages already matched to presses
        self._presses_seen = 0
        self.waiting: list[tuple[str, float]] = []  # presses without their SMS yet
        self.presses_with_sms = 0
        self._last = (time.monotonic(), cpu_seconds(serve_pid))

    def take(self, t_s: float) -> Sample:
        (before, cpu_before), now, cpu = self._last, time.monotonic(), cpu_seconds(self._pid)
        self._last, interval = (now, cpu), now - before
        commits = self.new_commits()
        with psycopg.connect(self._url, autocommit=True) as conn:
            queues, by_app = _queues(conn), _connections(conn)
        return Sample(
            t_s=round(t_s, 1),
            rss_mb=_mb(rss_mb(self._pid)),
            serve_cpu_pct=round((cpu - cpu_before) / interval * 100, 1),
            pg_connections=sum(by_app.values()),
            mqtt_connections=_int(self._broker.number("clients/connected")),
            backlog=len(self._load.published_at),
            outbox_unprocessed=queues["outbox"],
            notifications_pending=queues["notifications"],
            broker_queued=self._broker_queued(),
            broker_rss_mb=None if self._broker_pid is None else _mb(rss_mb(self._broker_pid)),
            commit_ms=_percentiles(commits),
            sms_ms=_percentiles(self.match_sms()),
            stored_per_s=round(len(commits) / interval, 1),
            alerts_active=queues["alerts"],
            pg_by_application=by_app,
        )

    def new_commits(self) -> list[float]:
        """publish→commit (ms) of the readings first seen stored since the last call."""
        with psycopg.connect(self._url) as conn:
            rows = conn.execute(
                # Device time is taken just before the publish; a minute of slack.
                "SELECT msg_id, extract(epoch FROM pg_xact_commit_timestamp(xmin))"
                " FROM readings WHERE ts >= to_timestamp(%s) AND msg_id LIKE %s",
                (self._since - 60, f"{RUN_ID}-%"),
            ).fetchall()
        # Copied after the query, so every reading it saw is in the copy unless counted.
        published = self._load.published_at.copy()
        millis = []
        for msg_id, commit in rows:
            at = published.pop(msg_id, None)
            if at is not None:
                millis.append((float(commit) - at) * 1000)
                del self._load.published_at[msg_id]
        self._since = min(published.values(), default=time.time())
        return millis

    def match_sms(self) -> list[float]:
        """press→SMS (ms) of the presses whose first SMS arrived since the last call."""
        presses = self._presser.presses[self._presses_seen :]
        self._presses_seen += len(presses)
        self.waiting += presses
        messages = self._twilio.messages()
        new: list[ApiRequest] = messages[self._sms_seen :]
        self._sms_seen = len(messages)
        first = first_sms_after(self.waiting, new)
        millis = [(at - self.waiting[k][1]) * 1000 for k, at in first.items()]
        self.waiting = [p for k, p in enumerate(self.waiting) if k not in first]
        self.presses_with_sms += len(first)
        return millis

    def _broker_queued(self) -> int | None:
        stored = self._broker.number("store/messages/count")
        retained = self._broker.number("retained messages/count")
        return None if stored is None or retained is None else int(stored - retained)


def _queues(conn: psycopg.Connection[Any]) -> dict[str, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM alert_outbox WHERE processed_at IS NULL),"
        " (SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')),"
        " (SELECT count(*) FROM alerts WHERE status <> 'resolved')"
    ).fetchone()
    assert row is not None
    return {"outbox": row[0], "notifications": row[1], "alerts": row[2]}


def _connections(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT application_name, count(*) FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {name or "(none)": count for name, count in rows}


def _percentiles(values: list[float]) -> Percentiles:
    if not values:
        return Percentiles()
    return Percentiles(
        round(percentile(values, 0.5), 1), round(percentile(values, 0.99), 1), len(values)
    )


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _mb(value: float) -> float:
    return round(value, 1)


# --- the run -----------------------------------------------------------------------------


def _soak(rig: Rig, twilio: TwilioServer, config: SoakConfig) -> tuple[list[Sample], Tally]:
    _seed(rig.database_url, config.homes)
    api_port = free_port()
    with _buttons(rig.broker, min(config.buttons, config.homes)) as buttons:
        serve = start_serve(rig.database_url, rig.broker, twilio, INGEST_USER, rig.secret, api_port)
        try:
            return _steady(rig, twilio, config, serve, f"http://127.0.0.1:{api_port}", buttons)
        finally:
            serve.terminate()
            serve.wait(60)


def _steady(
    rig: Rig,
    twilio: TwilioServer,
    config: SoakConfig,
    serve: subprocess.Popen[str],
    api_url: str,
    buttons: list[SimulatedDevice],
) -> tuple[list[Sample], Tally]:
    _wait_healthy(api_url)
    broker = BrokerStats(rig.broker)
    responder, presser = Responder(api_url, twilio), Presser(buttons, config.press_seconds)
    load = Load(rig, _home_devices(config.homes), int(config.rate * config.seconds), config.rate)
    errors: list[str] = []
    try:
        responder.start()
        load.start()
        sampler = Sampler(rig, serve.pid, load.generator, presser, twilio, broker)
        presser.start()
        samples = _sample(sampler, serve, config, errors)
        presser.stop()
        load.join()
        tally = _drain(rig, sampler, load, presser, broker, errors)
        responder.stop()
        return samples, replace(tally, errors=tally.errors + _failures(load, presser, responder))
    finally:
        presser.stop()
        responder.stop()
        broker.close()


def _sample(
    sampler: Sampler, serve: subprocess.Popen[str], config: SoakConfig, errors: list[str]
) -> list[Sample]:
    """A sample every `sample_seconds` until the end, or until serve dies."""
    started, samples, k = time.monotonic(), [], 1
    while k * config.sample_seconds <= config.seconds + 0.001:
        time.sleep(max(0.0, started + k * config.sample_seconds - time.monotonic()))
        if serve.poll() is not None:
            errors.append(f"nuanxin serve exited with {serve.returncode}")
            break
        samples.append(sampler.take(k * config.sample_seconds))
        k += 1
    return samples


def _drain(
    rig: Rig,
    sampler: Sampler,
    load: Load,
    presser: Presser,
    broker: BrokerStats,
    errors: list[str],
) -> Tally:
    """Wait for the last readings and SMS, then count."""
    acked = load.generator.acked
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        rig.wait_stored(acked, f"{RUN_ID}-%", timeout_s=DRAIN_TIMEOUT_S)
    except TimeoutError as error:
        errors.append(str(error))
    while time.monotonic() < deadline and (sampler.match_sms() or sampler.waiting):
        time.sleep(0.5)
    with psycopg.connect(rig.database_url) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, msg_id)) FROM readings"
            " WHERE msg_id LIKE %s",
            (f"{RUN_ID}-%",),
        ).fetchone()  # type: ignore[misc]
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT alert_id, level, round, contact_id, channel"
            " FROM notifications GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1) d"
        ).fetchone()[0]  # type: ignore[index]
    return Tally(
        published=load.generator.published,
        acked=acked,
        stored=stored,
        distinct_stored=distinct,
        presses=len(presser.presses),
        presses_with_sms=sampler.presses_with_sms,
        duplicate_notifications=doubled,
        broker_dropped=_int(broker.number("publish/messages/dropped")) or 0,
        errors=tuple(errors),
    )


def _failures(load: Load, presser: Presser, responder: Responder) -> tuple[str, ...]:
    """What went wrong on the bench's side; each may hide a fault of serve's."""
    failed = [] if load.error is None else [load.error]
    if responder.errors:  # the API or the SMS webhook refused or failed a request
        failed.append(f"responder: {responder.errors} failed request(s)")
    return (*failed, *presser.errors)


def _wait_healthy(api_url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(api_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the API of nuanxin serve did not answer at {api_url}")
