"""The one check that every id inside a request body is in the actor's scope.

`check_body` walks a validated request model — nested models and lists included — finds
each field typed as a reference (device_registry.references), and resolves the ids of
each resource with one query per resource under the actor's scope: the same SQL
condition (`Actor.elder_filter`) every read of that resource uses. The first id outside
answers exactly as one that does not exist: InvalidRequest naming the field's place in
the body (422), so nobody learns that another district's contact or account exists.

Service functions call it right after the role check, inside the transaction that writes,
so the API and the CLI refuse alike, and a role that may not write at all still hears 403.
"""

import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

import psycopg
from pydantic import BaseModel

from core.errors import InvalidRequest
from device_registry.access import Actor
from device_registry.db import fetch_all
from device_registry.references import References, Resource

Location = tuple[str | int, ...]
Found = tuple[Location, Resource, int]
# (connection, actor, ids) → the ids among them that exist and lie in the actor's scope
Resolver = Callable[[psycopg.Connection[Any], Actor, list[int]], set[int]]


def check_body(conn: psycopg.Connection[Any], actor: Actor, body: BaseModel) -> None:
    """Raise InvalidRequest for the first referenced id the actor may not see."""
    found = list(references_in(body))
    wanted: dict[Resource, set[int]] = {}
    for _, resource, value in found:
        wanted.setdefault(resource, set()).add(value)
    in_scope = {r: RESOLVERS[r](conn, actor, sorted(ids)) for r, ids in wanted.items()}
    for location, resource, value in found:
        if value not in in_scope[resource]:
            raise InvalidRequest(f"{resource} {value} not found", field=location)


def references_in(model: BaseModel, at: Location = ()) -> Iterator[Found]:
    """Every (place in the body, resource, id) of a model's declared reference fields."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        resource = _declared(info.metadata)
        if resource is not None and isinstance(value, int):
            yield (*at, name), resource, value
        yield from _walk(info.annotation, value, (*at, name))


def _declared(metadata: list[Any] | tuple[Any, ...]) -> Resource | None:
    return next((m.resource for m in metadata if isinstance(m, References)), None)


def _walk(annotation: Any, value: Any, at: Location) -> Iterator[Found]:
    if value is None:
        return
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        resource = _declared(metadata)
        if resource is not None and isinstance(value, int):
            yield at, resource, value
        yield from _walk(inner, value, at)
    elif origin in (Union, types.UnionType):
        for option in get_args(annotation):
            yield from _walk(option, value, at)
    elif origin in (list, tuple, set, frozenset) and isinstance(value, list | tuple):
        [item_type, *_] = get_args(annotation) or (Any,)
        for index, item in enumerate(value):
            yield from _walk(item_type, item, (*at, index))
    elif _is_model(annotation) and isinstance(value, annotation):
        yield from references_in(value, at)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


# --- who sees what: one query per resource ------------------------------------------------


def _ids(conn: psycopg.Connection[Any], sql: str, params: list[object]) -> set[int]:
    return {int(row["id"]) for row in fetch_all(conn, sql, params)}


def _elders(conn: psycopg.Connection[Any], actor: Actor, ids: list[int]) -> set[int]:
    condition, params = actor.elder_filter("e.id", "c.district_id")
    return _ids(
        conn,
        "SELECT e.id FROM elders e JOIN communities c ON c.id = e.community_id"
        f" WHERE e.id = ANY(%s) AND {condition}",
        [ids, *params],
    )


def _communities(conn: psycopg.Connection[Any], actor: Actor, ids: list[int]) -> set[int]:
    # A community is nobody's elder: only a district scope (or everything) covers one.
    condition, params = actor.elder_filter("NULL", "c.district_id")
    return _ids(
        conn,
        f"SELECT c.id FROM communities c WHERE c.id = ANY(%s) AND COALESCE({condition}, FALSE)",
        [ids, *params],
    )


def _districts(conn: psycopg.Connection[Any], actor: Actor, ids: list[int]) -> set[int]:
    condition, params = actor.elder_filter("NULL", "d.id")
    return _ids(
        conn,
        f"SELECT d.id FROM districts d WHERE d.id = ANY(%s) AND COALESCE({condition}, FALSE)",
        [ids, *params],
    )


def _contacts(conn: psycopg.Connection[Any], actor: Actor, ids: list[int]) -> set[int]:
    # A contact lies where its elder, community or district does (as contacts.py lists them).
    district = "COALESCE(ct.district_id, cc.district_id, ec.district_id)"
    condition, params = actor.elder_filter("ct.elder_id", district)
    return _ids(
        conn,
        "SELECT ct.id FROM contacts ct LEFT JOIN communities cc ON cc.id = ct.community_id"
        " LEFT JOIN elders e ON e.id = ct.elder_id LEFT JOIN communities ec ON ec.id ="
        f" e.community_id WHERE ct.id = ANY(%s) AND COALESCE({condition}, FALSE)",
        [ids, *params],
    )


def _users(conn: psycopg.Connection[Any], actor: Actor, ids: list[int]) -> set[int]:
    """An account is in scope when everything it sees is: an admin's account only for
    admins; another's when each of its districts and each of its elders is the actor's."""
    districts, district_params = actor.elder_filter("NULL", "ud.district_id")
    elders, elder_params = actor.elder_filter("ue.elder_id", "c.district_id")
    return _ids(
        conn,
        "SELECT u.id FROM users u WHERE u.id = ANY(%s) AND (%s OR (u.role <> 'admin'"
        " AND NOT EXISTS (SELECT 1 FROM user_districts ud WHERE ud.user_id = u.id"
        f"  AND NOT COALESCE({districts}, FALSE))"
        " AND NOT EXISTS (SELECT 1 FROM user_elders ue JOIN elders e ON e.id = ue.elder_id"
        "  JOIN communities c ON c.id = e.community_id WHERE ue.user_id = u.id"
        f"  AND NOT COALESCE({elders}, FALSE))))",
        [ids, actor.sees_everything, *district_params, *elder_params],
    )


RESOLVERS: dict[Resource, Resolver] = {
    Resource.ELDER: _elders,
    Resource.COMMUNITY: _communities,
    Resource.DISTRICT: _districts,
    Resource.CONTACT: _contacts,
    Resource.USER: _users,
}
