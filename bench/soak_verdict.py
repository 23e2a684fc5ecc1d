"""The verdict of `nuanxin bench soak`: a pure function of the per-minute samples and the
final count, so that what "leaks" or "drifts" means is decided here, in one place, and
is unit-tested on made-up series.

The run is cut into thirds by sample: the first third is the warm-up (pools fill,
caches warm, the allocator finds its size) and the baseline; the last third is what the
system has become. What fails, with the limits in `Limits`:

- memory: after the warm-up, the RSS of `nuanxin serve` rises faster than
  `rss_slope_mb_per_min`, over the whole settled part and over its second half alike
  (Theil–Sen slopes: the median of all pairwise slopes, so one spike is no trend, and a
  step that then stays flat is not "still growing"), *and* by more than `rss_growth_mb`
  from the start of the settled part to its end (medians of up to three samples each).
  So a short run's noise, a spike, or a cache that fills once passes, while a steady
  leak — 1 MB/min is 1.4 GB a day — fails a 30-minute run;
- latency drift: the last third's p99 (median of its per-sample p99s) exceeds twice the
  first third's plus a margin, for publish→commit and for press→SMS;
- connections: the most PostgreSQL (or MQTT) connections seen in the last third exceed
  the most seen in the first third by more than `connection_slack` — pools are bounded
  and fill during the warm-up, a leak keeps adding;
- queues: readings published but not stored, unprocessed outbox rows, notifications
  pending or being sent, and the broker's queued messages: the last third's median
  exceeds twice the first third's plus a floor (readings: `backlog_floor_s` seconds of
  the publish rate, since a sample catches a batch in flight);
- delivery: any acknowledged reading not stored, any stored twice, any press without
  its SMS, any notification doubled, any message the broker dropped, any error.

Medians over a third tolerate one odd sample once a third holds three or more, as in a
30-minute run sampled every minute; a five-minute run is only a smoke test of the same.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any


@dataclass(frozen=True)
class Percentiles:
    p50: float | None = None
    p99: float | None = None
    n: int = 0


@dataclass(frozen=True)
class Sample:
    t_s: float  # since the load began
    rss_mb: float  # nuanxin serve
    serve_cpu_pct: float  # of one core, over the sample's interval
    pg_connections: int  # client backends, the sampler's own excluded
    mqtt_connections: int | None  # $SYS/broker/clients/connected; None: not published yet
    backlog: int  # readings published, not stored yet
    outbox_unprocessed: int
    notifications_pending: int  # pending or sending
    broker_queued: int | None  # $SYS store count minus retained messages
    broker_rss_mb: float | None  # Mosquitto: its queues live in memory
    commit_ms: Percentiles  # publish → commit of the readings stored in this interval
    sms_ms: Percentiles  # press → SMS of the first SMS received in this interval
    stored_per_s: float
    alerts_active: int  # not resolved
    pg_by_application: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """The count at the end, once everything published had time to be stored."""

    published: int
    acked: int  # PUBACKs the load generator received
    stored: int
    distinct_stored: int
    presses: int
    presses_with_sms: int
    duplicate_notifications: int
    broker_dropped: int  # $SYS/broker/publish/messages/dropped
    errors: tuple[str, ...] = ()

    @property
    def lost(self) -> int:
        return max(0, self.acked - self.distinct_stored)

    @property
    def duplicated(self) -> int:
        return self.stored - self.distinct_stored


@dataclass(frozen=True)
class Limits:
    rss_slope_mb_per_min: float = 1.0
    rss_growth_mb: float = 10.0
    latency_factor: float = 2.0
    commit_margin_ms: float = 100.0
    sms_margin_ms: float = 500.0
    connection_slack: int = 3
    backlog_floor_s: float = 2.0
    queue_floor: int = 20


Check = dict[str, Any]


def verdict(
    samples: Sequence[Sample], tally: Tally, rate: float, limits: Limits = Limits()
) -> dict[str, Any]:
    """Every check with its figures and `ok`; `failures` names the ones that failed."""
    early, settled, late = _thirds(samples)
    factor = limits.latency_factor
    checks: dict[str, dict[str, Check]] = {
        "memory": {"serve_rss": _memory([(s.t_s, s.rss_mb) for s in settled], limits)},
        "latency": {
            "publish_to_commit": _drift(
                early, late, _p99("commit_ms"), limits.commit_margin_ms, factor
            ),
            "press_to_sms": _drift(early, late, _p99("sms_ms"), limits.sms_margin_ms, factor),
        },
        "connections": {
            "postgres": _connections(early, late, lambda s: s.pg_connections, limits),
            "mqtt": _connections(early, late, lambda s: s.mqtt_connections, limits),
        },
        "queues": _queues(early, late, rate, limits),
        "delivery": {"count": _delivery(tally)},
    }
    failures = [
        f"{group}.{name}"
        for group, named in checks.items()
        for name, check in named.items()
        if not check["ok"]
    ]
    return {"ok": not failures, "failures": failures, "limits": asdict(limits), **checks}


def _thirds(samples: Sequence[Sample]) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(first third, everything after it, last third); one sample is all three."""
    k = max(1, len(samples) // 3)
    ordered = sorted(samples, key=lambda s: s.t_s)
    return ordered[:k], ordered[k:] or ordered, ordered[-k:]


def theil_sen_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Median of the slopes between every two points: a trend one outlier cannot make."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    return median(slopes) if slopes else None


def _memory(points: list[tuple[float, float]], limits: Limits) -> Check:
    if not points:
        return {"ok": True, "slope_mb_per_min": None, "growth_mb": None}
    per_minute = [(t / 60, mb) for t, mb in points]
    slope = theil_sen_slope(per_minute)
    late_slope = theil_sen_slope(per_minute[len(per_minute) // 2 :])
    ends = min(3, max(1, len(points) // 3))
    growth = median(mb for _, mb in points[-ends:]) - median(mb for _, mb in points[:ends])
    limit = limits.rss_slope_mb_per_min
    grows = slope is not None and late_slope is not None and min(slope, late_slope) > limit
    return {
        "ok": not (grows and growth > limits.rss_growth_mb),
        "slope_mb_per_min": None if slope is None else round(slope, 2),
        "late_slope_mb_per_min": None if late_slope is None else round(late_slope, 2),
        "growth_mb": round(growth, 1),
        "first_mb": points[0][1],
        "last_mb": points[-1][1],
    }


def _p99(name: str) -> Callable[[Sample], float | None]:
    return lambda sample: getattr(sample, name).p99


def _drift(
    early: list[Sample],
    late: list[Sample],
    value: Callable[[Sample], float | None],
    margin: float,
    factor: float,
) -> Check:
    before, after = _median(early, value), _median(late, value)
    ok = before is None or after is None or after <= factor * before + margin
    return {"ok": ok, "early": before, "late": after, "limit": _limit(before, factor, margin)}


def _connections(
    early: list[Sample], late: list[Sample], value: Callable[[Sample], int | None], limits: Limits
) -> Check:
    before = max((v for s in early if (v := value(s)) is not None), default=None)
    after = max((v for s in late if (v := value(s)) is not None), default=None)
    ok = before is None or after is None or after <= before + limits.connection_slack
    return {"ok": ok, "early_max": before, "late_max": after, "slack": limits.connection_slack}


def _queues(
    early: list[Sample], late: list[Sample], rate: float, limits: Limits
) -> dict[str, Check]:
    factor, floor = limits.latency_factor, limits.queue_floor
    in_flight = rate * limits.backlog_floor_s
    return {
        "readings_backlog": _drift(early, late, lambda s: s.backlog, in_flight, factor),
        "outbox_unprocessed": _drift(early, late, lambda s: s.outbox_unprocessed, floor, factor),
        "notifications_pending": _drift(
            early, late, lambda s: s.notifications_pending, floor, factor
        ),
        "broker_queued": _drift(early, late, lambda s: s.broker_queued, in_flight, factor),
    }


def _delivery(tally: Tally) -> Check:
    missing_sms = tally.presses - tally.presses_with_sms
    bad = (
        tally.lost,
        tally.duplicated,
        missing_sms,
        tally.duplicate_notifications,
        tally.broker_dropped,
    )
    return {
        "ok": not any(bad) and not tally.errors,
        "published": tally.published,
        "acked": tally.acked,
        "stored": tally.stored,
        "lost": tally.lost,
        "duplicated": tally.duplicated,
        "presses": tally.presses,
        "presses_without_sms": missing_sms,
        "duplicate_notifications": tally.duplicate_notifications,
        "broker_dropped": tally.broker_dropped,
        "errors": list(tally.errors),
    }


def _median(samples: list[Sample], value: Callable[[Sample], float | None]) -> float | None:
    values = [v for s in samples if (v := value(s)) is not None]
    return round(median(values), 1) if values else None


def _limit(before: float | None, factor: float, margin: float) -> float | None:
    return None if before is None else round(factor * before + margin, 1)
