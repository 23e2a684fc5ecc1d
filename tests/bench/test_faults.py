"""`nuanxin bench faults`, short: the same code path with 200 homes and 3-second faults.
Under every fault, nothing the broker acknowledged is lost or stored twice, every press
gets its one alert, and every notification that became due is sent, once."""

import pytest

from bench.faults import FAULTS, FaultsBenchConfig, failures, run

CONFIG = FaultsBenchConfig(homes=200, fault_seconds=3, rate=200, presses=3, settle_timeout_s=90)


@pytest.mark.timeout(420)
def test_no_fault_loses_doubles_or_leaves_an_alarm_unsent() -> None:
    result = run(CONFIG)
    rows = {row["name"]: row for row in result["faults"]}

    assert list(rows) == list(FAULTS)
    for name, row in rows.items():
        assert failures(row, CONFIG.presses) == [], (name, row)
        assert row["published"] > 0, (name, row)
        assert row["presses"] == row["alerts"] == row["notifications_due"] == CONFIG.presses
    total = result["total"]
    assert total["lost"] == total["duplicated"] == total["sent_twice"] == 0
