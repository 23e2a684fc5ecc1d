"""Contacts: community workers, family members and supervisors."""

from fastapi import APIRouter

from api.deps import CurrentActor, DbDep
from api.views import PersonalDataRoute
from core.inputs import RowId
from device_registry import contacts
from device_registry.schemas import ContactCreate, ContactPublic, ContactUpdate

router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=PersonalDataRoute)


@router.get("", summary="Contacts you may see")
def list_contacts(db: DbDep, actor: CurrentActor) -> list[ContactPublic]:
    with db.transaction() as conn:
        return contacts.list_contacts(conn, actor)


@router.post("", status_code=201, summary="Add a contact (phone normalised to E.164)")
def create_contact(db: DbDep, actor: CurrentActor, body: ContactCreate) -> ContactPublic:
    with db.transaction() as conn:
        return contacts.create_contact(conn, actor, body)


@router.get("/{contact_id}", summary="One contact")
def get_contact(db: DbDep, actor: CurrentActor, contact_id: RowId) -> ContactPublic:
    with db.transaction() as conn:
        return contacts.get_contact(conn, actor, contact_id)


@router.patch("/{contact_id}", summary="Change a contact")
def update_contact(
    db: DbDep, actor: CurrentActor, contact_id: RowId, body: ContactUpdate
) -> ContactPublic:
    with db.transaction() as conn:
        return contacts.update_contact(conn, actor, contact_id, body)


@router.delete("/{contact_id}", status_code=204, summary="Remove a contact")
def delete_contact(db: DbDep, actor: CurrentActor, contact_id: RowId) -> None:
    with db.transaction() as conn:
        contacts.delete_contact(conn, actor, contact_id)
