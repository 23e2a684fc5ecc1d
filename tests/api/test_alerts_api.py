"""The alerts API against a real database: lists, filters and scope, detail with timeline
and notifications, the ack → on-site → resolve transitions with their audit rows, and
the live stream over real HTTP (uvicorn). Alerts are opened by `AlertEngine.trigger`."""

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from alerting.dispatch import Dispatcher
from alerting.engine import utc_now
from alerting.notifiers.pg_push import PgPushNotifier
from alerting.planner import Channels
from api.app import create_app
from api.stream import LiveHub, ServerEvent
from core import notify_channels
from core.settings import Settings
from device_registry.access import Actor, Role
from device_registry.provisioning import BrokerAdmin
from tests.support.api_alerts import (
    OTHER_WORKER,
    WORKER_PHONE,
    Staff,
    add_staff,
    alert_row,
    audit_rows,
    open_alert,
)
from tests.support.api_server import serve
from tests.support.api_sse import SseStream
from tests.support.world import World

Auth = Callable[[str], dict[str, str]]
SMS_AND_VOICE = Channels(sms_providers=frozenset({"twilio"}), voice=True)


@pytest.fixture(scope="module")
def staff(pool: ConnectionPool, world: World) -> Staff:
    return add_staff(pool, world)


@pytest.fixture(scope="module")
def opened(pool: ConnectionPool, world: World, staff: Staff) -> dict[str, int]:
    now = utc_now()
    return {
        "east_a_call": open_alert(
            pool, world, "east_a", channels=SMS_AND_VOICE, at=now - timedelta(hours=3)
        ),
        "east_b_call": open_alert(pool, world, "east_b", at=now - timedelta(hours=2)),
        "kbs_call": open_alert(pool, world, "kbs", at=now - timedelta(hours=2)),
        "east_a_battery": open_alert(
            pool, world, "east_a", rule="low_battery", at=now - timedelta(hours=1)
        ),
        "east_b_test": open_alert(pool, world, "east_b", test=True, at=now - timedelta(minutes=30)),
    }


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/alerts", headers=headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


# --- lists, filters and scope -----------------------------------------------------------


def test_a_list_item_names_elder_address_district_device_and_times(
    client: TestClient, auth: Auth, world: World, opened: dict[str, int]
) -> None:
    items = listed(client, auth(world.usernames["admin"]), elder_id=world.elders["east_a"])
    [call] = [i for i in items if i["id"] == opened["east_a_call"]]
    assert call["elder_name"] == "王秀英"
    assert call["address"] == "东胜区富兴南路12号3单元201"
    assert (call["district_id"], call["district_name"]) == (world.districts["east"], "东胜区")
    assert (call["device_id"], call["device_type"]) == ("btn-east_a", "emergency_button")
    assert (call["rule"], call["severity"], call["status"], call["test"]) == (
        "emergency_call",
        "critical",
        "notified",
        False,
    )
    assert call["trigger_count"] == 1 and call["notification_count"] == 2  # SMS and app
    assert call["opened_at"] and call["acknowledged_at"] is None and call["resolved_at"] is None


def test_each_role_lists_only_what_it_looks_after(
    client: TestClient, auth: Auth, world: World, opened: dict[str, int]
) -> None:
    everything = set(ids(listed(client, auth(world.usernames["admin"]))))
    assert set(opened.values()) <= everything

    family = listed(client, auth(world.usernames["family"]))
    assert {i["elder_id"] for i in family} == {world.elders["east_a"]}
    assert not any(i["test"] for i in family)

    worker = listed(client, auth(world.usernames["community_worker"]))
    assert {i["district_id"] for i in worker} == {world.districts["east"]}
    assert {opened["east_a_call"], opened["east_b_call"], opened["east_b_test"]} <= set(ids(worker))

    other = listed(client, auth(OTHER_WORKER))
    assert opened["kbs_call"] in ids(other)
    assert {i["district_id"] for i in other} == {world.districts["kbs"]}

    installer = listed(client, auth(world.usernames["installer"]))
    assert opened["east_b_test"] in ids(installer)
    assert all(i["test"] for i in installer)


