"""The FastAPI application: /api/v1 routers, provider webhooks, the live stream's
listener (started and stopped with the app), error translation, health endpoints, the
web app, the API docs (served offline) and the security headers of every answer
(api.headers).

Domain refusals raised by the service functions become HTTP answers in one table
(ERROR_STATUS), each with a message saying what to fix.
"""

import asyncio
import logging
import mimetypes
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import ConnectionPool

from alerting.engine import utc_now
from alerting.planner import Channels
from api import stream
from api.deps import Clock, Database
from api.headers import DOCS_ASSETS, SecurityHeaders
from api.proxies import TrustedProxyMiddleware
from api.routes import (
    admin,
    alerts,
    auth,
    catalogue,
    contacts,
    devices,
    districts,
    elders,
    history,
    overview,
    platforms,
    policies,
    reports,
    webhooks,
)
from api.validation import validation_error
from core.errors import (
    Conflict,
    DomainError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)
from core.settings import Settings
from device_registry.devices import CredentialProvisioner
from ingest.platforms.store import PlatformStore

API_PREFIX = "/api/v1"

ERROR_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    PermissionDenied: 403,
    Conflict: 409,
    InvalidRequest: 422,
    ServiceUnavailable: 503,
}

# The stream before the alerts: /alerts/stream must not be taken for /alerts/{alert_id}.
ROUTERS = (
    auth,
    catalogue,
    districts,
    elders,
    contacts,
    devices,
    policies,
    stream,
    alerts,
    history,
    overview,
    reports,
    admin,
    platforms,
)
# How long start-up waits for the live stream's LISTEN before serving anyway (it keeps
# trying in the background while the database is down).
LISTEN_WAIT_S = 5.0

DESCRIPTION = """
Backend of 暖心智慧守护: emergency buttons and smoke, gas and PIR sensors in the homes of
elderly people who live alone.

**Sign in** with `POST /api/v1/auth/token` (username and password, form-encoded) and send
the token as `Authorization: Bearer …`. Failed sign-ins are limited per address (429
with `Retry-After`); an address that has not failed is never held back by someone
else's failures. Change your password with `POST /api/v1/auth/password`; passwords that
are easy to guess are refused (422) with the reason. Roles: `admin`, `operator`, `installer`,
`community_worker`, `family`. Staff see only their assigned districts, family members only
their own elder; anything outside answers 404. An id inside a request body that lies
outside (or does not exist) answers 422 naming the field's place in `loc`; what each id
refers to is marked `x-references` in this document.

**Changes.** In a `PATCH`, a field left out keeps its value; `null` clears a field that may
be empty (the schema of each body shows which admit `null`) and answers 422 for any other.
Ids are integers up to 2^63−1; numbers must be finite; text valid UTF-8 without NUL.

**Provisioning.** Registering a device (`POST /api/v1/devices`) creates its own MQTT
account through Mosquitto's dynamic-security plugin: it may publish only under
`nuanxin/v1/{device_id}/` and read only its own `cmd` topic. The password is in that
answer only. Decommissioning deletes the account at once.

**Installation check.** Open one (`POST /api/v1/devices/{id}/installation-check`), make
the device send a self-test (press a button), and read the check: it says which messages
arrived and which are missing; the self-test commissions the device.

**Alerts.** `GET /api/v1/alerts` lists the alerts of the elders you look after (filters:
`status` — `active` means not resolved, critical first —, `severity`, `district_id`,
`elder_id`, `rule`, `since`/`until`, `limit`/`offset`); `GET /api/v1/alerts/{id}` adds the
timeline and every notification (phone numbers masked except for admins). Act on one with
`POST …/ack` (stops the escalation, starts the on-site deadline), `POST …/on-site` and
`POST …/resolve` (`{"outcome": "handled" | "false_alarm" | "hospital" | …, "note": …}`);
a resolved alert answers 409. Admins, operators, community workers and family members act
on real alerts; installers see and close only test alerts (devices not yet commissioned),
which family members do not see.

**Live stream.** `GET /api/v1/alerts/stream` (Server-Sent Events): `event: alert` for each
change of an alert you may see, `event: push` for app notifications to you, `event:
resync` when you should reload. The browser's EventSource cannot send headers, so this
endpoint alone also accepts the token as `?token=`.

**Webhooks** (`/api/v1/webhooks/twilio/…`) are for Twilio only: SMS and call status
callbacks, SMS replies ("1", "收到", "OK", or "1#23" naming an alert's code, acknowledge
one alert sent to that number) and keypad 1 in alert calls (the call's own alert). Each
request must carry Twilio's signature of `NUANXIN_PUBLIC_BASE_URL` + path; anything else
answers 403. Each provider message id counts once: a replay changes nothing.

**Pictures and reports.** `GET /api/v1/elders/{id}/activity?days=7`: PIR motion per local
hour and day (the heat-map; not for installers). `GET /api/v1/devices/{id}/readings?field=
gas_lel|battery|rssi|…&bucket=1h&since=…&until=…`: a reading's min/max/average per bucket.
`GET /api/v1/overview`: open alerts by district and severity, devices offline or low on
battery, this week's median time to acknowledge and to arrive on site (operators, admins).
`GET /api/v1/reports/monthly?month=YYYY-MM` (`&format=csv` to download): per district,
alerts by rule and outcome, response times and every delivery attempt (operators, admins).

**The web app** for on-call staff, installers, operators and families is served at
[`/app/`](/app/) (`/` leads there): live alerts with one-tap acknowledgement, elder
profiles, device registration with the installation check, the overview and reports.

Every change is written to the audit log (`GET /api/v1/audit`, admins).
"""

