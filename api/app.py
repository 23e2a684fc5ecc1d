"""The FastAPI application: /api/v1 routers, error translation, health endpoints.

Domain refusals raised by the service functions become HTTP answers in one table
(ERROR_STATUS), each with a message saying what to fix.
"""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from api.deps import Database
from api.routes import admin, auth, contacts, devices, districts, elders, policies
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

API_PREFIX = "/api/v1"

ERROR_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    PermissionDenied: 403,
    Conflict: 409,
    InvalidRequest: 422,
    ServiceUnavailable: 503,
}

ROUTERS = (auth, districts, elders, contacts, devices, policies, admin)

DESCRIPTION = """
Backend of 暖心智慧守护: emergency buttons and smoke, gas and PIR sensors in the homes of
elderly people who live alone.

**Sign in** with `POST /api/v1/auth/token` (username and password, form-encoded) and send
the token as `Authorization: Bearer …`. Roles: `admin`, `operator`, `installer`,
`community_worker`, `family`. Staff see only their assigned districts, family members only
their own elder; anything outside answers 404.

**Provisioning.** Registering a device (`POST /api/v1/devices`) creates its own MQTT
account through Mosquitto's dynamic-security plugin: it may publish only under
`nuanxin/v1/{device_id}/` and read only its own `cmd` topic. The password is in that
answer only. Decommissioning deletes the account at once.

**Installation check.** Open one (`POST /api/v1/devices/{id}/installation-check`), make
the device send a self-test (press a button), and read the check: it says which messages
arrived and which are missing; the self-test commissions the device.

Every change is written to the audit log (`GET /api/v1/audit`, admins).
"""


def create_app(
    settings: Settings, pool: ConnectionPool, provisioner: CredentialProvisioner
) -> FastAPI:
    app = FastAPI(title="nuanxin", version="0.1.0", description=DESCRIPTION)
    app.state.settings = settings
    app.state.database = Database(pool)
    app.state.provisioner = provisioner
    api = APIRouter(prefix=API_PREFIX)
    for module in ROUTERS:
        api.include_router(module.router)
    app.include_router(api)
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    _health(app)
    return app


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    status = next(code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind))
    if isinstance(exc, InvalidRequest) and exc.field:
        detail: object = [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]
    else:
        detail = str(exc)
    return JSONResponse(status_code=status, content={"detail": detail})


def _health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database answers")
    def readyz() -> JSONResponse:
        try:
            with app.state.database.transaction() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # any failure means "not ready", with the reason
            return JSONResponse(status_code=503, content={"database": f"unavailable: {exc}"})
        return JSONResponse(content={"database": "ok"})
