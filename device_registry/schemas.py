"""Request and response models: Base → Create / Update → Public, validated at the edge.

Validation answers say which field is wrong and why (FastAPI turns them into 422s).
Phone numbers are normalised to E.164 here, so nothing past this module sees local forms.
Request bodies are `Strict` and PATCH bodies `Patch` (core.inputs): a field is `Clearable`
in an Update exactly where its column may be NULL.
"""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from core.catalog import Transport
from core.identity import DEVICE_ID_PATTERN, device_id_problem
from core.inputs import Clearable, Patch, Strict
from core.masking import FieldKind
from core.types import DeviceLifecycle, DeviceType, EventKind
from core.vocabulary import Channel, Severity
from core.zones import DEFAULT_ZONE, valid_zone
from device_registry.access import Role
from device_registry.personal import personal
from device_registry.references import (
    CommunityRef,
    ContactRef,
    DistrictRef,
    ElderRef,
    Names,
    Resource,
    UserRef,
)

DEFAULT_PHONE_REGION = "CN"


def to_e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number (mainland numbers may omit +86)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _id_card(value: str) -> str:
    value = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValueError(
            "a resident ID card number has 18 characters: 17 digits, then a digit or X"
        )
    return value


Phone = Annotated[str, AfterValidator(to_e164)]
# A zone that the scheduler's jobs can use: one of the system's zoneinfo database.
Zone = Annotated[str, AfterValidator(valid_zone)]
IdCard = Annotated[str, AfterValidator(_id_card)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


def _device_id(value: str) -> str:
    problem = device_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# The pattern shows in the OpenAPI schema; the validator adds the reserved prefix.
DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN), AfterValidator(_device_id)]


# Ids in request bodies are typed by what they refer to (device_registry.references), so
# device_registry.scope checks every one of them against the actor's scope.
NewDeviceId = Annotated[DeviceId, Names(Resource.DEVICE)]

BirthYear = Annotated[int, Field(ge=1900, le=2100)]
HealthNotes = Annotated[str, Field(max_length=4000)]


# --- districts -------------------------------------------------------------------------


class DistrictCreate(Strict):
    name: Name
    timezone: Zone = DEFAULT_ZONE


class CommunityCreate(Strict):
    name: Name


class CommunityPublic(BaseModel):
    id: int
    name: str


class DistrictPublic(BaseModel):
    id: int
    name: str
    timezone: str
    communities: list[CommunityPublic]


# --- elders ----------------------------------------------------------------------------


class Presence(StrEnum):
    HOME = "home"
    AWAY = "away"  # staying elsewhere: no inactivity alerts
    HOSPITAL = "hospital"


class HomeIn(Strict):
    address: Annotated[str, Field(min_length=2, max_length=300)]
    access_notes: Annotated[str, Field(max_length=1000)] = ""


class ElderBase(Strict):
    name: Name
    birth_year: BirthYear | None = None
    phone: Phone | None = None
    health_notes: HealthNotes = ""
    presence: Presence = Presence.HOME
    timezone: Zone = DEFAULT_ZONE


class ElderCreate(ElderBase):
    community_id: CommunityRef
    id_card: IdCard | None = None
    home: HomeIn


class ElderUpdate(Patch):
    name: Name | None = None
    birth_year: Clearable[BirthYear] = None
    phone: Clearable[Phone] = None
    health_notes: HealthNotes | None = None
    presence: Presence | None = None
    id_card: Clearable[IdCard] = None
    home: HomeIn | None = None


class RoomCreate(Strict):
    name: Name


class RoomPublic(BaseModel):
    id: int
    name: str


class HomePublic(BaseModel):
    id: int
    address: str = personal(FieldKind.ADDRESS)
    access_notes: str = personal(FieldKind.ACCESS_NOTES, "how a responder gets in")
    rooms: list[RoomPublic]


