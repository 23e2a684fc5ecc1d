"""`nuanxin bench soak`: its verdict on made-up series (what counts as a leak, a drift,
a growing queue), and one short real run against `nuanxin serve`."""

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypedDict, Unpack, cast

import pytest

from bench.alerts import first_sms_after
from bench.soak_verdict import Percentiles, Sample, Tally, theil_sen_slope, verdict
from cli.main import main
from simulators.twilio_server import ApiRequest

RATE = 500
FLAT = Sample(
    t_s=0,
    rss_mb=120.0,
    serve_cpu_pct=40.0,
    pg_connections=6,
    mqtt_connections=33,
    backlog=150,
    outbox_unprocessed=0,
    notifications_pending=1,
    broker_queued=100,
    broker_rss_mb=12.0,
    commit_ms=Percentiles(25.0, 60.0, 30_000),
    sms_ms=Percentiles(50.0, 120.0, 12),
    stored_per_s=500.0,
    alerts_active=1,
)
CLEAN = Tally(
    published=900_000,
    acked=900_000,
    stored=900_000,
    distinct_stored=900_000,
    presses=360,
    presses_with_sms=360,
    duplicate_notifications=0,
    broker_dropped=0,
)


class Series(TypedDict, total=False):
    """One value a minute for a field of `Sample`, typed as that field is."""

    rss_mb: Sequence[float]
    pg_connections: Sequence[int]
    mqtt_connections: Sequence[int | None]
    backlog: Sequence[int]
    outbox_unprocessed: Sequence[int]
    notifications_pending: Sequence[int]
    broker_queued: Sequence[int | None]
    commit_ms: Sequence[Percentiles]
    sms_ms: Sequence[Percentiles]


def minutes(count: int = 30, **series: Unpack[Series]) -> list[Sample]:
    """`count` samples a minute apart, flat unless a field is given as a series."""

    def at(i: int) -> dict[str, Any]:
        # Series has typed each value as its field is; items() of a TypedDict yields object,
        # so the cast only restates that every value is a sequence.
        columns = cast(dict[str, Sequence[Any]], series)
        return {name: values[i] for name, values in columns.items()}

    return [replace(FLAT, t_s=60.0 * (i + 1), **at(i)) for i in range(count)]


def failures(samples: list[Sample], tally: Tally = CLEAN) -> list[str]:
    return list(verdict(samples, tally, RATE)["failures"])


def test_a_flat_run_passes() -> None:
    result = verdict(minutes(), CLEAN, RATE)
    assert result["ok"], result["failures"]
    assert result["memory"]["serve_rss"]["slope_mb_per_min"] == 0


def test_noise_within_limits_passes() -> None:
    wobble = [120.0 + (3 if i % 2 else -3) for i in range(30)]
    latency = [Percentiles(25.0, 60.0 + (i % 5) * 10, 30_000) for i in range(30)]
    connections = [6 + i % 3 for i in range(30)]
    assert failures(minutes(rss_mb=wobble, commit_ms=latency, pg_connections=connections)) == []


def test_steady_memory_growth_fails() -> None:
    leaking = [120.0 + 1.5 * i for i in range(30)]  # 1.5 MB a minute: 2 GB a day
    assert failures(minutes(rss_mb=leaking)) == ["memory.serve_rss"]


def test_slow_growth_below_the_slope_limit_passes() -> None:
    settling = [120.0 + 0.3 * i for i in range(30)]
    assert failures(minutes(rss_mb=settling)) == []


def test_growth_during_the_warm_up_only_passes() -> None:
    warming = [100.0 + 5 * min(i, 9) for i in range(30)]  # 45 MB in ten minutes, then flat
    assert failures(minutes(rss_mb=warming)) == []


def test_a_one_off_memory_step_is_tolerated() -> None:
    stepped = [120.0 if i < 18 else 135.0 for i in range(30)]  # a cache filled once
    assert failures(minutes(rss_mb=stepped)) == []


def test_a_one_off_memory_spike_is_tolerated() -> None:
    spiked = [120.0] * 30
    spiked[25] = 400.0
    assert failures(minutes(rss_mb=spiked)) == []


def test_commit_latency_drift_fails() -> None:
    drifting = [Percentiles(25.0, 60.0 + 15 * i, 30_000) for i in range(30)]
    assert failures(minutes(commit_ms=drifting)) == ["latency.publish_to_commit"]


def test_sms_latency_drift_fails() -> None:
    drifting = [Percentiles(50.0, 120.0 + 100 * i, 12) for i in range(30)]
    assert failures(minutes(sms_ms=drifting)) == ["latency.press_to_sms"]


def test_a_one_off_latency_spike_is_tolerated() -> None:
    spiky = [Percentiles(25.0, 60.0, 30_000)] * 30
    spiky[28] = Percentiles(25.0, 5_000.0, 30_000)
    assert failures(minutes(commit_ms=spiky)) == []


