"""From MQTT bytes to a checked JSON object and a device time; shared by every adapter.

Errors: `Quarantine` is raised inside an adapter and turned into a `Rejected` at its
boundary (`Quarantine.rejected`); nothing here raises anything else on bad input.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ingest.adapters.fields import FieldError, describe
from ingest.messages import QuarantineReason, Rejected

MAX_PAYLOAD_BYTES: Final = 16 * 1024
MAX_FUTURE: Final = timedelta(hours=24)
MAX_PAST: Final = timedelta(days=30)

# RFC 3339 proper: Python's fromisoformat alone also takes dates, week dates and no offset.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class Quarantine(Exception):
    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def rejected(
        self, topic: str, payload: bytes, received_at: datetime, device_id: str | None
    ) -> Rejected:
        return reject(topic, payload, self.reason, self.detail, received_at, device_id)


def reject(
    topic: str,
    payload: bytes,
    reason: QuarantineReason,
    detail: str,
    received_at: datetime,
    device_id: str | None = None,
) -> Rejected:
    # A quarantine row must stay small even when a client publishes megabytes.
    if len(payload) > MAX_PAYLOAD_BYTES:
        detail = f"{detail}; first {MAX_PAYLOAD_BYTES} of {len(payload)} bytes kept"
        payload = payload[:MAX_PAYLOAD_BYTES]
    return Rejected(topic, payload, reason, detail, received_at, device_id)


def load_object(payload: bytes) -> dict[str, Any]:
    """The payload as a JSON object that PostgreSQL can store, or `Quarantine`."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Quarantine(
            QuarantineReason.TOO_LARGE, f"{len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}"
        )
    try:
        body = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise Quarantine(QuarantineReason.BAD_JSON, f"not UTF-8: {error.reason}") from None
    except (ValueError, RecursionError) as error:
        raise Quarantine(QuarantineReason.BAD_JSON, f"not JSON: {error}"[:200]) from None
    if not isinstance(body, dict):
        raise Quarantine(QuarantineReason.BAD_JSON, f"not a JSON object: {describe(body)}")
    # Only a \u escape can smuggle in a NUL or a lone surrogate, which jsonb and text reject.
    if b"\\u" in payload and not _storable(body):
        raise Quarantine(QuarantineReason.BAD_JSON, "contains NUL or an unpaired surrogate")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _storable(root: Any) -> bool:
    # Iterative: the parser accepts nesting deeper than Python's recursion limit allows.
    stack = [root]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and not _storable_text(value):
            return False
    return True


def _storable_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_ts(value: Any) -> datetime:
    """RFC 3339 with an offset, or epoch milliseconds; always returned in UTC."""
    if type(value) is int:
        try:
            return EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            raise FieldError(f"epoch milliseconds {value} out of range") from None
    if type(value) is str and RFC3339.fullmatch(value):
        try:
            return datetime.fromisoformat(value.upper()).astimezone(UTC)
        except ValueError:
            pass
    raise FieldError(f"expected RFC 3339 with offset or epoch ms, got {describe(value)}")


def window_error(ts: datetime, received_at: datetime) -> str | None:
    if ts > received_at + MAX_FUTURE:
        return f"ts {ts.isoformat()} is more than 24 h after arrival {received_at.isoformat()}"
    if ts < received_at - MAX_PAST:
        return f"ts {ts.isoformat()} is more than 30 days before arrival {received_at.isoformat()}"
    return None
