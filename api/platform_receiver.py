"""The carrier-platform receiver alone: the push routes, /healthz and /metrics, without
the rest of the API (no sign-in, no live stream, no web app).

`nuanxin api --platforms-only [--workers N]` serves it, so the push path can be scaled
out in processes of its own (each with its own group-commit writer) while the full API
runs elsewhere. Signals reach the alert engine through the outbox's NOTIFY.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.routes import platforms
from core.logging import configure_logging
from core.settings import Settings, load_settings
from ingest.platforms.store import PlatformStore

API_PREFIX = "/api/v1"


def build_receiver(settings: Settings) -> FastAPI:
    store = PlatformStore(str(settings.database_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(store.stop)

    app = FastAPI(
        title="nuanxin platform receiver", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.platform_store = store
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(platforms.router)
    app.include_router(api)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def create_receiver() -> FastAPI:
    """uvicorn's factory for worker processes: settings from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return build_receiver(settings)
