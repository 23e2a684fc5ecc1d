"""Devices: register (MQTT credentials shown once), change, decommission, and the
installation check that commissions them."""

from fastapi import APIRouter

from api.deps import CurrentActor, DbDep, ProvisionerDep
from api.views import PersonalDataRoute
from core.inputs import DeviceId, RowId
from device_registry import devices, installation
from device_registry.schemas import (
    CheckOpen,
    DevicePublic,
    DeviceRegister,
    DeviceRegistered,
    DeviceUpdate,
    InstallationCheck,
)

router = APIRouter(prefix="/devices", tags=["devices"], route_class=PersonalDataRoute)


@router.get("", summary="Devices in homes you look after")
def list_devices(
    db: DbDep, actor: CurrentActor, elder_id: RowId | None = None
) -> list[DevicePublic]:
    with db.transaction() as conn:
        return devices.list_devices(conn, actor, elder_id)


@router.post(
    "",
    status_code=201,
    summary="Register a device in an elder's home",
    description=(
        "Creates the device in state `registered` and its own MQTT account on the broker. "
        "The password in `mqtt` is shown only in this answer; nuanxin does not keep it. "
        "Zigbee devices (with `zigbee_name` or `zigbee_ieee`) publish through their "
        "gateway, and devices behind a carrier platform (`platform` with "
        "`platform_device_id` and/or `imei`) through the platform: neither gets an account. "
        "A catalogue `model` (GET /catalogue) must match `device_type` and the way in "
        "(422 naming the field otherwise); its defaults fill `power_source` and "
        "`heartbeat_interval_s` when they are left out. `warnings` lists the model's "
        "quirks not yet in `mitigations` and says when the catalogue does not know the "
        "model. A duplicate device_id, Zigbee name, platform id or IMEI answers 409."
    ),
)
def register_device(
    db: DbDep, actor: CurrentActor, provisioner: ProvisionerDep, body: DeviceRegister
) -> DeviceRegistered:
    with db.transaction() as conn:
        return devices.register_device(conn, actor, body, provisioner)


@router.get("/{device_id}", summary="One device with its last known state")
def get_device(db: DbDep, actor: CurrentActor, device_id: DeviceId) -> DevicePublic:
    with db.transaction() as conn:
        return devices.get_device(conn, actor, device_id)


@router.patch("/{device_id}", summary="Change a device, or put it in / out of maintenance")
def update_device(
    db: DbDep, actor: CurrentActor, device_id: DeviceId, body: DeviceUpdate
) -> DevicePublic:
    with db.transaction() as conn:
        return devices.update_device(conn, actor, device_id, body)


@router.post(
    "/{device_id}/decommission",
    summary="Take a device out of service; its MQTT account is revoked at once",
)
def decommission_device(
    db: DbDep, actor: CurrentActor, provisioner: ProvisionerDep, device_id: DeviceId
) -> DevicePublic:
    with db.transaction() as conn:
        return devices.decommission_device(conn, actor, device_id, provisioner)


@router.post(
    "/{device_id}/installation-check",
    status_code=201,
    summary="Open an installation check",
    description=(
        "Then make the device send a self-test (press an emergency button). When it "
        "arrives before the check expires, the device becomes `commissioned`."
    ),
)
def open_check(
    db: DbDep, actor: CurrentActor, device_id: DeviceId, body: CheckOpen | None = None
) -> InstallationCheck:
    with db.transaction() as conn:
        return installation.open_check(conn, actor, device_id, body or CheckOpen())


@router.get(
    "/{device_id}/installation-check",
    summary="The latest installation check: which messages arrived, which are missing",
)
def get_check(db: DbDep, actor: CurrentActor, device_id: DeviceId) -> InstallationCheck:
    with db.transaction() as conn:
        return installation.get_check(conn, actor, device_id)