class ElderPublic(BaseModel):
    id: int
    community_id: int
    district_id: int
    name: str
    id_card: str | None = personal(FieldKind.ID_CARD, "masked (110***********1234) but for admins")
    birth_year: int | None
    phone: str | None = personal(FieldKind.ELDER_PHONE)
    health_notes: str | None = personal(FieldKind.HEALTH_NOTES, "null for installers")
    presence: Presence
    timezone: str
    home: HomePublic


# --- contacts --------------------------------------------------------------------------


class ContactKind(StrEnum):
    COMMUNITY_WORKER = "community_worker"
    FAMILY = "family"
    SUPERVISOR = "supervisor"


SCOPE_FIELD = {
    ContactKind.FAMILY: "elder_id",
    ContactKind.COMMUNITY_WORKER: "community_id",
    ContactKind.SUPERVISOR: "district_id",
}


class ContactCreate(Strict):
    kind: ContactKind
    name: Name
    phone: Phone
    locale: Literal["zh-CN", "en"] = "zh-CN"
    elder_id: ElderRef | None = Field(None, description="family members: their elder")
    community_id: CommunityRef | None = Field(
        None, description="community workers: their community"
    )
    district_id: DistrictRef | None = Field(None, description="supervisors: their district")
    relation: Annotated[str, Field(max_length=50)] = ""
    priority: Annotated[int, Field(ge=1, le=99)] = 1
    user_id: UserRef | None = Field(
        None, description="the person's own account, for app alerts; one you look after"
    )

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        wanted = SCOPE_FIELD[self.kind]
        for field_name in SCOPE_FIELD.values():
            given = getattr(self, field_name) is not None
            if given != (field_name == wanted):
                raise ValueError(f"a {self.kind} contact needs {wanted} and no other scope field")
        return self


class ContactUpdate(Patch):
    name: Name | None = None
    phone: Phone | None = None
    locale: Literal["zh-CN", "en"] | None = None
    relation: Annotated[str, Field(max_length=50)] | None = None
    priority: Annotated[int, Field(ge=1, le=99)] | None = None


class ContactPublic(BaseModel):
    id: int
    kind: ContactKind
    name: str
    phone: str = personal(FieldKind.CONTACT_PHONE, "masked for family members and installers")
    locale: str
    elder_id: int | None
    community_id: int | None
    district_id: int | None
    relation: str
    priority: int
    user_id: int | None


# --- devices ---------------------------------------------------------------------------


class PowerSource(StrEnum):
    BATTERY = "battery"
    MAINS = "mains"


# Heartbeat intervals differ by power source: mains hubs report in minutes, battery
# sensors in hours to save the battery. A catalogue model's own interval comes first.
DEFAULT_HEARTBEAT_S = {PowerSource.MAINS: 300, PowerSource.BATTERY: 3600}


class Platform(StrEnum):
    """The carrier IoT platforms a device can reach us through (core.catalog
    CARRIER_PLATFORMS; the devices table's CHECK lists the same)."""

    CTWING = "ctwing"
    ONENET = "onenet"
    IOTDA = "iotda"


def _imei(value: str) -> str:
    """15 digits whose last is the Luhn check digit of the others, as on every module's
    label: a mistyped digit is refused here rather than found when no push arrives."""
    if not re.fullmatch(r"\d{15}", value):
        raise ValueError("an IMEI has 15 digits (*#06# or the label on the device)")
    if not _luhn_valid(value):
        raise ValueError("the IMEI's last digit does not check (Luhn): a digit is mistyped")
    return value


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


# The pattern is shown in the schema; the validator's words say what to fix.
Imei = Annotated[str, Field(json_schema_extra={"pattern": r"^\d{15}$"}), AfterValidator(_imei)]
# As the devices table's CHECK: what CTWing, OneNET and IoTDA device ids are made of.
PlatformDeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
QuirkCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


def _unique_codes(codes: list[str]) -> list[str]:
    return sorted(set(codes))


Mitigations = Annotated[
    list[QuirkCode],
    Field(max_length=20, description="codes of the model's quirks dealt with on site"),
    AfterValidator(_unique_codes),
]
ModelName = Annotated[
    str, Field(max_length=100, description="catalogue key, model or model id (GET /catalogue)")
]
HeartbeatS = Annotated[int, Field(ge=30, le=86400)]


