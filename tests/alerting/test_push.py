"""App push: every connected client of a user gets the alert; a stuck client costs only
its own copy; subscribing and publishing from many threads at once is safe."""

import queue
import threading
import time

from alerting.notifiers.base import Channel, DeliveryStatus, Message
from alerting.notifiers.push import PushHub, PushNotifier
from alerting.templates import Form
from tests.alerting.support import message


def alert_for(user: str, notification_id: int = 41) -> Message:
    return message(Channel.APP, user, Form.CHAT, notification_id=notification_id)


def test_every_client_of_the_user_and_no_one_else() -> None:
    hub = PushHub()
    phone, tablet, other = hub.subscribe("u1"), hub.subscribe("u1"), hub.subscribe("u2")
    msg = alert_for("u1")

    result = PushNotifier(hub).send(msg)

    assert (result.status, result.provider) == (DeliveryStatus.SENT, "app")
    assert phone.get_nowait() == msg and tablet.get_nowait() == msg
    assert other.empty()


def test_a_stuck_client_does_not_hold_up_the_others() -> None:
    hub = PushHub(queue_size=1)
    stuck, reading = hub.subscribe("u1"), hub.subscribe("u1")
    notifier = PushNotifier(hub)
    notifier.send(alert_for("u1", 1))
    reading.get_nowait()

    started = time.monotonic()
    result = notifier.send(alert_for("u1", 2))

    assert time.monotonic() - started < 0.5
    assert result.status == DeliveryStatus.SENT
    assert reading.get_nowait().notification_id == 2
    assert stuck.get_nowait().notification_id == 1 and stuck.empty()


def test_no_connected_app_is_final_for_this_attempt() -> None:
    hub = PushHub()
    client = hub.subscribe("u1")
    hub.unsubscribe("u1", client)

    result = PushNotifier(hub).send(alert_for("u1"))

    assert (result.status, result.retryable, result.error) == (
        DeliveryStatus.FAILED,
        False,
        "no connected app",
    )
    assert hub.connected("u1") == 0


def test_concurrent_publishers_and_subscribers() -> None:
    hub = PushHub(queue_size=10_000)
    notifier = PushNotifier(hub)
    steady = [hub.subscribe("u1") for _ in range(2)]
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            for i in range(200):
                assert notifier.send(alert_for("u1", i)).ok
        except BaseException as exc:
            errors.append(exc)

    def churn() -> None:
        try:
            for _ in range(200):
                hub.unsubscribe("u1", hub.subscribe("u1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(4)]
    threads += [threading.Thread(target=churn) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert [q.qsize() for q in steady] == [800, 800]
    assert hub.connected("u1") == 2


def test_subscribe_returns_a_bounded_queue() -> None:
    q = PushHub(queue_size=3).subscribe("u1")
    assert isinstance(q, queue.Queue) and q.maxsize == 3
