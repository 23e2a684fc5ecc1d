"""Redaction of log records (core.masking.Redactor, core.logging.RedactingFilter): phone
numbers and ID-card numbers masked as the API masks them, credentials and every secret
setting hidden, in our records and third parties' alike, in text and JSON lines."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from pydantic import SecretStr

from core.logging import configure_logging
from core.masking import REDACTOR, FieldKind, Redactor, mask_id_card, mask_phone
from core.settings import LogFormat, Settings
from device_registry.access import Role
from device_registry.personal import exposed_value

REDACT = Redactor().redact


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers: put pytest's back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def log_output(fmt: LogFormat = LogFormat.TEXT) -> io.StringIO:
    """Configure logging as the commands do, writing into the returned buffer."""
    configure_logging("DEBUG", fmt)
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    return buffer


# --- text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("+14155550101", "+141****0101"),
        ("13812345678", "138****5678"),
        ("+1 415-555-0101", "+141****0101"),
        ("138 1234 5678", "138****5678"),
    ],
)
def test_phone_numbers_are_masked_as_the_api_masks_them(number: str, masked: str) -> None:
    assert REDACT(f"sms to {number}: sent") == f"sms to {masked}: sent"
    assert masked == mask_phone(number.replace(" ", "").replace("-", ""))
    if number.startswith("+") and " " not in number:  # what a family member sees in the API
        assert masked == exposed_value(FieldKind.DESTINATION, Role.FAMILY, number)


@pytest.mark.parametrize(
    "line",
    [
        # uvicorn's access log quotes the request line as sent: query values URL-encoded
        'GET /api/v1/contacts?phone=%2B8613812345678 HTTP/1.1" 200',
        "GET /lookup?phone=%2b86%20138%201234%205678",
        "to=%2B8613812345678&body=x",
        "number 8613812345678 called",  # the country code without its plus
        "number 86-138-1234-5678 called",
        '{"to": "\\u002B8613812345678"}',  # JSON with escaped ASCII
        "number (+86) 138-1234-5678 called",
        "number +86.138.1234.5678 called",
    ],
)
def test_phone_numbers_written_in_other_forms_are_masked(line: str) -> None:
    redacted = REDACT(line)
    assert "1234" not in redacted and "****5678" in redacted, redacted


@pytest.mark.parametrize(
    "line",
    ["peer 192.168.100.12:51234", "ts=1733390000000 ms", "GET /api/v1/alerts?limit=100%20"],
)
def test_what_only_looks_like_a_phone_number_stays(line: str) -> None:
    assert REDACT(line) == line


@pytest.mark.parametrize("id_card", ["150602194503120021", "15060219450312002X"])
def test_id_card_numbers_are_masked_as_the_api_masks_them(id_card: str) -> None:
    assert (
        REDACT(f"elder id_card {id_card} saved") == f"elder id_card {mask_id_card(id_card)} saved"
    )
    assert REDACT(id_card) == "150***********" + id_card[-4:]


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            '127.0.0.1:53114 - "GET /api/v1/alerts/stream?token=q7Hn-x_Z0a9 HTTP/1.1" 200',
            '127.0.0.1:53114 - "GET /api/v1/alerts/stream?token=*** HTTP/1.1" 200',
        ),
        ("Authorization: Bearer q7Hn-x_Z0a9.e~", "Authorization: ***"),
        ("{'authorization': 'Basic QUMxOnNlY3JldA=='}", "{'authorization': '***'}"),
        ("sent with bearer q7Hn-x_Z0a9", "sent with bearer ***"),
        (
            "POST http://robot/send?access_token=abc123&timestamp=1764288000000&sign=x%2By",
            "POST http://robot/send?access_token=***&timestamp=1764288000000&sign=***",
        ),
        (
            "POST https://robot/webhook/send?key=693a-91f6",
            "POST https://robot/webhook/send?key=***",
        ),
        ("api_key=zz client-secret=yy password=xx", "api_key=*** client-secret=*** password=***"),
        (
            "postgresql://nuanxin:hunter2@db:5432/nuanxin",
            "postgresql://nuanxin:***@db:5432/nuanxin",
        ),
        ("mqtts://ingest:p%40ss@broker:8883", "mqtts://ingest:***@broker:8883"),
        (
            "host=db user=nuanxin password=hunter2 dbname=x",
            "host=db user=nuanxin password=*** dbname=x",
        ),
    ],
)
def test_tokens_and_passwords_are_hidden(text: str, redacted: str) -> None:
    assert REDACT(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28 13:51:32,123 INFO ingest.service: stored 1000 readings in 12.5 ms",
        "2026-11-28T05:51:32.123456+00:00 ts 1764288000123 and 1764288000.5 UTC+08:00",
        "broker 127.0.0.1:18830 refused ingest: not authorised; alert 12345 level 2",
        "msg_id 0b7c9f1e-3a54-4c8e-9d1b-5a6f7e8d9c0b device btn-000123 rssi -71 monkey=1",
        "notification 9876543 attempt 3 of 5; 1234567890123456789 is not an ID card",
    ],
)
def test_ordinary_log_lines_are_left_alone(text: str) -> None:
    assert REDACT(text) == text


def secret_fields() -> list[str]:
    return [
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    ]


def test_every_secret_setting_is_hidden_wherever_it_appears() -> None:
    assert {"mqtt_password", "mqtt_admin_password", "twilio_auth_token"} <= set(secret_fields())
    values = {name: f"{name}-Zq7/é&x" for name in secret_fields()}
    # Any: the secret fields are named at run time, so no static signature can match them
    secret_settings: dict[str, Any] = {name: SecretStr(value) for name, value in values.items()}
    settings = Settings(
        database_url="postgresql://nuanxin:db%2Fpass-Zq7@127.0.0.1:5432/nuanxin",
        mqtt_url="mqtt://ingest:mqtt-url-pass-Zq7@127.0.0.1:1883",
        **secret_settings,
    )
    secrets = [*values.values(), "db/pass-Zq7", "mqtt-url-pass-Zq7"]
    assert sorted(settings.secret_values()) == sorted(secrets)
    text = " | ".join(f"{s} {quote(s, safe='')}" for s in secrets)
    redacted = REDACTOR.redact(text)  # every Settings registers its secrets on creation
    for secret in secrets:
        assert secret not in redacted and quote(secret, safe="") not in redacted


def test_a_secret_containing_another_is_hidden_whole() -> None:
    redactor = Redactor(["abc-Zq7", "abc-Zq7-longer"])
    assert redactor.redact("x abc-Zq7-longer y abc-Zq7") == "x *** y ***"


# --- records ---------------------------------------------------------------------------


@pytest.mark.usefixtures("root_logging")
def test_arguments_tracebacks_stacks_and_extras_are_redacted() -> None:
    out = log_output()
    log = logging.getLogger("nuanxin.test")
    log.info("sms to %s for elder %s", "+8613812345678", "150602194503120021")
    try:
        raise RuntimeError("provider refused +14155550101 with token=q7Hn-x_Z0a9")
    except RuntimeError:
        log.exception("notifier failed")
    log.warning("where: %s", "13812345678", stack_info=True, extra={"to": "+8613812345678"})
    text = out.getvalue()
    for leaked in ("13812345678", "150602194503120021", "14155550101", "q7Hn-x_Z0a9"):
        assert leaked not in text
    assert "sms to +86138****5678 for elder 150***********0021" in text
    assert "RuntimeError: provider refused +141****0101 with token=***" in text
    assert "Stack (most recent call last)" in text


@pytest.mark.usefixtures("root_logging")
def test_json_lines_are_redacted_extras_included() -> None:
    out = log_output(LogFormat.JSON)
    log = logging.getLogger("nuanxin.test")
    contact = {"phone": "+8613812345678", "tries": 2, "urls": ["http://a:pw-Zq7@h/"]}
    log.error("to %s", "+14155550101", extra={"contact": contact, "id_card": "15060219450312002X"})
    entry = json.loads(out.getvalue())
    assert entry["msg"] == "to +141****0101"
    assert entry["contact"] == {"phone": "+86138****5678", "tries": 2, "urls": ["http://a:***@h/"]}
    assert entry["id_card"] == "150***********002X"


@pytest.mark.usefixtures("root_logging")
@pytest.mark.parametrize(
    "name",
    ["uvicorn.access", "uvicorn.error", "paho.mqtt.client", "apscheduler", "psycopg", "httpx"],
)
def test_third_party_loggers_are_redacted(name: str) -> None:
    out = log_output()
    # uvicorn's access-log call, word for word (at WARNING: psycopg's own level)
    logging.getLogger(name).warning(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/x?token=q7Hn-x_Z0a9", "1.1", 200
    )
    assert '"GET /x?token=*** HTTP/1.1" 200' in out.getvalue()


@pytest.mark.usefixtures("root_logging")
def test_uvicorn_without_a_log_config_adds_no_handler_around_the_filter() -> None:
    """The commands pass log_config=None, so uvicorn's records reach the root handler."""
    out = log_output()
    uvicorn.Config(app=lambda *_: None, log_config=None)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name
    # WARNING: a level an earlier uvicorn.Config in this process (log_level) cannot hide
    logging.getLogger("uvicorn.access").warning("GET /x?token=%s", "q7Hn-x_Z0a9")
    assert "token=***" in out.getvalue()


@pytest.mark.usefixtures("root_logging")
def test_unformattable_arguments_are_redacted_not_dumped_raw(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = log_output()
    logging.getLogger("nuanxin.test").info("%d calls", "+8613812345678")
    assert "+86138****5678" in out.getvalue()
    assert "13812345678" not in out.getvalue() + capsys.readouterr().err


def test_a_secret_of_a_few_characters_does_not_mask_every_line() -> None:
    # amqp://u:p@h:5672 in a setting once made every later "p" in the log "***".
    redactor = Redactor(["p", "abc"])
    assert redactor.redact("http://example.org/api/ping") == "http://example.org/api/ping"
    assert redactor.redact("login to amqp://u:p@h:5672") == "login to amqp://u:***@h:5672"
