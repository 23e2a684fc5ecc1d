"""Who may be told about an alert: the rule the API reads alerts by (`access.alert_scope`),
asked again for each person the escalation is about to page.

A contact is seen as an actor of what it is — family of one elder, community worker of
a community's district, supervisor of a district — and the app account linked to it as
the actor it signs in as. Whoever could not read the alert through the API is not paged
about it. So data stored before the API refused such ids (a policy naming another
district's contact, a contact linked to another district's account) reaches nobody
outside the alert's district or family; the planner logs each such skip and writes it
on the alert's timeline.
"""

from dataclasses import dataclass
from typing import Any, Final

import psycopg

from alerting import store
from core.errors import PermissionDenied
from device_registry.access import Actor, Role, alert_scope
from device_registry.users import actor_for_user

# A contact's kind → the role whose scope (its elder, or its district) it has.
CONTACT_ROLE: Final = {
    "family": Role.FAMILY,
    "community_worker": Role.COMMUNITY_WORKER,
    "supervisor": Role.OPERATOR,
}

CONTACT_SCOPE_SQL = """
SELECT ct.id, ct.kind, ct.elder_id, ct.user_id,
       COALESCE(ct.district_id, cc.district_id) AS district_id
FROM contacts ct LEFT JOIN communities cc ON cc.id = ct.community_id
WHERE ct.id = %s
"""


@dataclass(frozen=True)
class Barred:
    """Why a contact, or only the app account linked to it, may not hear of an alert."""

    contact_id: int
    reason: str
    user_id: int | None = None  # set: only the app is barred; SMS and calls still go

    @property
    def whole_contact(self) -> bool:
        return self.user_id is None


def barred(conn: psycopg.Connection[Any], alert_id: int, contact_id: int) -> Barred | None:
    """None when the contact, and the account linked to it, may both read the alert."""
    row = store.fetch_one(conn, CONTACT_SCOPE_SQL, (contact_id,))
    if row is None:
        return Barred(contact_id, "the contact no longer exists")
    if not may_read(conn, contact_actor(row), alert_id):
        return Barred(contact_id, f"a {row['kind']} contact outside the alert's district or family")
    user_id = row["user_id"]
    if user_id is not None:
        user = actor_for_user(conn, user_id)
        if user is None or not may_read(conn, user, alert_id):
            return Barred(contact_id, "the linked app account may not see this alert", user_id)
    return None


def contact_actor(row: store.Row) -> Actor:
    elder_ids = frozenset({row["elder_id"]}) if row["elder_id"] is not None else frozenset()
    district_ids = (
        frozenset({row["district_id"]}) if row["district_id"] is not None else frozenset()
    )
    return Actor(
        user_id=None,
        username=f"contact:{row['id']}",
        role=CONTACT_ROLE[row["kind"]],
        district_ids=district_ids,
        elder_ids=elder_ids,
    )


def may_read(conn: psycopg.Connection[Any], actor: Actor, alert_id: int) -> bool:
    try:
        condition, params = alert_scope(actor)
    except PermissionDenied:
        return False
    row = store.fetch_one(
        conn,
        "SELECT 1 AS ok FROM alerts a LEFT JOIN elders e ON e.id = a.elder_id"
        f" LEFT JOIN communities c ON c.id = e.community_id WHERE a.id = %s AND {condition}",
        [alert_id, *params],
    )
    return row is not None
