"""Twilio's webhooks: delivery status of SMS and calls, SMS replies, and the keypad of
voice calls. Paths come from alerting.notifiers.callbacks, the table the notifiers use
to tell Twilio where to call.

Every request is verified before anything else: `X-Twilio-Signature` must be Twilio's
HMAC of the URL it called and the form parameters, keyed with our auth token. That URL
is rebuilt from NUANXIN_PUBLIC_BASE_URL + the request path (and query) — the very string
the notifiers gave Twilio — never from the Host header or scheme the request came with,
which proxies rewrite and clients choose. Anything unsigned or wrongly signed answers 403
and is logged with its path only (the body holds phone numbers).

Acknowledgements by SMS reply or keypad are audited under the contact's name, like the
alert's timeline records them.
"""

import logging
from typing import Annotated, Any, Final

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from alerting import lifecycle
from alerting.dispatch import record_delivery
from alerting.notifiers.base import Channel, DeliveryStatus, Locale, Message
from alerting.notifiers.callbacks import CallbackPath
from alerting.notifiers.twilio_http import TWILIO_CALL_STATUS, TWILIO_MESSAGE_STATUS
from alerting.notifiers.twilio_voice import VOICES, alert_twiml
from alerting.templates import REPLIES
from api.deps import ChannelsDep, ClockDep, DbDep
from core.errors import NotFound
from core.inputs import RowId
from core.settings import Settings
from device_registry import audit
from device_registry.access import system_actor
from device_registry.db import fetch_one

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

TWIML: Final = "application/xml"
SIGNATURE_HEADER: Final = "X-Twilio-Signature"


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: our public base URL, then the path the app routes on (any
    prefix a proxy strips is part of the base URL), then the query."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    query = request.url.query
    return settings.public_base_url.rstrip("/") + path + (f"?{query}" if query else "")


async def twilio_params(request: Request) -> dict[str, str]:
    """The form parameters of a request Twilio signed; 403 for anything else."""
    settings: Settings = request.app.state.settings
    form = await request.form()
    signature = request.headers.get(SIGNATURE_HEADER)
    token = settings.twilio_auth_token
    if token is None:
        reason = "NUANXIN_TWILIO_AUTH_TOKEN is not set, so no request can be verified"
    elif not signature:
        reason = f"no {SIGNATURE_HEADER} header"
    elif not RequestValidator(token.get_secret_value()).validate(
        signed_url(settings, request), form, signature
    ):
        reason = "the signature does not match (check NUANXIN_PUBLIC_BASE_URL)"
    else:
        return {key: value for key, value in form.items() if isinstance(value, str)}
    log.warning("refused a Twilio webhook on %s: %s", request.url.path, reason)
    raise HTTPException(status_code=403, detail="only requests signed by Twilio are accepted")


TwilioParams = Annotated[dict[str, str], Depends(twilio_params)]


@router.post(
    CallbackPath.TWILIO_SMS_STATUS.value,
    status_code=204,
    summary="Twilio: delivery status of an SMS",
    description="`failed` and `undelivered` mark the notification failed and fall back.",
)
def sms_status(
    db: DbDep,
    clock: ClockDep,
    channels: ChannelsDep,
    params: TwilioParams,
    notification_id: RowId,
) -> Response:
    twilio_status = params.get("MessageStatus", "")
    error = f"Twilio {twilio_status}, error {params.get('ErrorCode') or 'unknown'}"
    status = TWILIO_MESSAGE_STATUS.get(twilio_status)
    return _delivery(db, clock, channels, notification_id, params.get("MessageSid"), status, error)


@router.post(
    CallbackPath.TWILIO_VOICE_STATUS.value,
    status_code=204,
    summary="Twilio: status of a voice call",
    description="`busy`, `no-answer` and `failed` mark the call failed and fall back.",
)
def voice_status(
    db: DbDep,
    clock: ClockDep,
    channels: ChannelsDep,
    params: TwilioParams,
    notification_id: RowId,
) -> Response:
    twilio_status = params.get("CallStatus", "")
    status = TWILIO_CALL_STATUS.get(twilio_status)
    error = f"call {twilio_status}"
    return _delivery(db, clock, channels, notification_id, params.get("CallSid"), status, error)


