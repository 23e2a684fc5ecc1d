"""Alert request and response models: AlertBase → AlertPublic → AlertDetail, and the
bodies of the actions people take.

Addresses, destinations and provider text are personal data: each field declares its
kind (device_registry.personal), and the API shows it to each role as the EXPOSURE table
says — phone numbers as +86139****5678 and webhook URLs without their query (robot keys
live there) to those who may not see them whole.
"""

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field

from core.inputs import Strict
from core.masking import FieldKind
from core.vocabulary import AlertStatus, Outcome, Severity
from device_registry.personal import personal

ACTIVE: Final = "active"
# A status, or `active`: every status but resolved.
StatusFilter = AlertStatus | Literal["active"]


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
    address: str | None = personal(FieldKind.ADDRESS)
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
    actor: str = personal(FieldKind.PROVIDER_TEXT, "who: a person, a contact or the platform")
    detail: dict[str, Any] = personal(FieldKind.PROVIDER_TEXT)


class NotificationPublic(BaseModel):
    id: int
    level: int
    round: int
    channel: str
    provider: str | None
    destination: str = personal(FieldKind.DESTINATION, "a phone number, webhook URL or account")
    contact_id: int | None
    contact_name: str | None
    status: str
    attempts: int
    error: str | None = personal(FieldKind.PROVIDER_TEXT, "what the provider answered")
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
