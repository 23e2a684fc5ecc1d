"""The live alert stream: Server-Sent Events of alert changes and app pushes.

How it works across processes. Whoever changes an alert — the engine in this process or
in another, an API process, a webhook — writes `pg_notify('nuanxin_alerts', '<id>:<kind>')`
in the same transaction (alerting.store.timeline), and the push notifier writes
`pg_notify('nuanxin_push', {user_id, notification_id, alert_id, text})`. PostgreSQL
delivers both after commit to every listening connection, so each API process runs one
`LiveListener`: a thread with a connection of its own that LISTENs on both channels and
reconnects when it is lost. It turns what it hears into events:

- `alert`: the alert list item, for every connected user who may see that alert — decided
  by the same query as GET /alerts (one query per distinct scope, not per client);
- `push`: the push as sent, for the connections of the user it is addressed to — and
  only if that user may see the alert it is about (the same query again), so a push
  planned for someone outside the alert's district or family never reaches a screen;
- `resync`: "you may have missed changes, reload the list" — after the listener had to
  reconnect, or when a client fell so far behind that its queue overflowed.

`LiveHub` offers events to each client's bounded queue without waiting, so a slow client
loses only its own events (and then gets `resync`), never delays anyone else's. Every
15 s of silence the stream sends a comment line, which keeps proxies from closing it.
"""

import asyncio
import json
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from psycopg_pool import ConnectionPool

from api.alert_views import visible_alerts
from api.deps import StreamActor
from api.views import PersonalDataRoute
from core import notify_channels
from core.db import connect
from core.errors import PermissionDenied
from device_registry.access import Actor
from device_registry.personal import view_for

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 15.0
QUEUE_SIZE: Final = 100  # a client 100 events behind is not reading
RETRY_MS: Final = 3000  # EventSource waits this long before reconnecting
RECONNECT_S: Final = 1.0
BURST_WAIT_S: Final = 0.05  # notifications of one transaction arrive together
BURST_MAX: Final = 500


@dataclass(frozen=True)
class ServerEvent:
    event: str
    data: str

    def encode(self) -> str:
        return f"event: {self.event}\ndata: {self.data}\n\n"


RESYNC: Final = ServerEvent("resync", json.dumps({"reason": "events may have been missed"}))
_CLOSE: Final = ServerEvent("close", "")


class Subscriber:
    """One open stream: whose it is and its queue of events."""

    def __init__(self, actor: Actor, queue_size: int) -> None:
        self.actor = actor
        self.queue: asyncio.Queue[ServerEvent] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False

    @property
    def scope(self) -> tuple[object, ...]:
        return (self.actor.role, self.actor.district_ids, self.actor.elder_ids)


class LiveHub:
    """The open streams of this process. Queues are touched on the event loop only; the
    listener thread reads the subscriber list and hands batches over to the loop."""

    def __init__(self, queue_size: int = QUEUE_SIZE, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def close(self) -> None:
        """End every open stream (the server is shutting down)."""
        for subscriber in self.subscribers():
            self._offer(subscriber, _CLOSE)
        self._loop = None

    def subscribers(self) -> list[Subscriber]:
        with self._lock:
            return list(self._subscribers)

    def deliver_threadsafe(self, batch: list[tuple[Subscriber, ServerEvent]]) -> None:
        loop = self._loop
        if batch and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, batch)

    def broadcast_threadsafe(self, event: ServerEvent) -> None:
        self.deliver_threadsafe([(subscriber, event) for subscriber in self.subscribers()])

    async def events(self, actor: Actor) -> AsyncGenerator[str, None]:
        """The text of one stream, from connection to disconnection."""
        subscriber = Subscriber(actor, self.queue_size)
        with self._lock:
            self._subscribers.add(subscriber)
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), self.heartbeat_s)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if event is _CLOSE:
                    return
                if subscriber.overflowed:
                    subscriber.overflowed = False
                    yield RESYNC.encode()
                yield event.encode()
        finally:
            with self._lock:
                self._subscribers.discard(subscriber)

    def _deliver(self, batch: list[tuple[Subscriber, ServerEvent]]) -> None:
        for subscriber, event in batch:
            self._offer(subscriber, event)

    def _offer(self, subscriber: Subscriber, event: ServerEvent) -> None:
        try:
            subscriber.queue.put_nowait(event)
        except asyncio.QueueFull:
            subscriber.overflowed = True