class DeviceRegister(Strict):
    device_id: NewDeviceId
    device_type: DeviceType
    elder_id: ElderRef
    room: Name | None = Field(None, description="room name, created if new (厨房, 卧室 …)")
    model: ModelName = ""
    serial: Annotated[str, Field(max_length=100)] = ""
    power_source: PowerSource = Field(
        PowerSource.BATTERY, description="left out: mains if the catalogue model says so"
    )
    heartbeat_interval_s: HeartbeatS | None = Field(
        None, description="left out: the catalogue model's, else by power source and kind"
    )
    zigbee_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    zigbee_ieee: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{16}$")] | None = None
    platform: Platform | None = Field(
        None, description="the carrier IoT platform the device reports through"
    )
    platform_device_id: PlatformDeviceId | None = Field(
        None, description="the device's id on its platform (CTWing deviceId, IoTDA device_id)"
    )
    imei: Imei | None = Field(None, description="the NB-IoT / 4G module's IMEI")
    mitigations: Mitigations = Field(default_factory=list)


class DeviceUpdate(Patch):
    room: Clearable[Name] = Field(None, description="null: the device is in no named room")
    model: ModelName | None = None
    serial: Annotated[str, Field(max_length=100)] | None = None
    heartbeat_interval_s: HeartbeatS | None = None
    maintenance: bool | None = Field(None, description="true: maintenance mode; false: back")
    platform_device_id: Clearable[PlatformDeviceId] = None
    imei: Clearable[Imei] = None
    mitigations: Mitigations | None = None


class WarningKind(StrEnum):
    OPEN_QUIRK = "open_quirk"  # a known defect of the model, its mitigation not listed
    UNKNOWN_MODEL = "unknown_model"  # decoded without a catalogue row


class DeviceWarning(BaseModel):
    """What an installer must look at before leaving the home; computed from the
    catalogue on every read, so it goes away once the mitigation is listed."""

    kind: WarningKind
    code: str = Field(description="the quirk's code (list it in mitigations once done)")
    message: str = Field(description="in English")
    message_zh: str = Field(description="in Chinese (zh-CN)")


_HARDWARE_ID_SEEN_BY = "masked but for installers, operators and admins"


class DevicePublic(BaseModel):
    device_id: str
    device_type: DeviceType
    state: DeviceLifecycle
    elder_id: int | None
    room: str | None
    model: str
    catalogue_key: str | None = Field(
        None, description="the catalogue row `model` names; null: not in the catalogue"
    )
    serial: str
    power_source: PowerSource
    heartbeat_interval_s: int
    zigbee_name: str | None
    zigbee_ieee: str | None
    platform: Platform | None = None
    platform_device_id: str | None = personal(FieldKind.HARDWARE_ID, _HARDWARE_ID_SEEN_BY)
    imei: str | None = personal(FieldKind.HARDWARE_ID, _HARDWARE_ID_SEEN_BY)
    mitigations: list[str] = Field(default_factory=list)
    warnings: list[DeviceWarning] = Field(default_factory=list)
    created_at: datetime
    commissioned_at: datetime | None
    decommissioned_at: datetime | None
    online: bool | None = None
    last_seen_at: datetime | None = None
    battery: int | None = None
    rssi: int | None = None


class MqttCredentials(BaseModel):
    username: str
    password: str = Field(description="shown once; nuanxin does not keep it")
    topic_prefix: str


class DeviceRegistered(DevicePublic):
    mqtt: MqttCredentials | None = Field(
        description=(
            "the device's own broker account; null for Zigbee devices behind a gateway and"
            " devices behind a carrier platform"
        )
    )


# --- the device catalogue (core.catalog), as the app reads it --------------------------


class KindPublic(BaseModel):
    device_type: DeviceType
    label_zh: str
    label_en: str
    proof_event: EventKind = Field(description="what the installation check waits for")
    heartbeat_s: int = Field(description="default interval of a battery device")


