"""Validation answers (422) that are always valid JSON.

A 422 echoes the input it refuses, and that input is exactly what JSON cannot carry when the
client sent NaN, Infinity, 1e400 or a lone surrogate: FastAPI's own answer then fails to
serialise and the client gets a 500. Here the echo is made representable first: a
non-finite number becomes its name, unencodable text its escaped form.
"""

import math

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def json_safe(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf", "-inf"
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    return value


# Pydantic's messages where they would not tell a person what to fix, by error type.
MESSAGES = {
    "string_unicode": (
        "text must be valid UTF-8: it holds a lone surrogate (an unpaired \\ud800-\\udfff)"
    ),
}


def _explained(error: dict[str, object]) -> dict[str, object]:
    message = MESSAGES.get(str(error.get("type")))
    return error if message is None else {**error, "msg": message}


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_explained(error) for error in jsonable_encoder(exc.errors())]
    return JSONResponse(status_code=422, content={"detail": json_safe(errors)})
