"""Log setup: readable lines for people, one JSON object per line for collectors, and
nothing in either that a log should not carry.

Every record of the process — ours and third parties' (uvicorn's access log, paho,
apscheduler, psycopg, httpx, twilio) — reaches the root logger's handler, whose
`RedactingFilter` masks phone numbers, ID-card numbers, tokens, passwords in URLs and
every configured secret (core.masking) before anything is written. The commands run
uvicorn with `log_config=None`, so it installs no handlers of its own that would
bypass the filter.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from core.masking import REDACTOR, Redactor
from core.settings import LogFormat

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
_TRACEBACKS = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Masks a record in place: its message (formatted once, here), traceback, stack and
    `extra` fields. Records pass through; only their text changes."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor.redact
        record.msg, record.args = redact(_message(record)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key in record.__dict__.keys() - _STANDARD_ATTRS:
            setattr(record, key, self._redact_value(getattr(record, key)))
        return True

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redactor.redact(value)
        if isinstance(value, dict):
            return {key: self._redact_value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_value(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redactor.redact(str(value))


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad arguments: logging would print them raw to stderr instead
        return f"{record.msg} (unformattable arguments: {record.args!r})"


class JsonFormatter(logging.Formatter):
    """Writes the record and any `extra={...}` fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # the redacted one, when the filter has been by
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: LogFormat = LogFormat.TEXT) -> None:
    """One handler on stderr for the whole process, every record redacted on the way."""
    handler = logging.StreamHandler()
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
