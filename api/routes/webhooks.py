"""Twilio's webhooks: delivery status of SMS and calls, SMS replies, and the keypad of
voice calls. Paths come from alerting.notifiers.callbacks, the table the notifiers use
to tell Twilio where to call.

Every request is verified before anything else: `X-Twilio-Signature` must be Twilio's
HMAC of the URL it called and the form parameters, keyed with our auth token. That URL
is rebuilt from NUANXIN_PUBLIC_BASE_URL + the request path (and query) — the very string
the notifiers gave Twilio — never from the Host header or scheme the request came with,
which proxies rewrite and clients choose. Anything unsigned or wrongly signed answers 403
and is logged with its path only (the body holds phone numbers).

SMS replies and key presses are handed to `alerting.inbound`, which counts each provider
id once and binds each to the one alert it answers (safety invariant 2). Acknowledgements
are audited under the contact's name, like the alert's timeline records them.
"""

import logging
import re
from typing import Annotated, Any, Final

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from alerting import inbound
from alerting.dispatch import record_delivery
from alerting.notifiers.base import DeliveryStatus, Locale, Message
from alerting.notifiers.callbacks import CallbackPath
from alerting.notifiers.twilio_http import PROVIDER, TWILIO_CALL_STATUS, TWILIO_MESSAGE_STATUS
from alerting.notifiers.twilio_voice import VOICES, alert_twiml
from alerting.templates import sms_answer, voice_answer
from api.deps import ChannelsDep, ClockDep, DbDep
from api.views import PersonalDataRoute
from core.errors import NotFound
from core.inputs import RowId
from core.settings import Settings
from core.vocabulary import Channel
from device_registry import audit
from device_registry.access import system_actor
from device_registry.db import fetch_one

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"], route_class=PersonalDataRoute)

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


# Twilio's signature covers the URL and then each parameter's name and value glued together
# in name order, with nothing between them. Whoever holds one signed request can move a
# boundary — MessageSid "SM…" + "NumMedia0", NumMedia dropped — and keep the signature,
# making a replay look new. So every parameter nuanxin acts on has an exact shape: no
# boundary can move into or out of it, and a request that does not fit answers 400.
_SMS_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
PARAMETER_SHAPES: Final[dict[str, re.Pattern[str]]] = {
    "MessageSid": _SMS_SID,
    "SmsSid": _SMS_SID,
    "SmsMessageSid": _SMS_SID,
    "CallSid": re.compile(r"CA[0-9a-f]{32}"),
    "AccountSid": re.compile(r"AC[0-9a-zA-Z]{32}"),
    "From": re.compile(r"(\+[1-9][0-9]{6,14})?"),
    "To": re.compile(r"(\+[1-9][0-9]{6,14})?"),
    "Digits": re.compile(r"[0-9*#]{0,32}"),
    "MessageStatus": re.compile(r"[a-z-]{1,20}"),
    "CallStatus": re.compile(r"[a-z-]{1,20}"),
    "ErrorCode": re.compile(r"[0-9]{0,6}"),
}


def shaped_params(params: Annotated[dict[str, str], Depends(twilio_params)]) -> dict[str, str]:
    """The signed parameters, each one nuanxin reads in its exact shape; else 400."""
    for name, shape in PARAMETER_SHAPES.items():
        value = params.get(name)
        if value is not None and shape.fullmatch(value) is None:
            log.warning(
                "refused a signed Twilio webhook: %s is not shaped as Twilio sends it", name
            )
            raise HTTPException(400, f"{name} is not shaped as Twilio sends it")
    return params


TwilioParams = Annotated[dict[str, str], Depends(shaped_params)]


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
        "A reply meaning yes (1, 收到, OK, 好, 确认 … full-width too), optionally with an "
        "alert's code (`1#23`), acknowledges one alert that was sent to the sender's number "
        "and is still unacknowledged: the one it names, or the only one there is. With "
        "several and no code it acknowledges none and lists their codes. Each `MessageSid` "
        "counts once: a replay is answered as already received and changes nothing. The "
        "answer (TwiML) tells the sender what happened; numbers we never contacted get none."
    ),
    response_class=Response,
    responses={400: {"description": "no MessageSid or From: the reply cannot be counted once"}},
)
def sms_inbound(db: DbDep, clock: ClockDep, params: TwilioParams) -> Response:
    sid, sender = params.get("MessageSid", ""), params.get("From", "")
    if not sid or not sender:
        raise HTTPException(400, "an inbound SMS must carry MessageSid and From")
    reply = MessagingResponse()
    with db.transaction() as conn:
        sms = inbound.Inbound(PROVIDER, sid, sender)
        answer = inbound.sms_reply(conn, sms, params.get("Body", ""), clock())
        _audit_contact_ack(conn, answer, "sms reply")
    if answer.locale is not None:
        text = sms_answer(
            answer.locale,
            answer.outcome,
            code=answer.alert_id,
            elder=answer.elder,
            choices=answer.choices,
        )
        if text is not None:
            reply.message(text)
    return Response(str(reply), media_type=TWIML)


@router.post(
    CallbackPath.TWILIO_VOICE_GATHER.value,
    summary="Twilio: a key pressed during an alert call",
    description=(
        "1 acknowledges the alert this call is about (the notification in the path, placed "
        "as this `CallSid`) and thanks the caller; anything else repeats the alert. A "
        "replayed key press changes nothing."
    ),
    response_class=Response,
    responses={400: {"description": "no CallSid: the key press cannot be counted once"}},
)
def voice_keypad(
    request: Request, db: DbDep, clock: ClockDep, params: TwilioParams, notification_id: RowId
) -> Response:
    digits, call_sid = params.get("Digits", "").strip(), params.get("CallSid", "")
    if not call_sid:
        raise HTTPException(400, "a key press must carry CallSid")
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
        locale = inbound.as_locale(row["locale"])
        if digits != inbound.ACK_KEY:
            base_url = request.app.state.settings.public_base_url
            return Response(alert_twiml(_message(row, locale), base_url), media_type=TWIML)
        call = inbound.Inbound(row["provider"] or PROVIDER, call_sid, row["to_address"])
        answer = inbound.keypad(conn, call, row, clock())
        _audit_contact_ack(conn, answer, "keypad")
    voice = VOICES[locale]
    said = voice_answer(locale, answer.outcome) or voice.goodbye
    response.say(said, language=voice.language, voice=voice.voice)
    return Response(str(response), media_type=TWIML)


def _audit_contact_ack(conn: psycopg.Connection[Any], answer: inbound.Answer, via: str) -> None:
    """Audit an acknowledgement a contact made, under the name the timeline gives them."""
    changed = answer.changed
    if changed is None:
        return
    row = fetch_one(conn, "SELECT acknowledged_by FROM alerts WHERE id = %s", (changed.alert_id,))
    assert row is not None  # the lifecycle function just locked it
    contact = system_actor(row["acknowledged_by"])  # the log keeps the name only
    detail = {"status": changed.status, "changed": True, "via": via}
    audit.record(conn, contact, "alert.acknowledge", "alert", changed.alert_id, detail)


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
