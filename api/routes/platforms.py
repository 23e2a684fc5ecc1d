"""Carrier IoT platform pushes: CTWing and OneNET post their devices' reports here.

    POST /api/v1/platforms/ctwing/{token}   CTWing HTTP push (the path token is the secret)
    GET  /api/v1/platforms/onenet           OneNET URL verification: answers `msg`
    POST /api/v1/platforms/onenet           OneNET push, signed (classic or Studio)

The routes are lean on purpose: they read the raw body (a signature covers it as sent),
check the token, and hand the push to the group-commit store (ingest.platforms.store),
which decodes it and answers only after the commit. Answers:
- 200 once the push is committed: stored, a retry already stored, or quarantined with
  its reason (bad JSON, unknown device, time out of window…: the platform cannot fix
  those, and its retry would bring the same bytes);
- 403 for a wrong CTWing token or a bad OneNET signature, 401 for an unsigned OneNET
  push, 413 over 1 MiB — each counted in `nuanxin_platform_refused_total`;
- 404 when the platform is not configured here; 503 while the database is unavailable
  (nothing was stored: the platform retries).
"""

import asyncio
import hmac
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.views import PersonalDataRoute
from core.errors import DatabaseUnavailable
from core.settings import Settings
from ingest.adapters.directory import DeviceDirectory
from ingest.platforms import ctwing, metrics, onenet
from ingest.platforms.store import Job, Outcome, PlatformStore

router = APIRouter(prefix="/platforms", tags=["carrier platforms"], route_class=PersonalDataRoute)

MAX_BODY_BYTES: Final = 1024 * 1024  # beyond the 16 KiB a push may be, kept in quarantine
# OneNET Studio wants its answer within 5 s; CTWing ranks slow receivers down.
ANSWER_TIMEOUT_S: Final = 4.0
NOT_CONFIGURED = "{} pushes are not configured on this server ({})"


async def ctwing_push(request: Request) -> Response:
    token: str = request.path_params["token"]
    settings: Settings = request.app.state.settings
    secret = settings.ctwing_push_token
    if secret is None:
        return _refuse(
            "ctwing",
            "not_configured",
            404,
            NOT_CONFIGURED.format("CTWing", "NUANXIN_CTWING_PUSH_TOKEN"),
        )
    if not hmac.compare_digest(token.encode(), secret.get_secret_value().encode()):
        return _refuse("ctwing", "bad_token", 403, "wrong push token in the URL")
    body = await _read(request)
    if body is None:
        return _refuse("ctwing", "too_large", 413, f"push over {MAX_BODY_BYTES} bytes")
    received_at = datetime.now(UTC)

    def decode(directory: DeviceDirectory) -> Any:
        return ctwing.decode(body, received_at, directory)

    return await _store(request, Job("ctwing", decode, body, received_at, ctwing.TOPIC))


@router.get("/onenet", summary="OneNET URL verification", response_class=PlainTextResponse)
def onenet_verify(
    request: Request, msg: str = "", nonce: str = "", signature: str = ""
) -> Response:
    keys = _onenet_keys(request)
    if keys is None:
        return _refuse(
            "onenet",
            "not_configured",
            404,
            NOT_CONFIGURED.format("OneNET", "NUANXIN_ONENET_PUSH_TOKEN"),
        )
    if not (msg and nonce and signature):
        return _refuse("onenet", "missing_signature", 401, "msg, nonce and signature are required")
    if not onenet.verify_url(keys.token, msg, nonce, signature):
        return _refuse(
            "onenet", "bad_signature", 403, "signature does not match this server's token"
        )
    return PlainTextResponse(msg)


async def onenet_push(request: Request) -> Response:
    keys = _onenet_keys(request)
    if keys is None:
        return _refuse(
            "onenet",
            "not_configured",
            404,
            NOT_CONFIGURED.format("OneNET", "NUANXIN_ONENET_PUSH_TOKEN"),
        )
    body = await _read(request)
    if body is None:
        return _refuse("onenet", "too_large", 413, f"push over {MAX_BODY_BYTES} bytes")
    received_at = datetime.now(UTC)

    def decode(directory: DeviceDirectory) -> Any:
        return onenet.receive(body, received_at, directory, keys)

    return await _store(request, Job("onenet", decode, body, received_at, onenet.TOPIC))


def _onenet_keys(request: Request) -> onenet.Keys | None:
    settings: Settings = request.app.state.settings
    if settings.onenet_push_token is None:
        return None
    aes = settings.onenet_aes_key
    return onenet.Keys(
        settings.onenet_push_token.get_secret_value(), aes.get_secret_value() if aes else None
    )


async def _read(request: Request) -> bytes | None:
    """The raw body, or None past MAX_BODY_BYTES (not read further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _store(request: Request, job: Job) -> Response:
    store: PlatformStore = request.app.state.platform_store
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            outcome = await asyncio.wrap_future(store.submit(job))
    except (DatabaseUnavailable, TimeoutError):
        return JSONResponse(
            status_code=503,
            content={"detail": "not stored: the database is unavailable; send it again"},
        )
    if outcome.refused is not None:
        status = 401 if outcome.refused.reason == "missing_signature" else 403
        return _refuse(job.platform, outcome.refused.reason, status, outcome.refused.detail)
    return JSONResponse(_answer(outcome))


def _answer(outcome: Outcome) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": outcome.label}
    if outcome.quarantined:
        answer["quarantined"] = [
            {"reason": q.reason.value, "detail": q.detail} for q in outcome.quarantined
        ]
    return answer


# The pushes are plain Starlette routes: they read the raw body themselves, and FastAPI's
# parameter machinery would cost more than the push's decoding and commit together.
router.add_route(
    router.prefix + "/ctwing/{token}", ctwing_push, methods=["POST"], include_in_schema=False
)
router.add_route(router.prefix + "/onenet", onenet_push, methods=["POST"], include_in_schema=False)


def _refuse(platform: str, reason: str, status: int, detail: str) -> Response:
    metrics.REFUSED.labels(platform, reason).inc()
    return JSONResponse(status_code=status, content={"detail": detail})
