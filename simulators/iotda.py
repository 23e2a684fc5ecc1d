"""Huawei IoTDA as the application sees it: data-forwarding messages published over AMQP
1.0 to a queue, shaped as IoTDA's envelopes (see ingest/platforms/iotda.py).

IoTDA itself only lets an application receive; a local broker with AMQP 1.0 (RabbitMQ
with rabbitmq_amqp1_0) stands in for it, and this publishes to the queue the consumer
reads. On RabbitMQ 3.x, publish to `/queue/NAME` (which declares the queue) and consume
from `/amq/queue/NAME`.
"""

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from proton import Message
from proton.utils import BlockingConnection, BlockingSender

TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def compact_time(when: datetime) -> str:
    """IoTDA's event_time: 20151212T121212Z, UTC."""
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def _envelope(
    resource: str,
    event: str,
    header: Mapping[str, Any],
    body: Mapping[str, Any],
    when: datetime,
    request_id: str | None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "resource": resource,
        "event": event,
        "event_time": compact_time(when),
        "event_time_ms": when.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        "notify_data": {"header": dict(header), "body": dict(body)},
    }
    if request_id is not None:
        message["request_id"] = request_id
    return message


def header(device_id: str, node_id: str | None = None, product_id: str = "") -> dict[str, str]:
    """A notify_data.header; IoTDA device ids are `{product_id}_{node_id}`."""
    fields = {"device_id": device_id, "gateway_id": device_id}
    if node_id is not None:
        fields["node_id"] = node_id
    if product_id:
        fields["product_id"] = product_id
    return fields


def property_report(
    device_id: str,
    properties: Mapping[str, Any],
    *,
    node_id: str | None = None,
    service_id: str = "Report",
    when: datetime | None = None,
    request_id: str | None = "new",
) -> dict[str, Any]:
    """A device.property report of one service; request_id "new" makes a fresh one,
    None leaves it out (the consumer then hashes the envelope)."""
    when = when or datetime.now(UTC)
    service = {"service_id": service_id, "properties": dict(properties)}
    service["event_time"] = compact_time(when)
    return _envelope(
        "device.property",
        "report",
        header(device_id, node_id),
        {"services": [service]},
        when,
        str(uuid.uuid4()) if request_id == "new" else request_id,
    )


def status_change(
    device_id: str, online: bool, *, node_id: str | None = None, when: datetime | None = None
) -> dict[str, Any]:
    when = when or datetime.now(UTC)
    body = {
        "status": "ONLINE" if online else "OFFLINE",
        "status_update_time": when.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
    }
    return _envelope(
        "device.status", "update", header(device_id, node_id), body, when, str(uuid.uuid4())
    )


class IotdaPublisher:
    """Publishes envelopes (or any bytes) to one AMQP 1.0 address, durably."""

    def __init__(self, url: str, address: str, user: str, password: str) -> None:
        self._connection = BlockingConnection(
            url, user=user, password=password, allowed_mechs="PLAIN", timeout=30
        )
        self._sender: BlockingSender = self._connection.create_sender(address)

    def send(self, message: Mapping[str, Any] | bytes) -> None:
        body = message if isinstance(message, bytes) else _encode(message)
        self._sender.send(Message(body=body, durable=True))

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "IotdaPublisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
