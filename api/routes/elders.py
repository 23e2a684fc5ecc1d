"""Elders, their homes and rooms."""

from fastapi import APIRouter

from api.deps import CurrentActor, DbDep
from api.views import PersonalDataRoute
from core.inputs import RowId
from device_registry import contacts, elders
from device_registry.schemas import (
    ContactPublic,
    ElderCreate,
    ElderPublic,
    ElderUpdate,
    RoomCreate,
    RoomPublic,
)

router = APIRouter(prefix="/elders", tags=["elders"], route_class=PersonalDataRoute)


@router.get("", summary="Elders you look after")
def list_elders(db: DbDep, actor: CurrentActor) -> list[ElderPublic]:
    with db.transaction() as conn:
        return elders.list_elders(conn, actor)


@router.post("", status_code=201, summary="Add an elder and their home")
def create_elder(db: DbDep, actor: CurrentActor, body: ElderCreate) -> ElderPublic:
    with db.transaction() as conn:
        return elders.create_elder(conn, actor, body)


@router.get("/{elder_id}", summary="One elder with home and rooms")
def get_elder(db: DbDep, actor: CurrentActor, elder_id: RowId) -> ElderPublic:
    with db.transaction() as conn:
        return elders.get_elder(conn, actor, elder_id)


@router.patch("/{elder_id}", summary="Change an elder (e.g. presence: away / hospital)")
def update_elder(db: DbDep, actor: CurrentActor, elder_id: RowId, body: ElderUpdate) -> ElderPublic:
    with db.transaction() as conn:
        return elders.update_elder(conn, actor, elder_id, body)


@router.delete("/{elder_id}", status_code=204, summary="Remove an elder (admin)")
def delete_elder(db: DbDep, actor: CurrentActor, elder_id: RowId) -> None:
    with db.transaction() as conn:
        elders.delete_elder(conn, actor, elder_id)


@router.post("/{elder_id}/rooms", status_code=201, summary="Add a room to the elder's home")
def add_room(db: DbDep, actor: CurrentActor, elder_id: RowId, body: RoomCreate) -> RoomPublic:
    with db.transaction() as conn:
        return elders.add_room(conn, actor, elder_id, body)


@router.get(
    "/{elder_id}/contacts",
    summary="Everyone who may be called for this elder, in escalation order",
)
def elder_contacts(db: DbDep, actor: CurrentActor, elder_id: RowId) -> list[ContactPublic]:
    with db.transaction() as conn:
        return contacts.list_contacts(conn, actor, elder_id)