def test_intervals_without_presses_are_left_out_of_the_drift() -> None:
    sparse = [Percentiles() if i % 2 else Percentiles(50.0, 120.0, 1) for i in range(30)]
    assert failures(minutes(sms_ms=sparse)) == []


def test_growing_connections_fail() -> None:
    leaking = [6 + i for i in range(30)]
    assert failures(minutes(pg_connections=leaking)) == ["connections.postgres"]
    assert failures(minutes(mqtt_connections=[33 + i for i in range(30)])) == ["connections.mqtt"]


def test_broker_figures_not_published_yet_are_not_a_failure() -> None:
    assert failures(minutes(mqtt_connections=[None] * 30, broker_queued=[None] * 30)) == []


def test_a_growing_backlog_fails() -> None:
    falling_behind = [150 + 200 * i for i in range(30)]  # 200 readings a minute behind
    assert failures(minutes(backlog=falling_behind)) == ["queues.readings_backlog"]


def test_a_growing_outbox_and_notification_queue_fail() -> None:
    growing = [i * 3 for i in range(30)]
    assert failures(minutes(outbox_unprocessed=growing, notifications_pending=growing)) == [
        "queues.outbox_unprocessed",
        "queues.notifications_pending",
    ]


@pytest.mark.parametrize(
    ("tally", "what"),
    [
        (replace(CLEAN, distinct_stored=899_999, stored=899_999), "lost"),
        (replace(CLEAN, stored=900_001), "duplicated"),
        (replace(CLEAN, presses_with_sms=359), "presses_without_sms"),
        (replace(CLEAN, duplicate_notifications=1), "duplicate_notifications"),
        (replace(CLEAN, broker_dropped=5), "broker_dropped"),
        (replace(CLEAN, errors=("nuanxin serve exited with -9",)), "errors"),
    ],
)
def test_anything_lost_or_doubled_fails(tally: Tally, what: str) -> None:
    result = verdict(minutes(), tally, RATE)
    assert result["failures"] == ["delivery.count"]
    assert result["delivery"]["count"][what]


def test_a_single_sample_is_judged_without_error() -> None:
    assert verdict(minutes(1), CLEAN, RATE)["ok"]
    assert verdict([], CLEAN, RATE)["ok"]


def test_theil_sen_ignores_one_outlier() -> None:
    points = [(float(x), 2.0 * x) for x in range(10)]
    points[4] = (4.0, 1_000.0)
    assert theil_sen_slope(points) == 2.0


def sms(body: str, at: float) -> ApiRequest:
    return ApiRequest(at, "POST", "/Messages.json", "message", {"Body": body}, {}, 201)


def test_each_press_gets_the_first_sms_naming_its_elder_after_it() -> None:
    presses = [("btn-005", 10.0), ("btn-050", 11.0), ("btn-005", 100.0)]
    messages = [
        sms("【暖心守护】老人050家紧急呼叫", 11.2),
        sms("【暖心守护】老人005家紧急呼叫", 10.1),
        sms("【暖心守护】第2次提醒：老人005家紧急呼叫未确认", 50.0),  # no press waits for it
        sms("【暖心守护】老人005家紧急呼叫", 100.3),
    ]
    assert first_sms_after(presses, messages) == {1: 11.2, 0: 10.1, 2: 100.3}


def test_an_elder_name_is_not_matched_inside_a_longer_one() -> None:
    presses = [("btn-100", 1.0)]
    assert first_sms_after(presses, [sms("老人1005家紧急呼叫", 2.0)]) == {}


def test_a_short_soak_against_serve(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--minutes", "1", "--sample-seconds", "15", "--homes", "200", "--rate", "100"]
    code = main(["bench", "soak", *args])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result["verdict"]["failures"]
    samples = result["samples"]
    assert [s["t_s"] for s in samples] == [15, 30, 45, 60]
    for sample in samples:
        assert sample["rss_mb"] > 0
        assert sample["pg_connections"] > 0
        assert sample["commit_ms"]["n"] > 0 and sample["commit_ms"]["p99"] > 0
        assert sample["stored_per_s"] > 0
        for field in ("backlog", "outbox_unprocessed", "notifications_pending"):
            assert sample[field] >= 0
    assert any(s["mqtt_connections"] for s in samples)  # $SYS comes every 10 s
    assert sum(s["sms_ms"]["n"] for s in samples) > 0
    totals = result["totals"]
    assert totals["published"] == totals["acked"] == totals["stored"] == 6_000
    assert totals["lost"] == totals["duplicated"] == 0
    assert totals["presses"] >= 10 and totals["presses_with_sms"] == totals["presses"]
    assert result["verdict"]["ok"]
