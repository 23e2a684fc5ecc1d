"""What every carrier-platform envelope needs: its JSON read, its device found, its time
checked, its fields typed — each failure a `Quarantine` with a reason, which the
platform modules turn into a `Rejected` at their boundary (`guarded`).

Errors: only `ingest.adapters.payload.Quarantine` is raised here, and only on bad input.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.fields import FieldError, describe
from ingest.adapters.payload import Quarantine, load_object, parse_ts, window_error
from ingest.messages import Decoded, DeviceInfo, QuarantineReason


def read_object(body: bytes) -> dict[str, Any]:
    """The push body as a JSON object (size, UTF-8 and storability checked)."""
    return load_object(body)


def field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """`body[name]`, of type `kind` (bool is never taken for int), or `Quarantine`."""
    value = body.get(name)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None or (isinstance(value, bool) and bool not in kinds):
        raise Quarantine(QuarantineReason.SCHEMA, f"{name}: missing or {describe(value)}")
    if not isinstance(value, kinds):
        raise Quarantine(
            QuarantineReason.SCHEMA, f"{name}: expected {_names(kinds)}, got {describe(value)}"
        )
    return value


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(kind.__name__ for kind in kinds)


def identity(value: Any) -> str | None:
    """A platform device id or IMEI as text (platforms send IMEIs as numbers too)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value).strip():
        return str(value).strip()
    return None


def find_device(directory: DeviceDirectory, platform: str, identities: Iterable[Any]) -> DeviceInfo:
    """The registered device of the first identity the platform gives that we know."""
    named = [text for text in (identity(value) for value in identities) if text]
    if not named:
        raise Quarantine(QuarantineReason.SCHEMA, "no device id or IMEI in the push")
    for name in named:
        device = directory.by_platform(platform, name)
        if device is not None:
            return device
    raise Quarantine(
        QuarantineReason.UNKNOWN_DEVICE,
        f"no device registered on {platform} as {' or '.join(repr(n) for n in named)}",
    )


def device_time(value: Any, received_at: datetime, name: str = "timestamp") -> datetime:
    """Epoch milliseconds (an int, or digits as text), inside the accepted window."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if type(value) is not int:
        raise Quarantine(
            QuarantineReason.SCHEMA, f"{name}: expected epoch ms, got {describe(value)}"
        )
    try:
        ts = parse_ts(value)
    except FieldError as error:
        raise Quarantine(QuarantineReason.SCHEMA, f"{name}: {error}") from None
    problem = window_error(ts, received_at)
    if problem is not None:
        raise Quarantine(QuarantineReason.TS_WINDOW, problem)
    return ts


def guarded(
    topic: str,
    body: bytes,
    received_at: datetime,
    work: Callable[[], list[Decoded]],
) -> list[Decoded]:
    """`work()`, or the quarantine row its `Quarantine` names (with the body kept)."""
    try:
        return work()
    except Quarantine as problem:
        return [problem.rejected(topic, body, received_at, None)]
