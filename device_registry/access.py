"""Who may do what, and over which elders: the one place authorisation is decided.

Two questions, two tables:
- PERMISSIONS answers "may this role do this action at all?" (else 403);
- an Actor's scope answers "is this elder/district theirs?" (else 404, so nobody learns
  that another district's elder exists). Staff are scoped to assigned districts, family
  members to their own elders, admins to everything.
"""

from dataclasses import dataclass
from enum import StrEnum

from core.errors import PermissionDenied
from core.masking import FieldKind


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    INSTALLER = "installer"
    COMMUNITY_WORKER = "community_worker"
    FAMILY = "family"


ADMIN, OPERATOR, INSTALLER, WORKER, FAMILY = Role

_ALL = frozenset(Role)
_STAFF = frozenset({ADMIN, OPERATOR, INSTALLER, WORKER})

# (resource, action) → roles allowed. A new endpoint adds a row here, never an `if`.
PERMISSIONS: dict[tuple[str, str], frozenset[Role]] = {
    ("districts", "read"): _STAFF,
    ("districts", "write"): frozenset({ADMIN}),
    ("elders", "read"): _ALL,
    ("elders", "create"): frozenset({ADMIN, OPERATOR, INSTALLER}),
    ("elders", "update"): frozenset({ADMIN, OPERATOR, WORKER}),
    ("elders", "delete"): frozenset({ADMIN}),
    ("contacts", "read"): frozenset({ADMIN, OPERATOR, WORKER, FAMILY}),
    ("contacts", "write"): frozenset({ADMIN, OPERATOR, WORKER}),
    ("devices", "read"): _ALL,
    ("devices", "register"): frozenset({ADMIN, OPERATOR, INSTALLER}),
    ("devices", "update"): frozenset({ADMIN, OPERATOR, INSTALLER}),
    ("devices", "decommission"): frozenset({ADMIN, OPERATOR, INSTALLER}),
    ("devices", "check"): frozenset({ADMIN, OPERATOR, INSTALLER}),
    # Which models exist and what is wrong with them: for the people who register devices.
    ("catalogue", "read"): frozenset({ADMIN, OPERATOR, INSTALLER}),
    ("policies", "read"): frozenset({ADMIN, OPERATOR, WORKER}),
    ("policies", "write"): frozenset({ADMIN, OPERATOR}),
    ("users", "read"): frozenset({ADMIN}),
    ("users", "write"): frozenset({ADMIN}),
    ("audit", "read"): frozenset({ADMIN}),
    # Alerts of commissioned devices are for responders. Installers see and close only test
    # alerts (a device not yet commissioned pages nobody else); family members do not see
    # those, so an installer's smoke test never frightens a daughter.
    ("alerts", "read"): frozenset({ADMIN, OPERATOR, WORKER, FAMILY}),
    ("alerts", "act"): frozenset({ADMIN, OPERATOR, WORKER, FAMILY}),
    ("test_alerts", "read"): _STAFF,
    ("test_alerts", "act"): _STAFF,
    # The web app's pictures. When an elder moves about at home is as personal as their
    # health notes, so installers do not see it; device histories they need on site.
    ("activity", "read"): frozenset({ADMIN, OPERATOR, WORKER, FAMILY}),
    ("readings", "read"): _ALL,
    # Counts and response times across homes are for the people who run the service.
    ("overview", "read"): frozenset({ADMIN, OPERATOR}),
    ("reports", "read"): frozenset({ADMIN, OPERATOR}),
}

# The `test` flag of an alert → the PERMISSIONS resource that governs it.
ALERT_RESOURCES: dict[bool, str] = {False: "alerts", True: "test_alerts"}


class Exposure(StrEnum):
    WHOLE = "whole"
    MASKED = "masked"  # core.masking.MASKS: +86138****5678, 150***********0021
    HIDDEN = "hidden"  # null


W, M, H = Exposure

