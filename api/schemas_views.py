"""Response models of the web app's pictures: the activity heat-map, device histories,
the operator overview and the monthly report for the civil-affairs bureau.

Times are UTC instants (ISO 8601 with offset); days and hours of the heat-map and the
report's month are local (the `timezone` field says which zone), because that is how
people read them.
"""

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from core.masking import FieldKind
from core.vocabulary import Severity
from device_registry.personal import personal

# People in Ordos read days, weeks and months in this zone (no daylight saving time).
LOCAL_TZ: Final = "Asia/Shanghai"


def query_error(name: str, message: str) -> RequestValidationError:
    """A 422 naming a query parameter, shaped like FastAPI's own validation answers, for
    checks that span parameters (a range, a bucket count)."""
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


# --- activity and device histories -------------------------------------------------------


class ActivityHeatmap(BaseModel):
    elder_id: int
    timezone: str = Field(description="the zone of `days` and the hour columns")
    days: list[date] = Field(description="local days, oldest first; today is the last")
    counts: list[list[int]] = Field(
        description="PIR motion reports per local hour: counts[day][hour], 24 hours a day"
    )
    total: int
    max: int = Field(description="the largest count of one hour, for the colour scale")
    last_motion_at: datetime | None


class ReadingField(StrEnum):
    """Numeric reading columns a history can be drawn of."""

    GAS_LEL = "gas_lel"
    BATTERY = "battery"
    RSSI = "rssi"
    TEMPERATURE = "temperature"
    SMOKE_DENSITY = "smoke_density"
    ILLUMINANCE = "illuminance"


class Bucket(StrEnum):
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    HOUR = "1h"
    SIX_HOURS = "6h"
    DAY = "1d"

    @property
    def width(self) -> timedelta:
        return BUCKET_WIDTHS[self]


BUCKET_WIDTHS: Final = {
    Bucket.FIVE_MINUTES: timedelta(minutes=5),
    Bucket.FIFTEEN_MINUTES: timedelta(minutes=15),
    Bucket.HOUR: timedelta(hours=1),
    Bucket.SIX_HOURS: timedelta(hours=6),
    Bucket.DAY: timedelta(days=1),
}


class ReadingPoint(BaseModel):
    at: datetime = Field(description="start of the bucket")
    min: float
    max: float
    avg: float
    count: int


class ReadingHistory(BaseModel):
    device_id: str
    field: ReadingField
    bucket: Bucket
    since: datetime
    until: datetime
    points: list[ReadingPoint] = Field(description="buckets with readings only, oldest first")


# --- operator overview ---------------------------------------------------------------------


class OpenAlertCount(BaseModel):
    district_id: int
    district_name: str
    severity: Severity
    count: int


class DeviceAttention(BaseModel):
    """A device someone should look at: silent, offline or with a low battery."""

    device_id: str
    device_type: str
    elder_id: int
    elder_name: str
    address: str = personal(FieldKind.ADDRESS)
    district_name: str
    room: str | None
    online: bool | None
    last_seen_at: datetime | None
    battery: int | None


class WeekResponse(BaseModel):
    """How fast people answered critical alerts opened since Monday 00:00 local time."""

    since: datetime
    alerts: int
    acknowledged: int
    on_site: int
    median_ack_s: float | None
    median_on_site_s: float | None


class Overview(BaseModel):
    generated_at: datetime
    open_alerts: list[OpenAlertCount]
    offline: list[DeviceAttention]
    low_battery: list[DeviceAttention]
    week: WeekResponse


# --- monthly report ------------------------------------------------------------------------


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class RuleOutcomeCount(BaseModel):
    rule: str
    rule_label: str = Field(description="the rule as the bureau reads it (zh-CN)")
    severity: Severity
    outcome: str = Field(description="the resolution outcome, or `open` if not resolved")
    count: int


class ResponseTimes(BaseModel):
    severity: Severity
    alerts: int
    acknowledged: int
    median_ack_s: float | None
    p90_ack_s: float | None
    acked_within_60s: int = Field(description="telecare target: 97.5 % within 60 s")
    on_site: int
    median_on_site_s: float | None
    on_site_within_45min: int = Field(description="telecare target: 90 % within 45 min")


class DeliveryAttempt(BaseModel):
    notification_id: int
    alert_id: int
    rule: str
    level: int
    round: int
    channel: str
    provider: str | None
    destination: str = personal(FieldKind.DESTINATION, "a phone number, webhook URL or account")
    contact_name: str | None
    status: str
    attempts: int
    error: str | None = personal(FieldKind.PROVIDER_TEXT, "what the provider answered")
    fallback_of: int | None
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime


class DistrictReport(BaseModel):
    district_id: int
    district_name: str
    alerts: list[RuleOutcomeCount]
    response: list[ResponseTimes]
    deliveries: list[DeliveryAttempt]


class MonthlyReport(BaseModel):
    month: str = Field(description="YYYY-MM, local time")
    timezone: str
    start: datetime
    end: datetime
    districts: list[DistrictReport]
