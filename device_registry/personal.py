"""Personal data in answers: a field declares its kind once, and one function shows a
model to a role as device_registry.access.EXPOSURE says.

    phone: str | None = personal(FieldKind.CONTACT_PHONE)

`personal()` puts the kind in the field's JSON schema (`x-personal`), so the OpenAPI
document says which fields are personal and the tests find them there. `view_for(model,
role)` returns a copy of any model with every such field — nested models and lists
included — whole, masked or None for that role. The API applies it to every answer
(api.views.PersonalDataRoute); the live stream and CSV exports call it themselves.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from core.masking import MASKS, FieldKind, concrete_kind
from device_registry.access import EXPOSURE, Exposure, Role

SCHEMA_KEY = "x-personal"

M = TypeVar("M", bound=BaseModel)


def personal(kind: FieldKind, description: str | None = None) -> Any:
    """A model field holding personal data of this kind."""
    return Field(description=description, json_schema_extra={SCHEMA_KEY: kind.value})


def kind_of(info: FieldInfo) -> FieldKind | None:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and SCHEMA_KEY in extra:
        return FieldKind(str(extra[SCHEMA_KEY]))
    return None


def exposed_value(kind: FieldKind, role: Role | None, value: Any) -> Any:
    """The value as this role may see it; no role (nobody known) sees the least."""
    if value is None:
        return None
    kind = concrete_kind(kind, value)
    mask = MASKS[kind]
    exposure = EXPOSURE[kind][role] if role is not None else Exposure.MASKED
    if exposure is Exposure.WHOLE:
        return value
    if exposure is Exposure.MASKED and mask is not None:
        return mask(value)
    return None


def view_for(model: M, role: Role | None) -> M:
    """A copy of the model with every personal field as this role may see it."""
    updates: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        kind = kind_of(info)
        if kind is not None:
            updates[name] = exposed_value(kind, role, value)
        elif isinstance(value, BaseModel):
            updates[name] = view_for(value, role)
        elif isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
            updates[name] = [view_any(item, role) for item in value]
    return model.model_copy(update=updates) if updates else model


def view_any(value: Any, role: Role | None) -> Any:
    """`view_for` through lists and tuples; other values as they are."""
    if isinstance(value, BaseModel):
        return view_for(value, role)
    if isinstance(value, list | tuple):
        return [view_any(item, role) for item in value]
    return value