# Personal data: kind of field → how each role sees it, wherever the field appears (API
# answers, the live stream, CSV exports; device_registry.personal applies it). Logs mask
# every kind whatever the reader. SECURITY.md shows this table with the reasons. A kind
# without a masked form (MASKS) is whole or hidden.
EXPOSURE: dict[FieldKind, dict[Role, Exposure]] = {
    #                                 admin operator installer worker family
    FieldKind.ELDER_PHONE: dict(zip(Role, (W, W, M, W, W), strict=True)),
    FieldKind.CONTACT_PHONE: dict(zip(Role, (W, W, M, W, M), strict=True)),
    FieldKind.ID_CARD: dict(zip(Role, (W, M, M, M, M), strict=True)),
    FieldKind.HEALTH_NOTES: dict(zip(Role, (W, W, H, W, W), strict=True)),
    FieldKind.ADDRESS: dict(zip(Role, (W, W, W, W, W), strict=True)),
    FieldKind.ACCESS_NOTES: dict(zip(Role, (W, W, W, W, W), strict=True)),
    FieldKind.WEBHOOK_URL: dict(zip(Role, (W, M, M, M, M), strict=True)),
    FieldKind.ACCOUNT_ID: dict(zip(Role, (W, W, W, W, W), strict=True)),
    FieldKind.PROVIDER_TEXT: dict(zip(Role, (W, M, M, M, M), strict=True)),
    FieldKind.DESTINATION: dict(zip(Role, (W, W, W, W, W), strict=True)),  # see its kinds
    # An IMEI is a lifelong identifier of a radio that lives in one elder's home: linked
    # to them, personal information. Installers and operators need it whole to register
    # and trace a device; responders and family only to tell devices apart.
    FieldKind.HARDWARE_ID: dict(zip(Role, (W, W, W, M, M), strict=True)),
}


# Roles whose scope is a set of districts; family members are scoped to elders.
DISTRICT_SCOPED = frozenset({OPERATOR, INSTALLER, WORKER})


@dataclass(frozen=True)
class Actor:
    """The person (or the CLI) doing something, with what they may see."""

    user_id: int | None
    username: str
    role: Role
    district_ids: frozenset[int] = frozenset()
    elder_ids: frozenset[int] = frozenset()

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.ADMIN

    def can(self, resource: str, action: str) -> bool:
        return self.role in PERMISSIONS[(resource, action)]

    def require(self, resource: str, action: str) -> None:
        if not self.can(resource, action):
            raise PermissionDenied(f"role {self.role} may not {action} {resource}")

    def sees_district(self, district_id: int) -> bool:
        return self.sees_everything or district_id in self.district_ids

    def elder_filter(self, elder_column: str, district_column: str) -> tuple[str, list[object]]:
        """SQL condition limiting rows to this actor's elders, with its parameters."""
        if self.sees_everything:
            return "TRUE", []
        if self.role in DISTRICT_SCOPED:
            return f"{district_column} = ANY(%s)", [list(self.district_ids)]
        return f"{elder_column} = ANY(%s)", [list(self.elder_ids)]


def alert_scope(actor: Actor, action: str = "read") -> tuple[str, list[object]]:
    """SQL condition on `a` (alerts) and `c` (communities) limiting rows to the alerts
    this actor may `action`, with its parameters. The API lists alerts with it, and the
    alert engine asks it before paging anyone (alerting.recipients)."""
    kinds = [test for test, resource in ALERT_RESOURCES.items() if actor.can(resource, action)]
    if not kinds:
        raise PermissionDenied(f"role {actor.role} may not {action} alerts")
    condition, params = actor.elder_filter("a.elder_id", "c.district_id")
    return f"({condition}) AND a.test = ANY(%s)", [*params, kinds]


def system_actor(name: str = "system") -> Actor:
    """The platform itself or an operator at the command line: sees everything."""
    return Actor(user_id=None, username=name, role=Role.ADMIN)
