"""An AMQP 1.0 receiver that settles a delivery only when told to (after its commit).

python-qpid-proton's event loop runs in a thread of its own and owns every proton
object; other threads talk to it through an `EventInjector` (settle these, stop). The
credit window is managed by hand: the link is granted `window` deliveries at open, and
one more for each delivery settled, so at most `window` deliveries are ever unsettled
and a whole batch always fits.

The connection is retried with backoff for ever (1 s doubling to 60 s): a refused login
is logged with the broker's words and counted, never a busy loop. The SASL username is
computed at each attempt, because Huawei IoTDA's carries a timestamp that must be within
5 minutes of the platform's clock.

Deliveries of a connection that has since dropped cannot be settled: the broker gives
them again on the new one, and the writer stores them once (ON CONFLICT).
"""

import logging
import queue
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from proton import Condition, Delivery, Handler, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import ApplicationEvent, Container, EventInjector

log = logging.getLogger(__name__)

AMQP_LOGIN_FAILURES = Counter(
    "nuanxin_amqp_login_failures_total", "AMQP 1.0 logins the platform refused"
)
AMQP_CONNECTION_FAILURES = Counter(
    "nuanxin_amqp_connection_failures_total", "AMQP 1.0 connections lost or not opened"
)
AMQP_CONNECTED = Gauge("nuanxin_amqp_connected", "1 while the AMQP 1.0 receiver is open")

RETRY_START_S = 1.0
RETRY_MAX_S = 60.0
LINK_OPEN_TIMEOUT_S = 15.0  # IoTDA closes a connection without a receiver after 15 s


@dataclass(frozen=True)
class Received:
    """One delivery, as the writer sees it; `delivery` is only for the proton thread."""

    topic: str
    payload: bytes
    received_at: datetime
    problem: str | None  # set when the body is no data section or string
    delivery: Delivery
    generation: int


@dataclass(frozen=True)
class ReceiverConfig:
    url: str  # amqps://host:5671 or amqp://host:5672, without credentials
    address: str  # the queue: "DefaultQueue" on IoTDA, "/amq/queue/NAME" on RabbitMQ
    username: Callable[[], str]  # called at each connection attempt
    password: str
    window: int  # credit: deliveries unsettled at most
    virtual_host: str | None = "default"
    ca_file: str | None = None
    idle_timeout_s: float = 8.0
    topic: str = "amqp"  # what the quarantine calls where a message came from