def test_filters(client: TestClient, auth: Auth, world: World, opened: dict[str, int]) -> None:
    admin = auth(world.usernames["admin"])
    mine = set(opened.values())

    def found(**params: Any) -> list[int]:
        return [i for i in ids(listed(client, admin, **params)) if i in mine]

    assert set(found(status="active")) == mine
    assert found(status="resolved") == []
    # newest first; kbs and east_b opened at one instant, the later id first
    assert found(severity="critical") == [
        opened["kbs_call"],
        opened["east_b_call"],
        opened["east_a_call"],
    ]
    assert set(found(district_id=world.districts["kbs"])) == {opened["kbs_call"]}
    assert set(found(elder_id=world.elders["east_b"])) == {
        opened["east_b_call"],
        opened["east_b_test"],
    }
    assert found(rule="low_battery") == [opened["east_a_battery"]]
    assert found(test=True) == [opened["east_b_test"]]
    now = utc_now()
    window = {
        "since": (now - timedelta(hours=2, minutes=30)).isoformat(),
        "until": (now - timedelta(minutes=45)).isoformat(),
    }
    assert set(found(**window)) == {
        opened["east_b_call"],
        opened["kbs_call"],
        opened["east_a_battery"],
    }
    bad = client.get("/api/v1/alerts", headers=admin, params={"rule": "earthquake"})
    assert bad.status_code == 422 and "emergency_call" in bad.text


def test_newest_first_but_active_lists_critical_first(
    client: TestClient, auth: Auth, world: World, opened: dict[str, int]
) -> None:
    admin = auth(world.usernames["admin"])
    pair = [opened["east_a_battery"], opened["east_a_call"]]  # newer maintenance, older critical
    east_a = {"elder_id": world.elders["east_a"]}
    newest = [i for i in ids(listed(client, admin, **east_a)) if i in pair]
    assert newest == pair
    active = [i for i in ids(listed(client, admin, status="active", **east_a)) if i in pair]
    assert active == pair[::-1]
    full = ids(listed(client, admin))
    assert ids(listed(client, admin, limit=1, offset=1)) == full[1:2]


# --- detail --------------------------------------------------------------------------------


def test_detail_has_timeline_and_notifications_masked_as_the_table_says(
    client: TestClient, auth: Auth, world: World, opened: dict[str, int]
) -> None:
    path = f"/api/v1/alerts/{opened['east_a_call']}"
    admin = client.get(path, headers=auth(world.usernames["admin"])).json()
    assert [e["kind"] for e in admin["timeline"]][:2] == ["opened", "notified"]
    [sms] = [n for n in admin["notifications"] if n["channel"] == "sms"]
    assert (sms["provider"], sms["destination"], sms["status"]) == (
        "twilio",
        WORKER_PHONE,
        "pending",
    )
    assert sms["contact_name"] == "刘网格员" and sms["attempts"] == 0 and sms["error"] is None

    # the EXPOSURE table: an on-call worker may call whom the alert paged; family may not
    for role, shown in (("community_worker", WORKER_PHONE), ("family", "+141****0101")):
        detail = client.get(path, headers=auth(world.usernames[role]))
        assert detail.status_code == 200, detail.text
        [seen] = [n for n in detail.json()["notifications"] if n["channel"] == "sms"]
        assert seen["destination"] == shown
    assert WORKER_PHONE not in client.get(path, headers=auth(world.usernames["family"])).text


def test_outside_ones_scope_an_alert_answers_404(
    client: TestClient, auth: Auth, world: World, opened: dict[str, int], pool: ConnectionPool
) -> None:
    east = opened["east_a_call"]
    other = auth(OTHER_WORKER)
    assert client.get(f"/api/v1/alerts/{east}", headers=other).status_code == 404
    assert client.post(f"/api/v1/alerts/{east}/ack", headers=other).status_code == 404
    family = auth(world.usernames["family"])
    assert client.get(f"/api/v1/alerts/{opened['east_b_call']}", headers=family).status_code == 404
    assert (
        client.get("/api/v1/alerts/999999", headers=auth(world.usernames["admin"])).status_code
        == 404
    )
    assert alert_row(pool, east)["status"] == "notified"


def test_installers_handle_test_alerts_only_and_family_never_sees_them(
    client: TestClient, auth: Auth, world: World, opened: dict[str, int], pool: ConnectionPool
) -> None:
    installer = auth(world.usernames["installer"])
    assert (
        client.get(f"/api/v1/alerts/{opened['east_b_call']}", headers=installer).status_code == 404
    )
    test_alert = open_alert(pool, world, "east_a", test=True)
    assert (
        client.get(
            f"/api/v1/alerts/{test_alert}", headers=auth(world.usernames["family"])
        ).status_code
        == 404
    )
    worker = client.get(
        f"/api/v1/alerts/{test_alert}", headers=auth(world.usernames["community_worker"])
    )
    assert worker.status_code == 200
    done = client.post(
        f"/api/v1/alerts/{test_alert}/resolve",
        headers=installer,
        json={"outcome": "device_fixed", "note": "安装测试"},
    )
    assert done.status_code == 200 and done.json()["resolved_by"] == "user:installer-east"


