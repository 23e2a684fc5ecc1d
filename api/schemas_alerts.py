"""Alert request and response models: AlertBase → AlertPublic → AlertDetail, and the
bodies of the actions people take.

Destinations are personal data: everyone but admins sees phone numbers as
+86139****5678 and webhook URLs without their query (robot keys live there), masked by
core.masking, which the logs use too.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from alerting.lifecycle import Outcome
from core.inputs import Strict
from core.masking import mask_phone, mask_text, mask_url
from device_registry.schemas import Severity


class AlertStatus(StrEnum):
    OPEN = "open"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    ON_SITE = "on_site"
    RESOLVED = "resolved"


class StatusFilter(StrEnum):
    """A status, or `active`: every status but resolved."""

    OPEN = "open"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    ACTIVE = "active"


class AlertBase(BaseModel):
    rule: str = Field(description="emergency_call, smoke, gas, inactivity, device_offline, …")
    severity: Severity
    status: AlertStatus
    test: bool = Field(description="from a device not yet commissioned: pages the installer only")


class AlertPublic(AlertBase):
    """One alert as lists and the live stream show it."""

    id: int
    elder_id: int | None
    elder_name: str | None
    address: str | None
    community_id: int | None
    district_id: int | None
    district_name: str | None
    device_id: str | None
    device_type: str | None
    room: str | None
    trigger_count: int = Field(description="how often the condition fired while open")
    notification_count: int
    delivered_count: int
    failed_count: int
    level: int = Field(description="escalation level reached, 0-based; -1 before the first")
    opened_at: datetime
    triggered_at: datetime = Field(description="device time of the first trigger")
    last_triggered_at: datetime
    condition_cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    on_site_at: datetime | None
    on_site_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: str | None
    note: str
    next_due_at: datetime | None = Field(
        description="when escalation acts next unless someone acts first"
    )


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: dict[str, Any]


class NotificationPublic(BaseModel):
    id: int
    level: int
    round: int
    channel: str
    provider: str | None
    destination: str = Field(description="masked for everyone but admins")
    contact_id: int | None
    contact_name: str | None
    status: str
    attempts: int
    error: str | None
    fallback_of: int | None = Field(description="the notification this one replaces")
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime


class AlertDetail(AlertPublic):
    timeline: list[TimelineEntry]
    notifications: list[NotificationPublic]


class AlertResolve(Strict):
    outcome: Outcome
    note: Annotated[str, Field(max_length=2000)] = ""


# --- masking ---------------------------------------------------------------------------


def mask_destination(channel: str, destination: str) -> str:
    if channel == "webhook":
        return mask_url(destination)
    if channel == "app":
        return destination  # our own user id
    return mask_phone(destination)


def mask_detail(value: Any) -> Any:
    if isinstance(value, str):
        return mask_url(value) if value.startswith(("http://", "https://")) else mask_text(value)
    if isinstance(value, dict):
        return {key: mask_detail(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_detail(item) for item in value]
    return value
