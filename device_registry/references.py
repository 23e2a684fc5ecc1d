"""What an id inside a request body is: the declaration `device_registry.scope` acts on.

Every `*_id` / `*_ids` field of a request model is typed with one of the aliases below,
never a bare `int`:

- `References(resource)`: the id of an existing object, which must lie in the actor's
  scope (`scope.check_body` resolves it; outside or absent answer the same 422);
- `Names(resource)`: the id of the object the request itself creates; it refers to
  nothing, so there is nothing to resolve.

Both also mark the field in the OpenAPI document (`x-references`, `x-names`), so clients
see what an id means and a test can find any id field that someone forgot to declare.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import GetJsonSchemaHandler
from pydantic_core import CoreSchema

from core.inputs import RowId


class Resource(StrEnum):
    ELDER = "elder"
    COMMUNITY = "community"
    DISTRICT = "district"
    CONTACT = "contact"
    USER = "user"
    DEVICE = "device"


@dataclass(frozen=True)
class _Marked:
    """Field metadata shown in the OpenAPI schema as `x-<extension>: <resource>`."""

    resource: Resource
    extension: ClassVar[str]

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema[f"x-{self.extension}"] = self.resource.value
        return json_schema


class References(_Marked):
    """Holds the id of an existing `resource` the actor must see."""

    extension = "references"


class Names(_Marked):
    """The id of the `resource` this request creates."""

    extension = "names"


ElderRef = Annotated[RowId, References(Resource.ELDER)]
CommunityRef = Annotated[RowId, References(Resource.COMMUNITY)]
DistrictRef = Annotated[RowId, References(Resource.DISTRICT)]
ContactRef = Annotated[RowId, References(Resource.CONTACT)]
UserRef = Annotated[RowId, References(Resource.USER)]