# --- transitions -----------------------------------------------------------------------


def test_ack_on_site_resolve_then_409_with_audit_rows(
    client: TestClient, auth: Auth, world: World, pool: ConnectionPool
) -> None:
    alert_id = open_alert(pool, world, "east_a", rule="tamper")
    worker = auth(world.usernames["community_worker"])
    base = f"/api/v1/alerts/{alert_id}"

    ack = client.post(f"{base}/ack", headers=worker)
    assert ack.status_code == 200, ack.text
    assert (ack.json()["status"], ack.json()["acknowledged_by"]) == (
        "acknowledged",
        "user:community-worker-east",
    )
    assert client.post(f"{base}/ack", headers=worker).json()["status"] == "acknowledged"
    here = client.post(f"{base}/on-site", headers=worker).json()
    assert (here["status"], here["on_site_by"]) == ("on_site", "user:community-worker-east")
    closed = client.post(
        f"{base}/resolve", headers=worker, json={"outcome": "false_alarm", "note": "猫碰到了"}
    ).json()
    assert (closed["status"], closed["outcome"], closed["note"]) == (
        "resolved",
        "false_alarm",
        "猫碰到了",
    )

    for action, body in (("resolve", {"outcome": "handled"}), ("ack", None), ("on-site", None)):
        again = client.post(f"{base}/{action}", headers=worker, json=body)
        assert again.status_code == 409, again.text
        assert "already resolved" in again.json()["detail"]

    rows = audit_rows(pool, alert_id)
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("community-worker-east", "alert.acknowledge"),
        ("community-worker-east", "alert.acknowledge"),
        ("community-worker-east", "alert.on_site"),
        ("community-worker-east", "alert.resolve"),
    ]
    assert [r["detail"]["changed"] for r in rows] == [True, False, True, True]
    assert rows[-1]["detail"]["outcome"] == "false_alarm"
    detail = client.get(base, headers=worker).json()
    kinds = [(e["kind"], e["actor"]) for e in detail["timeline"]]
    assert ("resolved", "user:community-worker-east") in kinds


def test_family_acknowledges_their_elder_and_outcomes_are_validated(
    client: TestClient, auth: Auth, world: World, pool: ConnectionPool
) -> None:
    alert_id = open_alert(pool, world, "east_a", rule="inactivity")
    family = auth(world.usernames["family"])
    assert client.post(f"/api/v1/alerts/{alert_id}/ack", headers=family).status_code == 200
    wrong = client.post(
        f"/api/v1/alerts/{alert_id}/resolve", headers=family, json={"outcome": "auto_cleared"}
    )
    assert wrong.status_code == 422
    assert alert_row(pool, alert_id)["status"] == "acknowledged"


# --- the live stream -------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_app(database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin) -> FastAPI:
    return create_app(Settings(database_url=database_url), pool, provisioner)


@pytest.fixture(scope="module")
def live(live_app: FastAPI, staff: Staff) -> Iterator[str]:
    with serve(live_app) as base_url:
        yield base_url


def stream(live: str, headers: dict[str, str] | None = None, token: str | None = None) -> SseStream:
    params = {"token": token} if token else None
    return SseStream(f"{live}/api/v1/alerts/stream", headers=headers, params=params)


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def about(alert_id: int) -> Callable[[Any], bool]:
    return lambda event: event.json()["id"] == alert_id


def test_stream_sends_each_user_the_changes_they_may_see(
    live: str, auth: Auth, world: World, pool: ConnectionPool
) -> None:
    family_token = bearer(auth(world.usernames["family"]))
    with (
        stream(live, auth(world.usernames["community_worker"])) as worker,
        stream(live, token=family_token) as family,
        stream(live, auth(OTHER_WORKER)) as other,
    ):
        started = time.monotonic()
        east_b = open_alert(pool, world, "east_b", rule="smoke")
        event = worker.next("alert", where=about(east_b), timeout=2)
        assert time.monotonic() - started < 2
        assert event.json()["status"] == "notified" and event.json()["elder_name"] == "李建国"

        east_a = open_alert(pool, world, "east_a", rule="smoke")
        family.next("alert", where=about(east_a))
        kbs = open_alert(pool, world, "kbs", rule="smoke")
        other.next("alert", where=about(kbs))
    assert east_b not in [e.json()["id"] for e in family.seen if e.event == "alert"]
    assert {e.json()["id"] for e in other.seen if e.event == "alert"} == {kbs}