WEB_DIR = Path(__file__).resolve().parent / "web"
# Not every system's MIME table knows these; ES modules load only with a script type.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("image/svg+xml", ".svg")
# /docs and /redoc load Swagger UI and ReDoc from files shipped in fastapi-offline, never
# from a CDN: deployment networks often have no way out. The validator badge would fetch
# from the internet too.
SWAGGER_UI = {"validatorUrl": None}


def create_app(
    settings: Settings,
    pool: ConnectionPool,
    provisioner: CredentialProvisioner,
    channels: Channels | None = None,
    clock: Clock = utc_now,
    readiness: Callable[[], Mapping[str, bool]] | None = None,
    on_signals: Callable[[int], None] | None = None,
) -> FastAPI:
    """`channels`: what the deployment's alert engine can send (alerting.channels), so a
    failed delivery reported by a provider falls back the way the engine would.
    `readiness`: the other components of this process (broker, scheduler) for /readyz.
    `on_signals`: the in-process alert engine's wake-up, for carrier-platform pushes
    (without it the engine hears of them through the outbox's NOTIFY, as from ingest)."""
    hub = stream.LiveHub()
    platform_store = PlatformStore(str(settings.database_url), on_signals=on_signals)
    listener = stream.LiveListener(str(settings.database_url), pool, hub)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        platform_store.start()
        listener.start()
        if not await anyio.to_thread.run_sync(listener.wait_listening, LISTEN_WAIT_S):
            logging.getLogger(__name__).warning("live stream: database not listening yet")
        try:
            yield
        finally:
            hub.close()
            await anyio.to_thread.run_sync(listener.stop)
            await anyio.to_thread.run_sync(platform_store.stop)

    app = FastAPIOffline(
        title="nuanxin",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters=SWAGGER_UI,
    )
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.database = Database(pool)
    app.state.provisioner = provisioner
    app.state.channels = channels or Channels()
    app.state.clock = clock
    app.state.live_hub = hub
    app.state.platform_store = platform_store
    api = APIRouter(prefix=API_PREFIX)
    for module in ROUTERS:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(webhooks.router)  # its paths are full: alerting.notifiers.callbacks
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    # outermost, so every handler and the access log see the caller, not the proxy
    app.add_middleware(
        TrustedProxyMiddleware,
        trusted=settings.trusted_proxies,
        header=settings.proxy_header,
    )
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    _health(app, readiness)
    _web(app)
    return app


def _web(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app/")

    app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="web")


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    status = next(code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind))
    if isinstance(exc, InvalidRequest) and exc.field:
        detail: object = [{"loc": ["body", *exc.location], "msg": str(exc), "type": "value_error"}]
    else:
        detail = str(exc)
    return JSONResponse(status_code=status, content={"detail": detail})


def _health(app: FastAPI, readiness: Callable[[], Mapping[str, bool]] | None) -> None:
    @app.get("/metrics", tags=["health"], summary="Prometheus metrics of this process")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database and this process's parts answer")
    def readyz() -> JSONResponse:
        try:
            with app.state.database.transaction() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # any failure means "not ready", with the reason
            return JSONResponse(status_code=503, content={"database": f"unavailable: {exc}"})
        parts = dict(readiness()) if readiness is not None else {}
        content = {"database": "ok"} | {
            name: "ok" if up else "unavailable" for name, up in parts.items()
        }
        return JSONResponse(status_code=200 if all(parts.values()) else 503, content=content)