class AmqpReceiver(MessagingHandler):
    def __init__(self, config: ReceiverConfig, deliver: Callable[[Received], None]) -> None:
        super().__init__(prefetch=0, auto_accept=False)
        self.config = config
        self._deliver = deliver
        self.connected = threading.Event()
        self.login_failures = 0
        self._settle: queue.SimpleQueue[Sequence[Received]] = queue.SimpleQueue()
        self._injector = EventInjector()
        self._container = Container(self)
        self._container.selectable(self._injector)
        self._connection: Any = None
        self._receiver: Any = None
        self._generation = 0
        self._delay = RETRY_START_S
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- called from other threads -------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._container.run, name="amqp", daemon=True)
        self._thread.start()

    def accept_committed(self, messages: Sequence[Received]) -> None:
        """Accept these deliveries (their batch has committed)."""
        self._settle.put(messages)
        self._injector.trigger(ApplicationEvent("settle_batch"))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Settle what was handed over, then close the connection."""
        self._injector.trigger(ApplicationEvent("close_all"))
        if self._thread is not None:
            self._thread.join(timeout_s)

    # --- the proton thread ---------------------------------------------------------

    def on_start(self, event: Any) -> None:
        self._connect()

    def _connect(self) -> None:
        config = self.config
        self._generation += 1
        options: dict[str, Any] = {
            "user": config.username(),
            "password": config.password,
            "allowed_mechs": "PLAIN",
            "allow_insecure_mechs": config.url.startswith("amqp://"),
            "virtual_host": config.virtual_host,
            "idle_timeout": config.idle_timeout_s,
            "reconnect": False,  # ours: a fresh username (timestamp) at each attempt
        }
        if config.url.startswith("amqps://"):
            options["ssl_domain"] = _tls(config.ca_file)
        self._connection = self._container.connect(config.url, **options)
        self._receiver = self._container.create_receiver(self._connection, config.address)
        self._container.schedule(LINK_OPEN_TIMEOUT_S, _LinkTimeout(self, self._generation))

    def on_link_opened(self, event: Any) -> None:
        if event.receiver is None:  # proton wraps each event's objects anew: no `is`
            return
        self._delay = RETRY_START_S
        event.receiver.flow(self.config.window)
        self.connected.set()
        AMQP_CONNECTED.set(1)
        log.info("amqp receiving from %s (credit %d)", self.config.address, self.config.window)

    def on_message(self, event: Any) -> None:
        payload, problem = _body_bytes(event.message.body)
        self._deliver(
            Received(
                self.config.topic,
                payload,
                datetime.now(UTC),
                problem,
                event.delivery,
                self._generation,
            )
        )

    def on_settle_batch(self, event: Any) -> None:
        while True:
            try:
                messages = self._settle.get_nowait()
            except queue.Empty:
                return
            current = [m for m in messages if m.generation == self._generation]
            for message in current:
                self.accept(message.delivery)
            if current and self._receiver is not None:
                self._receiver.flow(len(current))

    def on_close_all(self, event: Any) -> None:
        self.on_settle_batch(event)
        self._stopping = True
        if self._connection is not None:
            self._connection.close()
        self._container.stop()

    def on_connection_error(self, event: Any) -> None:
        self._failed(event.connection.remote_condition)

    def on_session_error(self, event: Any) -> None:
        self._failed(event.session.remote_condition)

    def on_link_error(self, event: Any) -> None:
        self._failed(event.link.remote_condition)

    def on_transport_error(self, event: Any) -> None:
        self._failed(event.transport.condition)

    def on_disconnected(self, event: Any) -> None:
        self._failed(None)

    def link_timed_out(self, generation: int) -> None:
        if generation == self._generation and not self.connected.is_set():
            self._failed(
                Condition(
                    "link-timeout",
                    f"no receiver on {self.config.address} after {LINK_OPEN_TIMEOUT_S:.0f} s"
                    " (does the queue exist, and may this account read it?)",
                )
            )

    def _failed(self, condition: Condition | None) -> None:
        """Log why, drop the connection, and try again after the backoff (once per
        connection, whichever of the error events comes first)."""
        if self._stopping or self._connection is None:
            return
        self.connected.clear()
        AMQP_CONNECTED.set(0)
        name = condition.name if condition is not None else "disconnected"
        if "unauthorized" in name or "sasl" in name.lower():
            self.login_failures += 1
            AMQP_LOGIN_FAILURES.inc()
            log.error(
                "amqp login refused by %s (%s): check the access key, access code and"
                " instance id (or the URL's user and password); retrying in %.0f s",
                _host(self.config.url),
                _describe(condition),
                self._delay,
            )
        else:
            AMQP_CONNECTION_FAILURES.inc()
            log.warning(
                "amqp connection to %s lost (%s); retrying in %.0f s",
                _host(self.config.url),
                _describe(condition),
                self._delay,
            )
        connection, self._connection, self._receiver = self._connection, None, None
        connection.close()
        self._container.schedule(self._delay, _Reconnect(self))
        self._delay = min(self._delay * 2, RETRY_MAX_S)

    def reconnect(self) -> None:
        if not self._stopping and self._connection is None:
            self._connect()


class _Reconnect(Handler):
    def __init__(self, receiver: AmqpReceiver) -> None:
        self._receiver = receiver

    def on_timer_task(self, event: Any) -> None:
        self._receiver.reconnect()


class _LinkTimeout(Handler):
    def __init__(self, receiver: AmqpReceiver, generation: int) -> None:
        self._receiver, self._generation = receiver, generation

    def on_timer_task(self, event: Any) -> None:
        self._receiver.link_timed_out(self._generation)


def _body_bytes(body: Any) -> tuple[bytes, str | None]:
    """A data section (bytes) or a string, as bytes; anything else is kept as its repr
    with a problem the decoder turns into a quarantine reason."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), None
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass"), None
    return repr(body).encode(), f"AMQP body is {type(body).__name__}, not a data section"


def _tls(ca_file: str | None) -> SSLDomain:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    trusted = ca_file or ssl.get_default_verify_paths().cafile
    if trusted:
        domain.set_trusted_ca_db(trusted)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, trusted)
    return domain


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]


def _describe(condition: Condition | None) -> str:
    if condition is None:
        return "connection closed"
    return f"{condition.name}: {condition.description}" if condition.description else condition.name
