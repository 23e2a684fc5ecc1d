"""Districts (旗区) and their communities."""

from fastapi import APIRouter

from api.deps import CurrentActor, DbDep
from api.views import PersonalDataRoute
from core.inputs import RowId
from device_registry import districts
from device_registry.schemas import CommunityCreate, CommunityPublic, DistrictCreate, DistrictPublic

router = APIRouter(prefix="/districts", tags=["districts"], route_class=PersonalDataRoute)


@router.get("", summary="Districts visible to you, with their communities")
def list_districts(db: DbDep, actor: CurrentActor) -> list[DistrictPublic]:
    with db.transaction() as conn:
        return districts.list_districts(conn, actor)


@router.post("", status_code=201, summary="Create a district (admin)")
def create_district(db: DbDep, actor: CurrentActor, body: DistrictCreate) -> DistrictPublic:
    with db.transaction() as conn:
        return districts.create_district(conn, actor, body)


@router.get("/{district_id}", summary="One district with its communities")
def get_district(db: DbDep, actor: CurrentActor, district_id: RowId) -> DistrictPublic:
    with db.transaction() as conn:
        return districts.get_district(conn, actor, district_id)


@router.post("/{district_id}/communities", status_code=201, summary="Add a community (admin)")
def create_community(
    db: DbDep, actor: CurrentActor, district_id: RowId, body: CommunityCreate
) -> CommunityPublic:
    with db.transaction() as conn:
        return districts.create_community(conn, actor, district_id, body)
