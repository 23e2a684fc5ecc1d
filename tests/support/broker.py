"""A real Mosquitto running the project's own configuration, for tests: the runtime
starter of `embedded.mosquitto`, in a directory of the test's own."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
def project_broker(tmp_path: Path, *, tls: bool = False) -> Iterator[BrokerInfo]:
    """Start Mosquitto with the project configuration on free ports; stop it afterwards."""
    # Its own directory, so one test may run several brokers (bridges, clusters).
    workdir = Path(tempfile.mkdtemp(prefix="mosquitto-", dir=tmp_path))
    broker = start_broker(workdir, tls=tls)
    try:
        yield broker
    finally:
        broker.stop()
