"""Escalation policies: district defaults per severity and per-elder overrides."""

from fastapi import APIRouter

from api.deps import CurrentActor, DbDep
from api.views import PersonalDataRoute
from core.inputs import RowId
from device_registry import policies
from device_registry.schemas import PolicyBase, PolicyCreate, PolicyPublic

router = APIRouter(prefix="/policies", tags=["policies"], route_class=PersonalDataRoute)


@router.get("", summary="Escalation policies you may see")
def list_policies(db: DbDep, actor: CurrentActor) -> list[PolicyPublic]:
    with db.transaction() as conn:
        return policies.list_policies(conn, actor)


@router.post("", status_code=201, summary="Create a district default or an elder override")
def create_policy(db: DbDep, actor: CurrentActor, body: PolicyCreate) -> PolicyPublic:
    with db.transaction() as conn:
        return policies.create_policy(conn, actor, body)


@router.get("/{policy_id}", summary="One policy")
def get_policy(db: DbDep, actor: CurrentActor, policy_id: RowId) -> PolicyPublic:
    with db.transaction() as conn:
        return policies.get_policy(conn, actor, policy_id)


@router.put("/{policy_id}", summary="Replace a policy's name, levels and repeat interval")
def replace_policy(
    db: DbDep, actor: CurrentActor, policy_id: RowId, body: PolicyBase
) -> PolicyPublic:
    with db.transaction() as conn:
        return policies.replace_policy(conn, actor, policy_id, body)


@router.delete("/{policy_id}", status_code=204, summary="Remove a policy")
def delete_policy(db: DbDep, actor: CurrentActor, policy_id: RowId) -> None:
    with db.transaction() as conn:
        policies.delete_policy(conn, actor, policy_id)
