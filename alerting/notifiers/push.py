"""App push to connected staff clients, in process.

The live endpoints (SSE or WebSocket, in `api/`) `subscribe(user_id)` when a client
connects, read its queue, and `unsubscribe` when it goes. `PushNotifier.send` puts the
message on every queue of that user without waiting: queues are bounded, and a client
that stopped reading only loses its own copy (its queue is full), never delays anyone
else's. A user with no connected client gets nothing — "no connected app" is final for
this attempt (not retryable): the escalation policy's other channels reach that person.
"""

import queue
import threading
from collections import defaultdict

from alerting.notifiers.base import DeliveryStatus, Message, SendResult
from core.vocabulary import Channel

PROVIDER = "app"
QUEUE_SIZE = 100  # a client 100 alerts behind is not reading


class PushHub:
    """Thread-safe registry of the queues of connected app clients, by user id."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._queues: defaultdict[str, list[queue.Queue[Message]]] = defaultdict(list)

    def subscribe(self, user_id: str) -> "queue.Queue[Message]":
        q: queue.Queue[Message] = queue.Queue(maxsize=self._queue_size)
        with self._lock:
            self._queues[user_id].append(q)
        return q

    def unsubscribe(self, user_id: str, q: "queue.Queue[Message]") -> None:
        with self._lock:
            queues = self._queues.get(user_id, [])
            if q in queues:
                queues.remove(q)
            if not queues:
                self._queues.pop(user_id, None)

    def connected(self, user_id: str) -> int:
        with self._lock:
            return len(self._queues.get(user_id, ()))

    def publish(self, user_id: str, message: Message) -> tuple[int, int]:
        """Offer `message` to every client of `user_id`: (clients, clients that took it)."""
        with self._lock:
            queues = list(self._queues.get(user_id, ()))
        taken = 0
        for q in queues:
            try:
                q.put_nowait(message)
                taken += 1
            except queue.Full:
                pass
        return len(queues), taken


class PushNotifier:
    channel = Channel.APP
    name = PROVIDER

    def __init__(self, hub: PushHub) -> None:
        self._hub = hub

    def send(self, message: Message) -> SendResult:
        clients, taken = self._hub.publish(message.to, message)
        if clients == 0:
            return SendResult.failure(PROVIDER, "no connected app", retryable=False)
        if taken == 0:
            return SendResult.failure(
                PROVIDER, f"all {clients} connected apps are behind", retryable=True
            )
        return SendResult(PROVIDER, None, DeliveryStatus.SENT)
