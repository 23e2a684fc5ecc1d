"""Alerts for API tests, opened the way the engine opens them (`AlertEngine.trigger`),
and the people the test world lacks: a community worker with the app and a phone, and a
worker of the other district."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from alerting.engine import AlertEngine, utc_now
from alerting.planner import Channels
from alerting.rules import RULES_BY_NAME
from device_registry import contacts, users
from device_registry.access import system_actor
from device_registry.schemas import ContactCreate, UserCreate
from tests.support.world import PASSWORD, World

REAL_RULE = "emergency_call"
TEST_RULE = "fault"  # another rule, so a test alert never merges with an open real one
WORKER_PHONE = "+14155550101"
OTHER_WORKER = "community-worker-kbs"


def open_alert(
    pool: ConnectionPool,
    world: World,
    elder_key: str,
    *,
    rule: str | None = None,
    test: bool = False,
    channels: Channels | None = None,
    at: datetime | None = None,
) -> int:
    """Trigger an alert of the elder's button (a repeat if one is open); its id."""
    now = at or utc_now()
    engine = AlertEngine(pool, channels or Channels(), lambda: now)
    chosen = RULES_BY_NAME[rule or (TEST_RULE if test else REAL_RULE)]
    with pool.connection() as conn:
        return engine.trigger(
            conn, chosen, world.elders[elder_key], world.devices[elder_key], now, now, test=test
        )


@dataclass(frozen=True)
class Staff:
    worker_user_id: int
    worker_contact_id: int


def add_staff(pool: ConnectionPool, world: World) -> Staff:
    """A worker contact in the east community who is also the east worker's account (so
    the app channel reaches them), and a worker account for the other district."""
    root = system_actor("test-setup")
    with pool.connection() as conn:
        worker = _user_id(conn, world.usernames["community_worker"])
        contact = contacts.create_contact(
            conn,
            root,
            ContactCreate(
                kind="community_worker",
                name="刘网格员",
                phone=WORKER_PHONE,
                community_id=world.communities["east"],
                user_id=worker,
            ),
        )
        users.create_user(
            conn,
            root,
            UserCreate(
                username=OTHER_WORKER,
                password=PASSWORD,
                role="community_worker",
                district_ids=[world.districts["kbs"]],
            ),
        )
    world.usernames["other_worker"] = OTHER_WORKER
    return Staff(worker, contact.id)


def _user_id(conn: Any, username: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE username = %s", (username,)).fetchone()
    assert row is not None
    return int(row[0])


def alert_row(pool: ConnectionPool, alert_id: int) -> dict[str, Any]:
    with pool.connection() as conn:
        cur = conn.execute("SELECT * FROM alerts WHERE id = %s", (alert_id,))
        assert cur.description is not None
        names = [c.name for c in cur.description]
        row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def audit_rows(pool: ConnectionPool, alert_id: int) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT actor, action, detail FROM audit_log WHERE entity = 'alert'"
            " AND entity_id = %s ORDER BY id",
            (str(alert_id),),
        ).fetchall()
    return [{"actor": r[0], "action": r[1], "detail": r[2]} for r in rows]
