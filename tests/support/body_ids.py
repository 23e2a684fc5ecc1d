"""Every id field inside every request body, read from the OpenAPI document.

A property named `*_id` or `*_ids` anywhere in a request body (nested models and lists
included) is an id. The registry's schemas declare what each one is (`x-references`: an
existing object the actor must see; `x-names`: the id of the object the request creates);
these helpers find them all, so a test can insist that none is left undeclared.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ID_NAME = re.compile(r".+_ids?$")
ANY = "*"  # a list index in a field's path


@dataclass(frozen=True)
class BodyIdField:
    method: str
    path: str
    field: tuple[str, ...]  # e.g. ("levels", "*", "targets", "*", "contact_id")
    references: str | None  # the resource it must be in scope of
    names: str | None  # the resource it is the new id of

    @property
    def declared(self) -> bool:
        return (self.references is None) != (self.names is None)

    def __str__(self) -> str:
        return f"{self.method} {self.path} {'.'.join(self.field)}"


def body_id_fields(spec: dict[str, Any]) -> list[BodyIdField]:
    found: list[BodyIdField] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for field, schema in _ids(spec, media.get("schema", {}), (), frozenset()):
                    found.append(
                        BodyIdField(
                            method.upper(),
                            path,
                            field,
                            _declared(spec, schema, "x-references"),
                            _declared(spec, schema, "x-names"),
                        )
                    )
    return sorted(set(found), key=str)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]


def _ids(
    spec: dict[str, Any], schema: dict[str, Any], at: tuple[str, ...], seen: frozenset[str]
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    ref = schema.get("$ref")
    if ref in seen:
        return
    seen = seen | {ref} if ref else seen
    schema = _resolve(spec, schema)
    for branch in _branches(schema):
        yield from _ids(spec, branch, at, seen)
    if "items" in schema:
        yield from _ids(spec, schema["items"], (*at, ANY), seen)
    for name, prop in schema.get("properties", {}).items():
        if ID_NAME.fullmatch(name):
            yield (*at, name), prop
        yield from _ids(spec, prop, (*at, name), seen)


def _declared(spec: dict[str, Any], schema: dict[str, Any], key: str) -> str | None:
    """The declaration on a property, on a branch of it (optional) or on its items (lists)."""
    schema = _resolve(spec, schema)
    if key in schema:
        return str(schema[key])
    for inner in [*_branches(schema), *([schema["items"]] if "items" in schema else [])]:
        if (found := _declared(spec, inner, key)) is not None:
            return found
    return None