class QuirkPublic(BaseModel):
    code: str = Field(description="list it in a device's mitigations once dealt with")
    summary: str
    mitigation: str
    summary_zh: str = Field(description="the summary in Chinese (zh-CN)")
    mitigation_zh: str = Field(description="what to do, in Chinese (zh-CN)")
    references: list[str]


class ModelPublic(BaseModel):
    key: str
    vendor: str
    model: str
    kind: DeviceType
    transport: Transport
    model_ids: list[str]
    mains_powered: bool
    heartbeat_s: int
    proof_event: EventKind
    quirks: list[QuirkPublic]
    remarks: str = Field(description="the catalogue's notes on decoding the model")


class CataloguePublic(BaseModel):
    kinds: list[KindPublic]
    models: list[ModelPublic]


class CheckStatus(StrEnum):
    WAITING = "waiting"
    PASSED = "passed"
    EXPIRED = "expired"


class CheckOpen(Strict):
    minutes: Annotated[int, Field(ge=1, le=120)] = 15


class InstallationCheck(BaseModel):
    id: int
    device_id: str
    status: CheckStatus
    device_state: DeviceLifecycle
    opened_at: datetime
    expires_at: datetime
    passed_at: datetime | None
    arrived: list[str] = Field(description="messages received since the check opened")
    missing: list[str] = Field(description="messages still expected")


# --- escalation policies ---------------------------------------------------------------


class Target(Strict):
    """Who a level pages: every contact of a kind (family in priority order) or one person."""

    role: ContactKind | None = None
    contact_id: ContactRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.role is None) == (self.contact_id is None):
            raise ValueError("a target names either a role or a contact_id")
        return self


class PolicyLevel(Strict):
    targets: Annotated[list[Target], Field(min_length=1)]
    channels: Annotated[list[Channel], Field(min_length=1)]
    timeout_s: Annotated[int, Field(ge=30, le=86400)]


class PolicyBase(Strict):
    name: Name
    levels: Annotated[list[PolicyLevel], Field(min_length=1, max_length=10)]
    repeat_interval_s: Annotated[int, Field(ge=60, le=86400)] = 600


class PolicyCreate(PolicyBase):
    severity: Severity
    district_id: DistrictRef | None = None
    elder_id: ElderRef | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        if (self.district_id is None) == (self.elder_id is None):
            raise ValueError("a policy is a district default (district_id) or an elder override")
        return self


class PolicyPublic(PolicyBase):
    model_config = ConfigDict(extra="ignore")

    id: int
    severity: Severity
    district_id: int | None
    elder_id: int | None


# --- users and audit -------------------------------------------------------------------


class UserCreate(Strict):
    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")]
    password: Annotated[str, Field(min_length=10, max_length=200)]
    role: Role
    display_name: Annotated[str, Field(max_length=100)] = ""
    district_ids: list[DistrictRef] = Field(default_factory=list)
    elder_ids: list[ElderRef] = Field(default_factory=list)

    @field_validator("district_ids", "elder_ids", mode="after")
    @classmethod
    def _unique(cls, ids: list[int]) -> list[int]:
        return sorted(set(ids))

    @model_validator(mode="after")
    def _scope_fits_role(self) -> Self:
        if self.role is Role.FAMILY and (self.district_ids or not self.elder_ids):
            raise ValueError("a family member is linked to elder_ids, not districts")
        if self.role not in (Role.FAMILY, Role.ADMIN) and (self.elder_ids or not self.district_ids):
            raise ValueError(f"a {self.role} is assigned to district_ids")
        return self


class PasswordChange(Strict):
    current_password: Annotated[str, Field(max_length=200)]
    new_password: Annotated[str, Field(min_length=10, max_length=200)]


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    district_ids: list[int]
    elder_ids: list[int]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class AuditEntry(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    actor: str = personal(FieldKind.ACCOUNT_ID)
    action: str
    entity: str
    entity_id: str
    detail: dict[str, object] = personal(FieldKind.PROVIDER_TEXT)
