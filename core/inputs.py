"""What the API accepts at its edge, declared once and reused by every body and parameter.

- `RowId`, `Offset`: integers PostgreSQL's bigint can hold, so a path, query or body id past
  it is a 422 naming the field rather than an error in the database; `DeviceId` likewise
  for device ids, in a path or a body.
- `storable_text`: text PostgreSQL can store: no NUL. `Strict` applies it to every string
  of every request body, `QueryText` to query parameters. (Text that is not UTF-8, a lone
  surrogate such as "\\ud800" in a JSON string, pydantic refuses itself: api.validation
  words that answer.)
- `Strict`: the base of every request body: unknown fields, non-finite numbers (NaN,
  Infinity, 1e400) and unstorable text are refused with a message naming the field.
- `Patch`: the base of every PATCH body. A field left out keeps its value; `null` clears a
  field declared `Clearable[...]` (its column may be empty) and is a 422 for any other. The
  published schema says which: only clearable fields admit null there.
"""

from typing import Annotated, Any, TypeVar

from annotated_types import Interval
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from core.types import DEVICE_ID_PATTERN

BIGINT_MAX = 2**63 - 1

RowId = Annotated[int, Interval(ge=1, le=BIGINT_MAX)]
Offset = Annotated[int, Interval(ge=0, le=BIGINT_MAX)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]


def storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


QueryText = Annotated[str, AfterValidator(storable_text)]


def _check_text(value: object) -> None:
    """Every string inside a field's value: lists and mappings of text included."""
    if isinstance(value, str):
        storable_text(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        # Nested Strict models check their own fields; here the field's own strings.
        _check_text(value)
        return value


class _Clears:
    """Marks a PATCH field whose null clears the stored value."""

    def __repr__(self) -> str:
        return "Clears"


CLEARS = _Clears()
T = TypeVar("T")
Clearable = Annotated[T | None, CLEARS]


def _null_only_where_clearable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The published schema admits null only where null clears the value."""
    clearable = Patch.clearable_fields(model)
    for name, prop in schema.get("properties", {}).items():
        if name in clearable or "anyOf" not in prop:
            continue
        kept = [branch for branch in prop.pop("anyOf") if branch != {"type": "null"}]
        if prop.get("default", ...) is None:
            del prop["default"]
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept


class Patch(Strict):
    model_config = ConfigDict(json_schema_extra=_null_only_where_clearable)

    @staticmethod
    def clearable_fields(model: type[BaseModel]) -> frozenset[str]:
        return frozenset(
            name for name, field in model.model_fields.items() if CLEARS in field.metadata
        )

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_clearable(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in Patch.clearable_fields(cls):
            raise ValueError(
                f"{info.field_name} cannot be emptied: leave it out to keep the value,"
                " or send a new one"
            )
        return value
