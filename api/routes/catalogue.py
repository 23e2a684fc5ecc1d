"""The device catalogue (core.catalog): kinds and known models, with their quirks."""

from fastapi import APIRouter

from api.deps import CurrentActor
from api.views import PersonalDataRoute
from device_registry import catalogue
from device_registry.schemas import CataloguePublic

router = APIRouter(prefix="/catalogue", tags=["devices"], route_class=PersonalDataRoute)


@router.get(
    "",
    summary="Device kinds and known models, with their transport and quirks",
    description=(
        "What a device's `model` may name (its key, model or a model id, any case), how "
        "each model reaches nuanxin, and each known defect with its mitigation: a device "
        "registered without a quirk's code in `mitigations` carries that warning."
    ),
)
def get_catalogue(actor: CurrentActor) -> CataloguePublic:
    return catalogue.listing(actor)
