"""The whole system in one process — ingest, the alert engine with its scheduler, and the
API — as `nuanxin serve` and `nuanxin demo` run it.

Start-up checks first (database reachable and migrated, broker reachable). Shutdown in
the order that loses nothing: stop taking HTTP requests, let ingest finish and commit
its batch and send a proper DISCONNECT, stop the engine and its scheduler, close pools.
"""

import logging
import signal
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from psycopg_pool import ConnectionPool

from alerting.channels import build_notifiers
from alerting.engine import Clock, utc_now
from alerting.service import AlertingService
from api.serving import server_config
from cli import database
from cli.ingest import ingest_config
from cli.startup import check_broker, check_migrated
from cli.wiring import BrokerProvisioner
from core import db
from core.settings import Settings
from device_registry.devices import CredentialProvisioner
from ingest.service import IngestService

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    pool: ConnectionPool
    ingest: IngestService
    alerting: AlertingService
    provisioner: CredentialProvisioner
    clock: Clock = utc_now  # the engine's and the API's: tests move it
    server: uvicorn.Server | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: Settings,
        provisioner: CredentialProvisioner | None = None,
        timer_interval_s: float = 30.0,
        clock: Clock = utc_now,
        ingest_session_expiry_s: int | None = None,
    ) -> "Platform":
        """`ingest_session_expiry_s`: how long the broker keeps ingest's session after a
        disconnect, instead of the subscriber's default (the demo keeps none)."""
        url = str(settings.database_url)
        with database.connect(url) as conn:  # a missing database: how to create it
            check_migrated(conn)
        check_broker(settings)
        pool = db.open_pool(url, name="platform", max_size=settings.db_pool_max_size)
        notifiers, channels = build_notifiers(settings, pool)
        alerting = AlertingService(
            pool,
            url,
            notifiers,
            channels,
            clock,
            timer_interval_s=timer_interval_s,
            readings_retention_days=settings.readings_retention_days,
        )
        config = ingest_config(settings)
        if ingest_session_expiry_s is not None:
            subscriber = replace(config.subscriber, session_expiry_s=ingest_session_expiry_s)
            config = replace(config, subscriber=subscriber)
        ingest = IngestService(config, on_signals=alerting.wake)
        provisioner = provisioner or BrokerProvisioner(settings)
        return cls(settings, pool, ingest, alerting, provisioner, clock)

    def app(self) -> Any:
        from api.app import create_app  # the API last: it reads everything else's state

        return create_app(
            self.settings,
            self.pool,
            self.provisioner,
            channels=self.alerting.engine.channels,
            clock=self.clock,
            readiness=self.readiness,
            on_signals=self.alerting.wake,
        )

    def readiness(self) -> dict[str, bool]:
        return {
            "broker": self.ingest.subscriber.connected.is_set(),
            "scheduler": self.alerting.running,
        }

    def start(self) -> None:
        """Start the engine, ingest and the API (in a thread of its own)."""
        self.alerting.start()
        self.ingest.start()
        config = server_config(self.app(), host=self.settings.api_host, port=self.settings.api_port)
        self.server = uvicorn.Server(config)
        # uvicorn captures signals only in the main thread, and re-raises them when it
        # exits, which would kill the process before ingest commits: the API runs in a
        # thread, and the signals are ours (`run_until_signal`).
        thread = threading.Thread(target=self.server.run, name="api", daemon=True)
        thread.start()
        self._threads.append(thread)

    def run_until_signal(self) -> None:
        """Block until SIGTERM or SIGINT, then stop everything in order."""
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        while not stopping.wait(1.0):
            if not all(thread.is_alive() for thread in self._threads):
                log.error("the API stopped unexpectedly; shutting down")
                break
        self.stop()

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        for thread in self._threads:
            thread.join(15)
        self.ingest.stop()
        self.alerting.stop()
        close = getattr(self.provisioner, "close", None)
        if close is not None:
            close()
        self.pool.close()
        log.info("stopped")