class LiveListener:
    """LISTENs on the alert and push channels and fans out through the hub."""

    def __init__(self, database_url: str, pool: ConnectionPool, hub: LiveHub) -> None:
        self._database_url = database_url
        self._pool = pool
        self._hub = hub
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-listener", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        lost = False
        while not self._stop.is_set():
            try:
                with connect(
                    self._database_url, application_name="nuanxin-api-live", autocommit=True
                ) as conn:
                    conn.execute(f"LISTEN {notify_channels.ALERTS}")
                    conn.execute(f"LISTEN {notify_channels.PUSH}")
                    self._listening.set()
                    if lost:
                        self._hub.broadcast_threadsafe(RESYNC)
                        log.info("live stream listener reconnected")
                    self._listen(conn)
            except Exception as exc:  # lost the database: reconnect and tell clients to reload
                self._listening.clear()
                lost = True
                log.warning("live stream listener: %s; reconnecting", exc)
                self._stop.wait(RECONNECT_S)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            burst = list(conn.notifies(timeout=RECONNECT_S, stop_after=1))
            if not burst:
                continue
            burst += conn.notifies(timeout=BURST_WAIT_S, stop_after=BURST_MAX)
            self._fan_out(burst)

    def _fan_out(self, burst: list[psycopg.Notify]) -> None:
        subscribers = self._hub.subscribers()
        if not subscribers:
            return
        alert_ids: dict[int, None] = {}  # in order of arrival, each once
        pushes: list[dict[str, Any]] = []
        for notify in burst:
            try:
                if notify.channel == notify_channels.ALERTS:
                    alert_ids[int(notify.payload.split(":", 1)[0])] = None
                elif notify.channel == notify_channels.PUSH:
                    push = json.loads(notify.payload)
                    if not isinstance(push, dict) or "user_id" not in push:
                        raise ValueError("no user_id")
                    pushes.append(push)
            except ValueError:
                log.warning("live stream: unreadable %s notification", notify.channel)
        batch = self._alert_events(list(alert_ids), subscribers) if alert_ids else []
        for push in pushes:
            event = ServerEvent("push", json.dumps(push, ensure_ascii=False))
            user = str(push["user_id"])
            addressed = [s for s in subscribers if str(s.actor.user_id) == user]
            batch += [(s, event) for s in self._allowed(addressed, push)]
        self._hub.deliver_threadsafe(batch)

    def _allowed(self, addressed: list[Subscriber], push: dict[str, Any]) -> list[Subscriber]:
        """The addressed streams whose user may see the push's alert."""
        if not addressed:
            return []
        alert_id = push.get("alert_id")
        if not isinstance(alert_id, int):
            log.warning("live stream: a push names no alert; dropped")
            return []
        with self._pool.connection() as conn:
            allowed = [s for s in addressed if _sees(conn, s.actor, alert_id)]
        if len(allowed) < len(addressed):
            log.warning(
                "live stream: push about alert %s not shown to user %s: outside their scope",
                alert_id,
                push["user_id"],
            )
        return allowed

    def _alert_events(
        self, alert_ids: list[int], subscribers: list[Subscriber]
    ) -> list[tuple[Subscriber, ServerEvent]]:
        """Changes in a burst are coalesced: one event per alert with its newest state."""
        by_scope: defaultdict[tuple[object, ...], list[Subscriber]] = defaultdict(list)
        for subscriber in subscribers:
            by_scope[subscriber.scope].append(subscriber)
        batch: list[tuple[Subscriber, ServerEvent]] = []
        with self._pool.connection() as conn:
            for members in by_scope.values():
                try:
                    visible = visible_alerts(conn, members[0].actor, alert_ids)
                except PermissionDenied:  # a role that reads no alerts at all
                    continue
                role = members[0].actor.role  # one scope, one role
                items = {a.id: view_for(a, role) for a in visible}
                for alert_id in alert_ids:
                    if alert_id in items:
                        event = ServerEvent("alert", items[alert_id].model_dump_json())
                        batch += [(subscriber, event) for subscriber in members]
        return batch


def _sees(conn: psycopg.Connection[Any], actor: Actor, alert_id: int) -> bool:
    try:
        return bool(visible_alerts(conn, actor, [alert_id]))
    except PermissionDenied:  # a role that reads no alerts at all
        return False


router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=PersonalDataRoute)


@router.get(
    "/stream",
    summary="Live stream of alert changes and app pushes (Server-Sent Events)",
    description=(
        "`text/event-stream`. `event: alert` carries the alert list item after each change "
        "of an alert you may see; `event: push` an app notification addressed to you; "
        "`event: resync` means events may have been missed: reload the list. A comment "
        "line every 15 s keeps the connection open. Send the token as `Authorization: "
        "Bearer …`; browsers' EventSource cannot send headers, so for it alone the token "
        "may go in `?token=` (URLs reach proxy logs: prefer the header where possible)."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def alert_stream(request: Request, actor: StreamActor) -> StreamingResponse:
    hub: LiveHub = request.app.state.live_hub
    if not hub.running:
        raise HTTPException(status_code=503, detail="the live stream is not running")
    return StreamingResponse(
        hub.events(actor),
        media_type="text/event-stream",
        # proxies (nginx) must pass each event on at once rather than buffer the stream
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
