"""Schemathesis over the API's OpenAPI schema, signed in as a user of each role: every
operation, with generated path, query and body values, answers without a 5xx and without an
unhandled exception (the ASGI test transport re-raises them, failing the test).

Two phases, both deterministic so a run is repeatable and bounded (about a minute for the
file on two cores):
- fuzzing, for every role: Hypothesis draws values that fit the schema and values that do
  not (derandomized, a few examples per operation and mode);
- coverage, signed in as an admin (whose scope lets most values reach the database): the
  boundary values of every parameter and field, each once — the largest id, one past it,
  null where null is not allowed, a wrong type, a missing required field. This is the phase
  ...
- hostile values, signed in as an admin: the first valid request of the coverage phase with
  one value at a time (path, query or top-level body) replaced by what broke the API before:
  integers past bigint, NaN and Infinity, a lone surrogate, NUL, null. Schemathesis draws
  none of these from a schema that does not forbid them, so this sweep is what fails on the
  code before tests/api/test_bad_input.py (which keeps each case).

Not fuzzed, by design: the live stream `/api/v1/alerts/stream` (an endless SSE response)
and the provider webhooks (`/webhooks/...`), whose Twilio signature check rejects every
generated request before any parsing — tests/api/test_webhooks.py covers them with signed
requests instead; and `/api/v1/auth/logout`, which takes no input but the token and would
only revoke the token the rest of the run uses."""

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation, BaseSchema

from device_registry.access import Role
from tests.support.world import World

# /auth/logout takes no input but the token: fuzzing it would only revoke our own token.
EXCLUDED_PATHS = r"^(/api/v1/alerts/stream|/api/v1/auth/logout|/api/v1/webhooks/.*)$"
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
PER_OPERATION = settings(
    derandomize=True,
    max_examples=3,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
Auth = Callable[[str], dict[str, str]]
# schemathesis's generics name its own parameter, response and schema classes; the sweep
# reads only an operation's method, path and parameters, so they stay open.
Operation = APIOperation[Any, Any, Any, Any]
OperationCase = Case[Operation]


def check(case: OperationCase, headers: dict[str, str]) -> None:
    response = case.call(headers=headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
        f"{response.status_code} {response.text}"
    )


def fuzz_operation(operation: Operation, headers: dict[str, str]) -> None:
    for mode in MODES:

        @PER_OPERATION
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: OperationCase) -> None:
            check(case, headers)

        try:
            call()
        except Unsatisfiable:
            # Nothing to get wrong: the operation takes no parameters and no body.
            if mode is not GenerationMode.NEGATIVE:
                raise


def cover_operation(schema: BaseSchema, operation: Operation, headers: dict[str, str]) -> None:
    config = schema.config.generation_for(operation=operation)
    cases = schema.iter_coverage_cases(
        operation, generation_modes=list(MODES), generation_config=config
    )
    failures = []
    for case in cases:
        try:
            check(case, headers)
        except AssertionError as error:
            failures.append(str(error).splitlines()[0])
    assert not failures, f"{len(failures)} cases, e.g. {failures[0]}"


def first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def api_schema(client: TestClient) -> BaseSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    return schema.exclude(path_regex=EXCLUDED_PATHS)


def operations(schema: BaseSchema) -> Iterator[Operation]:
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        yield result.ok()


def run_all(schema: BaseSchema, run: Callable[[Operation], None]) -> None:
    """Every operation runs; all failures are reported at once."""
    count, failures = 0, list[str]()
    for operation in operations(schema):
        count += 1
        try:
            run(operation)
        except Exception as error:
            failures.append(f"{operation.label}: {first_line(error)}")
    assert count > 10
    assert not failures, "\n".join(failures)


def signed_in(world: World, auth: Auth, role: str) -> dict[str, str]:
    # Sign everyone in first: fuzzing /auth/token soon trips the per-address login limit.
    every_role = {name: auth(username) for name, username in world.usernames.items()}
    return every_role[role]


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_no_server_error_for_any_role(
    role: str, client: TestClient, world: World, auth: Auth
) -> None:
    headers = signed_in(world, auth, role)
    run_all(api_schema(client), lambda operation: fuzz_operation(operation, headers))


def test_no_server_error_at_any_boundary(client: TestClient, world: World, auth: Auth) -> None:
    headers = signed_in(world, auth, Role.ADMIN)
    schema = api_schema(client)
    run_all(schema, lambda operation: cover_operation(schema, operation, headers))


INTEGERS = (2**63, -(2**63) - 1)
HOSTILE_BODY = (*INTEGERS, float("nan"), float("inf"), "\ud800", "\x00", None)
# A URL cannot carry a lone surrogate (it is percent-encoded UTF-8), nor null.
HOSTILE_URL = (*INTEGERS, "NaN", "Infinity", "\x00")


def first_valid_case(schema: BaseSchema, operation: Operation) -> OperationCase | None:
    config = schema.config.generation_for(operation=operation)
    cases = schema.iter_coverage_cases(
        operation, generation_modes=[GenerationMode.POSITIVE], generation_config=config
    )
    return next(iter(cases), None)


def hostile_requests(case: OperationCase) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(what was replaced, path, query, body) for each value replaced in turn."""
    body = case.body if isinstance(case.body, dict) else None
    for name in case.path_parameters or {}:
        for value in HOSTILE_URL:
            case_path = {**(case.path_parameters or {}), name: quote(str(value), safe="")}
            yield f"path {name}={value!r}", case.path.format(**case_path), case.query or {}, body
    path = case.formatted_path
    for name in case.query or {}:
        for value in HOSTILE_URL:
            yield f"query {name}={value!r}", path, {**case.query, name: str(value)}, body
    for name in body or {}:
        for hostile in HOSTILE_BODY:
            yield (
                f"body {name}={hostile!r}",
                path,
                case.query or {},
                {**(body or {}), name: hostile},
            )


def sweep_operation(
    client: TestClient, schema: BaseSchema, operation: Operation, headers: dict[str, str]
) -> None:
    case = first_valid_case(schema, operation)
    if case is None:
        return
    failures = []
    for what, path, query, body in hostile_requests(case):
        # As a client's JSON library writes them: NaN, Infinity, "\ud800" (ASCII escapes).
        content = None if body is None else json.dumps(body)
        response = client.request(
            case.method,
            path,
            params=query,
            content=content,
            headers={**headers, "Content-Type": "application/json"},
        )
        if response.status_code >= 500:
            failures.append(f"{what}: {response.status_code} {response.text[:200]}")
    assert not failures, f"{len(failures)} requests, e.g. {failures[0]}"


def test_no_server_error_for_hostile_values(client: TestClient, world: World, auth: Auth) -> None:
    headers = signed_in(world, auth, Role.ADMIN)
    schema = api_schema(client)
    run_all(schema, lambda operation: sweep_operation(client, schema, operation, headers))