def _delivery(
    db: DbDep,
    clock: ClockDep,
    channels: ChannelsDep,
    notification_id: RowId,
    sid: str | None,
    status: DeliveryStatus | None,
    error: str,
) -> Response:
    if sid is None or status is None:
        log.info("Twilio status callback for notification %s ignored", notification_id)
        return Response(status_code=204)
    with db.transaction() as conn:
        failed = status is DeliveryStatus.FAILED
        known = record_delivery(
            conn, notification_id, sid, status, error if failed else None, clock(), channels
        )
        if not known:
            raise NotFound(f"notification {notification_id} was not sent as {sid}")
    return Response(status_code=204)


@router.post(
    CallbackPath.TWILIO_SMS_INBOUND.value,
    summary="Twilio: an SMS to our number",
    description=(
        "A reply meaning yes (1, 收到, OK, 好, 确认 … full-width too) acknowledges the "
        "sender's newest unacknowledged alert; the answer (TwiML) confirms it by SMS."
    ),
    response_class=Response,
)
def sms_inbound(db: DbDep, clock: ClockDep, params: TwilioParams) -> Response:
    sender, body = params.get("From", ""), params.get("Body", "")
    reply = MessagingResponse()
    with db.transaction() as conn:
        locale = _sender_locale(conn, sender)
        try:
            changed = lifecycle.acknowledge_by_reply(conn, sender, body, clock())
        except lifecycle.LifecycleError:  # resolved between the lookup and the lock
            changed = None
        if changed is not None:
            elder = _audit_contact_ack(conn, changed, "sms reply")
            reply.message(REPLIES[locale or "zh-CN"].acknowledged.format(elder=elder))
        elif locale is not None and lifecycle.is_ack_reply(body):
            reply.message(REPLIES[locale].nothing_to_acknowledge)
    return Response(str(reply), media_type=TWIML)


@router.post(
    CallbackPath.TWILIO_VOICE_GATHER.value,
    summary="Twilio: a key pressed during an alert call",
    description="1 acknowledges the alert and thanks the caller; anything else repeats it.",
    response_class=Response,
)
def voice_keypad(
    request: Request, db: DbDep, clock: ClockDep, params: TwilioParams, notification_id: RowId
) -> Response:
    digits = params.get("Digits", "")
    response = VoiceResponse()
    with db.transaction() as conn:
        row = fetch_one(
            conn,
            "SELECT * FROM notifications WHERE id = %s AND channel = 'voice'",
            (notification_id,),
        )
        if row is None:
            response.hangup()
            return Response(str(response), media_type=TWIML)
        locale = _locale(row["locale"])
        if digits.strip() != "1":
            base_url = request.app.state.settings.public_base_url
            return Response(alert_twiml(_message(row, locale), base_url), media_type=TWIML)
        try:
            changed = lifecycle.acknowledge_by_keypad(conn, notification_id, digits, clock())
            text = REPLIES[locale].thanks
        except lifecycle.LifecycleError:
            changed, text = None, REPLIES[locale].closed
        if changed is not None:
            _audit_contact_ack(conn, changed, "keypad")
    voice = VOICES[locale]
    response.say(text, language=voice.language, voice=voice.voice)
    return Response(str(response), media_type=TWIML)


def _locale(value: object) -> Locale:
    return "en" if value == "en" else "zh-CN"


def _sender_locale(conn: psycopg.Connection[Any], sender: str) -> Locale | None:
    """The language we text this number in; None if we never texted it."""
    row = fetch_one(
        conn,
        "SELECT locale FROM notifications WHERE to_address = %s AND channel = 'sms'"
        " ORDER BY created_at DESC LIMIT 1",
        (sender,),
    )
    if row is None:
        return None
    return _locale(row["locale"])


def _audit_contact_ack(conn: psycopg.Connection[Any], changed: lifecycle.Changed, via: str) -> str:
    """Audit a contact's acknowledgement; returns the elder's name for the answer."""
    row = fetch_one(
        conn,
        "SELECT a.acknowledged_by, e.name FROM alerts a LEFT JOIN elders e ON e.id = a.elder_id"
        " WHERE a.id = %s",
        (changed.alert_id,),
    )
    assert row is not None  # the lifecycle function just locked it
    if changed.changed:
        contact = system_actor(row["acknowledged_by"])  # the log keeps the name only
        detail = {"status": changed.status, "changed": True, "via": via}
        audit.record(conn, contact, "alert.acknowledge", "alert", changed.alert_id, detail)
    return str(row["name"] or "")


def _message(row: dict[str, Any], locale: Locale) -> Message:
    return Message(
        notification_id=row["id"],
        channel=Channel.VOICE,
        to=row["to_address"],
        locale=locale,
        text=row["body"],
        template=row["template"],
        alert_id=row["alert_id"],
        params=row["params"],
    )
