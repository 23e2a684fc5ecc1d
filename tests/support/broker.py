"""A real Mosquitto running the project's own configuration, for tests: the runtime
starter of `embedded.mosquitto`, in a directory of the test's own."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from embedded.account import server_workdir
from embedded.mosquitto import (
    PRODUCTION_CONFIG,
    BrokerInfo,
    TlsFiles,
    render_config,
    start_broker,
)

__all__ = ["PRODUCTION_CONFIG", "BrokerInfo", "TlsFiles", "project_broker", "render_test_config"]

render_test_config = render_config


@contextmanager
def project_broker(tmp_path: Path | None = None, *, tls: bool = False) -> Iterator[BrokerInfo]:
    """Start Mosquitto with the project configuration on free ports; stop it afterwards.

    Its files live in a `server_workdir` of its own (so one test may run several brokers)
    rather than in `tmp_path`, which as root the broker's account could not reach;
    `tmp_path` is accepted for the callers that pass it."""
    with server_workdir("nuanxin-test-broker-") as workdir:
        broker = start_broker(workdir / "broker", tls=tls)
        try:
            yield broker
        finally:
            broker.stop()
