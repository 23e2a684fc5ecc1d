"""Accounts and the audit log (admins)."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentActor, DbDep
from api.views import PersonalDataRoute
from core.inputs import QueryText
from device_registry import audit, users
from device_registry.schemas import AuditEntry, UserCreate, UserPublic

router = APIRouter(tags=["admin"], route_class=PersonalDataRoute)


@router.get("/users", summary="All accounts (admin)")
def list_users(db: DbDep, actor: CurrentActor) -> list[UserPublic]:
    with db.transaction() as conn:
        return users.list_users(conn, actor)


@router.post("/users", status_code=201, summary="Create an account (admin)")
def create_user(db: DbDep, actor: CurrentActor, body: UserCreate) -> UserPublic:
    with db.transaction() as conn:
        return users.create_user(conn, actor, body)


@router.get("/audit", summary="Who changed what and when, newest first (admin)")
def read_audit(
    db: DbDep,
    actor: CurrentActor,
    entity: QueryText | None = None,
    entity_id: QueryText | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    with db.transaction() as conn:
        rows = audit.list_entries(conn, actor, entity=entity, entity_id=entity_id, limit=limit)
    return [AuditEntry(**row) for row in rows]