def test_push_reaches_the_addressed_user_only(
    live: str, client: TestClient, auth: Auth, world: World, pool: ConnectionPool, staff: Staff
) -> None:
    admin_headers = auth(world.usernames["admin"])
    with (
        stream(live, auth(world.usernames["community_worker"])) as worker,
        stream(live, admin_headers) as admin,
    ):
        alert_id = open_alert(pool, world, "east_b", rule="gas", channels=Channels())
        notifiers = {("app", "push"): PgPushNotifier(pool)}
        Dispatcher(pool, notifiers, Channels(), utc_now).run_once()
        push = worker.next("push", where=lambda e: e.json()["alert_id"] == alert_id).json()
        assert push["user_id"] == str(staff.worker_user_id) and "李建国" in push["text"]

        client.post(f"/api/v1/alerts/{alert_id}/ack", headers=admin_headers)
        admin.next(
            "alert",
            where=lambda e: e.json()["id"] == alert_id and e.json()["status"] == "acknowledged",
        )
    assert not [e for e in admin.seen if e.event == "push"]


def test_a_push_about_an_alert_outside_the_users_scope_never_reaches_their_stream(
    live: str, auth: Auth, world: World, pool: ConnectionPool, database_url: str
) -> None:
    """A push addressed to a 康巴什区 worker about an alert of 东胜区 (planned before the
    planner checked scope, or by any other mistake) is dropped by the stream; the same
    worker's push about their own district's alert still arrives."""
    with pool.connection() as conn:
        row = conn.execute("SELECT id FROM users WHERE username = %s", (OTHER_WORKER,)).fetchone()
    assert row is not None
    other_user = str(row[0])
    east = open_alert(pool, world, "east_b", rule="smoke")
    kbs = open_alert(pool, world, "kbs", rule="smoke")
    with stream(live, auth(OTHER_WORKER)) as other:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for alert_id in (east, kbs):  # in this order: the second proves the first was read
                payload = {"user_id": other_user, "notification_id": 0, "alert_id": alert_id}
                conn.execute(
                    "SELECT pg_notify(%s, %s)",
                    (notify_channels.PUSH, json.dumps({**payload, "text": f"alert {alert_id}"})),
                )
        other.next("push", where=lambda e: e.json()["alert_id"] == kbs)
    assert [e.json()["alert_id"] for e in other.seen if e.event == "push"] == [kbs]


def test_stream_needs_a_token(live: str) -> None:
    for kwargs in ({}, {"token": "not-a-token"}):
        with pytest.raises(AssertionError, match="401"), stream(live, **kwargs):  # type: ignore[arg-type]
            pass


def test_stream_sends_heartbeats(live: str, live_app: FastAPI, auth: Auth, world: World) -> None:
    hub: LiveHub = live_app.state.live_hub
    hub.heartbeat_s = 0.2
    try:
        with stream(live, auth(world.usernames["admin"])) as admin:
            admin.next("comment", where=lambda e: e.data == "heartbeat", timeout=2)
    finally:
        hub.heartbeat_s = 15.0


def test_listener_reconnects_and_tells_clients_to_resync(
    live: str, auth: Auth, world: World, pool: ConnectionPool, database_url: str
) -> None:
    with stream(live, auth(world.usernames["admin"])) as admin:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'nuanxin-api-live' AND datname = current_database()"
            )
        admin.next("resync", timeout=5)
        alert_id = open_alert(pool, world, "kbs", rule="tamper")
        admin.next("alert", where=about(alert_id))


def test_a_slow_client_loses_only_its_own_events() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        hub = LiveHub(queue_size=2)
        hub.bind(asyncio.get_running_loop())
        someone = Actor(user_id=1, username="a", role=Role.ADMIN)
        slow, fast = hub.events(someone), hub.events(someone)
        for connected in (slow, fast):
            await anext(connected)
        fast_got = []
        for n in range(5):
            hub.deliver_threadsafe([(s, ServerEvent("alert", str(n))) for s in hub.subscribers()])
            fast_got.append(await anext(fast))
        slow_got = [await anext(slow) for _ in range(3)]
        for done in (slow, fast):
            await done.aclose()
        return fast_got, slow_got

    fast_got, slow_got = asyncio.run(scenario())
    assert fast_got == [f"event: alert\ndata: {n}\n\n" for n in range(5)]
    assert slow_got[0].startswith("event: resync")  # it fell behind: reload
    assert slow_got[1:] == ["event: alert\ndata: 0\n\n", "event: alert\ndata: 1\n\n"]
