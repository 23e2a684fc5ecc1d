"""A Mosquitto that lets anyone in, as a development machine's stock broker does, on a
free port of the test's own: the demo's shared-broker cases without touching :1883,
which other suites use at the same time."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.mqtt import Session, new_client
from tests.support.servers import free_port


@contextmanager
def anonymous_broker(workdir: Path) -> Iterator[int]:
    """Start it; yield its port on 127.0.0.1; stop it. Its configuration is read before
    it drops root's rights, so `workdir` may be private."""
    port = free_port()
    config = workdir / f"anonymous-{port}.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    mosquitto = shutil.which("mosquitto", path=path)
    assert mosquitto is not None, "the tests need the mosquitto package"
    process = subprocess.Popen(
        [mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, "mosquitto exited at start"
        try:
            session_present("probe-start", port)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"mosquitto did not listen on {port}")


def session_present(client_id: str, port: int, host: str = "127.0.0.1") -> bool:
    """Whether the broker still holds a session for `client_id`: a CONNECT with
    clean_start=False is answered with session_present when it does. The probe itself
    asks to keep nothing (session expiry 0)."""
    client = new_client(client_id, session=Session(resume=True))
    answers: list[bool] = []

    def on_connect(
        c: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        answers.append(bool(flags.session_present))

    client.on_connect = on_connect
    client.connect(host, port, keepalive=5)
    deadline = time.monotonic() + 5
    while not answers and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    assert answers, f"no CONNACK for {client_id}"
    return answers[0]
