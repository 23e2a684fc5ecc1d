"""Safety invariant 3 with the values that really poisoned jobs: a time zone or a rule
setting that got into the database without validation must not stop any other elder's
alert, and the elder it belongs to is still watched (on the default zone)."""

from collections.abc import Iterator
from dataclasses import fields
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from alerting import timers
from alerting.rules import SETTING_RANGES, RuleSettings
from simulators.demo_world import DEMO_RULES
from tests.support.alerting_stack import AlertingStack, alerting_stack
from tests.support.clock import T0


@pytest.fixture
def stack() -> Iterator[AlertingStack]:
    with alerting_stack() as stack:
        yield stack


def item_errors(job: str) -> float:
    return REGISTRY.get_sample_value("nuanxin_job_item_errors_total", {"job": job}) or 0.0


def add_elder_with_pir(stack: AlertingStack, name: str, pir: str) -> int:
    with stack.pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO elders (community_id, name) VALUES (%s, %s) RETURNING id",
            (stack.ids["community"], name),
        ).fetchone()
        assert row is not None
        home = conn.execute(
            "INSERT INTO homes (elder_id, address) VALUES (%s, '富兴南路14号') RETURNING id",
            (row[0],),
        ).fetchone()
        assert home is not None
        conn.execute(
            "INSERT INTO devices (device_id, device_type, home_id, state, commissioned_at,"
            " heartbeat_interval_s) VALUES (%s, 'pir', %s, 'commissioned', %s, 600)",
            (pir, home[0], T0 - timedelta(days=1)),
        )
    return int(row[0])


def nobody_moved_for_12_hours(stack: AlertingStack, *pirs: str) -> None:
    for pir in pirs:
        stack.reading(pir, motion=True)
    stack.clock.advance(hours=12, minutes=1)
    for pir in pirs:
        stack.reading(pir, motion=False)  # alive, heartbeating, nobody moving


def inactive_elders(stack: AlertingStack) -> set[int]:
    return {a["elder_id"] for a in stack.alerts() if a["rule"] == "inactivity"}


@pytest.mark.parametrize("zone", ["Asia/Beijing", "", "../../etc/passwd", "asia/shanghai"])
def test_an_unknown_stored_zone_stops_no_inactivity_alert(stack: AlertingStack, zone: str) -> None:
    other = add_elder_with_pir(stack, "李桂兰", "pir-2")
    with stack.pool.connection() as conn:  # past every check, as an old row or a hand edit
        conn.execute("UPDATE elders SET timezone = %s WHERE id = %s", (zone, stack.ids["elder"]))
    nobody_moved_for_12_hours(stack, "pir-1", "pir-2")
    before = item_errors("inactivity")
    timers.check_inactivity(stack.service.engine)
    # The other elder is alerted, and so is the one with the bad zone: on Asia/Shanghai.
    assert inactive_elders(stack) == {other, stack.ids["elder"]}
    assert item_errors("inactivity") == before + 1


@pytest.mark.parametrize(
    "settings",
    [
        '{"morning_hour": 25}',
        '{"night_end_hour": -1}',
        '{"inactivity_hours": 1e400}',
        '{"inactivity_hours": -3}',
        '{"offline_heartbeats": 1e30}',
    ],
)
def test_a_stored_rule_setting_out_of_range_falls_back_to_the_default(
    stack: AlertingStack, settings: str
) -> None:
    other = add_elder_with_pir(stack, "李桂兰", "pir-2")
    with stack.pool.connection() as conn:
        conn.execute(
            "UPDATE elders SET rule_settings = %s::jsonb WHERE id = %s",
            (settings, stack.ids["elder"]),
        )
    nobody_moved_for_12_hours(stack, "pir-1", "pir-2")
    timers.check_inactivity(stack.service.engine)
    timers.check_offline(stack.service.engine)
    assert inactive_elders(stack) == {other, stack.ids["elder"]}


@pytest.mark.parametrize("name", [f.name for f in fields(RuleSettings)])
def test_every_rule_setting_has_a_range_and_nothing_outside_it_is_trusted(name: str) -> None:
    # A new threshold without a range fails here, before it can poison a job.
    assert name in SETTING_RANGES
    low, high = SETTING_RANGES[name]
    for bad in (low - 1, high + 1, float("inf"), float("nan"), 10**400, "12", True, None):
        assert RuleSettings.merged({name: bad}) == RuleSettings(), bad
    assert getattr(RuleSettings.merged({name: high}), name) == high


def test_the_demos_compressed_settings_are_within_range() -> None:
    assert RuleSettings.merged(DEMO_RULES) == RuleSettings(**DEMO_RULES)  # type: ignore[arg-type]
