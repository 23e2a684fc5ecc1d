"""A local Twilio: answers the official SDK's Messages and Calls requests, records them,
and calls the application back the way Twilio does — status callbacks, inbound SMS and
keypad input, each signed with `X-Twilio-Signature` from the account's auth token.

    with TwilioServer() as twilio:          # http://127.0.0.1:<free port>
        ... point TwilioConfig.api_base_url at twilio.url ...
        sms = twilio.wait_for(lambda: twilio.messages())[0]
        twilio.post_gather(twilio.calls()[0], digits="1")

What it checks like Twilio: the path's account SID, HTTP Basic auth (SID:token), the
required fields and the E.164 form of `To` (error 21211). What it lets tests choose:
the final status per destination number (`set_message_outcome`, `set_call_outcome`),
a synchronous API error per number (`reject`), and an outage (`pause` — requests hang,
or get 503 — until `resume`). Status callbacks go out `callback_delay_ms` after each
create, or only when asked (`send_status_callbacks`) if the delay is None.

It runs on the standard library's threaded HTTP server, so tests and `nuanxin demo`
start it in-process without an event loop.
"""

import base64
import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

import httpx
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

T = TypeVar("T")
API_VERSION = "2010-04-01"
_RESOURCE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_FIRST_EVENTS = {"delivered": ["sent"], "undelivered": ["sent"], "read": ["sent", "delivered"]}


Kind = Literal["message", "call", "other"]


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class ApiRequest:
    """One request the SDK made, as received, and what we answered."""

    at: float
    method: str
    path: str
    kind: Kind
    form: dict[str, str]
    headers: dict[str, str]
    status: int
    sid: str | None = None


@dataclass(frozen=True)
class Callback:
    """One request we made to the application, signed like Twilio."""

    at: float
    url: str
    params: dict[str, str]
    signature: str
    status: int | None  # the application's answer; None when it could not be reached
    error: str | None = None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    kind: Kind = "other"
    sid: str | None = None


@dataclass
class _State:
    requests: list[ApiRequest] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    message_outcomes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    call_outcomes: dict[str, str] = field(default_factory=dict)
    rejections: dict[str, dict[str, Any]] = field(default_factory=dict)
    pause_mode: Literal["hang", "error"] | None = None


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    twilio: "TwilioServer"


class TwilioServer:
    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "local-twilio-auth-token",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_delay_ms: int | None = 50,
        callback_timeout_s: float = 5.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.callback_delay_ms = callback_delay_ms
        self._address: tuple[str | bytes | bytearray, int] = (host, port)
        self._changed = threading.Condition(threading.RLock())
        self._state = _State()
        self._resumed = threading.Event()
        self._resumed.set()
        self._timers: list[threading.Timer] = []
        self._callback_timeout_s = callback_timeout_s
        self._http = httpx.Client(timeout=callback_timeout_s)
        self._server: _HttpServer | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "TwilioServer":
        server = _HttpServer(self._address, _Handler)
        server.twilio = self
        self._server = server
        self._address = server.server_address[:2]  # a restart after `stop` keeps the port
        if self._http.is_closed:
            self._http = httpx.Client(timeout=self._callback_timeout_s)
        threading.Thread(
            target=server.serve_forever, args=(0.05,), name="twilio-server", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        with self._changed:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self._resumed.set()  # release requests hanging in a pause
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._http.close()

    def __enter__(self) -> "TwilioServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Twilio server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what tests choose -----------------------------------------------------------------

    def set_message_outcome(self, number: str, status: str, error_code: str | None = None) -> None:
        """Final MessageStatus for `number`: delivered (default), undelivered, failed, read."""
        with self._changed:
            self._state.message_outcomes[number] = (status, error_code)

    def set_call_outcome(self, number: str, status: str) -> None:
        """Final CallStatus for `number`: completed (default), busy, no-answer, failed."""
        with self._changed:
            self._state.call_outcomes[number] = status

    def reject(self, number: str, status: int = 400, code: int = 21211, message: str = "") -> None:
        """Answer creates to `number` with this Twilio error instead of accepting them."""
        text = message or f"The 'To' number {number} is not a valid phone number."
        with self._changed:
            self._state.rejections[number] = _error(status, code, text)

    def pause(self, mode: Literal["hang", "error"] = "error") -> None:
        """An outage: requests hang until `resume` ("hang") or get HTTP 503 ("error")."""
        with self._changed:
            self._state.pause_mode = mode
            if mode == "hang":
                self._resumed.clear()

    def resume(self) -> None:
        with self._changed:
            self._state.pause_mode = None
        self._resumed.set()

    # -- what tests read -------------------------------------------------------------------

    @property
    def requests(self) -> list[ApiRequest]:
        with self._changed:
            return list(self._state.requests)

    def messages(self) -> list[ApiRequest]:
        """Messages Twilio accepted (201), oldest first."""
        return [r for r in self.requests if r.kind == "message" and r.status == 201]

    def calls(self) -> list[ApiRequest]:
        return [r for r in self.requests if r.kind == "call" and r.status == 201]

    @property
    def callbacks(self) -> list[Callback]:
        with self._changed:
            return list(self._state.callbacks)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until `predicate()` is truthy (re-checked on every request and callback)
        and return its value; raise TimeoutError after `timeout` seconds."""
        result: list[T] = []

        def check() -> bool:
            value = predicate()
            if value:
                result.append(value)
            return bool(value)

        with self._changed:
            if not self._changed.wait_for(check, timeout):
                raise TimeoutError(f"the Twilio server did not see that in {timeout} s")
        return result[-1]

    # -- Twilio calling the application ----------------------------------------------------

    def post_signed(self, url: str, params: dict[str, str]) -> Callback:
        """POST `params` to `url` as Twilio does, signed with the auth token; record it."""
        signature = self.validator.compute_signature(url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            response = self._http.post(url, data=params, headers=headers)
            callback = Callback(time.time(), url, params, signature, response.status_code)
        except httpx.HTTPError as exc:
            callback = Callback(time.time(), url, params, signature, None, repr(exc))
        with self._changed:
            self._state.callbacks.append(callback)
            self._changed.notify_all()
        return callback

    def send_status_callbacks(self, request: ApiRequest) -> list[Callback]:
        """Post the status events of an accepted message or call to its StatusCallback."""
        url = request.form.get("StatusCallback")
        if not url or request.sid is None:
            return []
        base = {
            "AccountSid": self.account_sid,
            "From": request.form.get("From", ""),
            "To": request.form["To"],
            "ApiVersion": API_VERSION,
        }
        with self._changed:
            message_outcome = self._state.message_outcomes.get(request.form["To"])
            call_outcome = self._state.call_outcomes.get(request.form["To"], "completed")
        sent: list[Callback] = []
        if request.kind == "message":
            final, error_code = message_outcome or ("delivered", None)
            for status in [*_FIRST_EVENTS.get(final, []), final]:
                params = {**base, "MessageSid": request.sid, "SmsSid": request.sid}
                params |= {"MessageStatus": status, "SmsStatus": status}
                if status in ("failed", "undelivered"):
                    params["ErrorCode"] = error_code or "30003"
                sent.append(self.post_signed(url, params))
        else:
            params = {**base, "CallSid": request.sid, "CallStatus": call_outcome}
            params |= {"Direction": "outbound-api", "CallbackSource": "call-progress-events"}
            params |= {"SequenceNumber": "0", "Timestamp": formatdate(usegmt=True)}
            params["CallDuration"] = "23" if call_outcome == "completed" else "0"
            sent.append(self.post_signed(url, params))
        return sent

    def post_inbound_sms(self, url: str, from_: str, body: str, to: str = "") -> Callback:
        """An SMS from `from_` to our number, as Twilio posts it to the number's webhook."""
        sid = _sid("SM")
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}
        params |= {"AccountSid": self.account_sid, "From": from_, "To": to, "Body": body}
        params |= {"NumMedia": "0", "NumSegments": "1", "SmsStatus": "received"}
        params["ApiVersion"] = API_VERSION
        return self.post_signed(url, params)

    def post_gather(self, call: ApiRequest, digits: str = "1", url: str | None = None) -> Callback:
        """The callee pressed `digits` during the call: post them to the Gather action."""
        action = url or gather_action(call.form.get("Twiml", ""))
        params = {"CallSid": call.sid or "", "AccountSid": self.account_sid}
        params |= {"From": call.form.get("From", ""), "To": call.form.get("To", "")}
        params |= {"Digits": digits, "FinishedOnKey": "", "CallStatus": "in-progress"}
        params |= {"Direction": "outbound-api", "ApiVersion": API_VERSION}
        return self.post_signed(action, params)

    # -- the API side ----------------------------------------------------------------------

    def _record(self, request: ApiRequest) -> None:
        with self._changed:
            self._state.requests.append(request)
            self._changed.notify_all()
        if request.sid and self.callback_delay_ms is not None:
            timer = threading.Timer(
                self.callback_delay_ms / 1000, self.send_status_callbacks, (request,)
            )
            timer.daemon = True
            with self._changed:
                self._timers = [t for t in self._timers if t.is_alive()] + [timer]
            timer.start()

    def _authorized(self, account: str, authorization: str) -> bool:
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        return account == self.account_sid and authorization == (
            "Basic " + base64.b64encode(expected).decode()
        )

    def _answer(self, method: str, path: str, form: dict[str, str], authorization: str) -> _Answer:
        if self._state.pause_mode == "hang":
            self._resumed.wait()
        match = _RESOURCE.match(path)
        if method != "POST" or match is None:
            return _Answer(404, _error(404, 20404, "The requested resource was not found"))
        kind: Kind = "message" if match["kind"] == "Messages" else "call"
        if self._state.pause_mode == "error":
            return _Answer(503, _error(503, 20503, "Service Unavailable"), kind)
        if not self._authorized(match["account"], authorization):
            return _Answer(401, _error(401, 20003, "Authenticate"), kind)
        with self._changed:
            rejection = self._state.rejections.get(form.get("To", ""))
        if rejection is not None:
            return _Answer(rejection["status"], rejection, kind)
        problem = _missing(kind, form)
        if problem is not None:
            return _Answer(400, _error(400, *problem), kind)
        sid = _sid("SM" if kind == "message" else "CA")
        return _Answer(201, self._resource(kind, sid, form), kind, sid)

    def _resource(self, kind: str, sid: str, form: dict[str, str]) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        plural = "Messages" if kind == "message" else "Calls"
        body: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "status": "queued",
            "direction": "outbound-api",
            "api_version": API_VERSION,
            "date_created": now,
            "date_updated": now,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/{plural}/{sid}.json",
        }
        if kind == "message":
            body |= {"body": form.get("Body", ""), "num_segments": "1", "num_media": "0"}
            body |= {"date_sent": None, "error_code": None, "error_message": None}
        return body


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def _missing(kind: str, form: dict[str, str]) -> tuple[int, str] | None:
    to = form.get("To", "")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not _E164.match(to):
        return 21211, f"The 'To' number {to} is not a valid phone number."
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    if kind == "message" and not form.get("Body") and not form.get("MediaUrl"):
        return 21602, "Message body is required."
    if kind == "call" and not form.get("Twiml") and not form.get("Url"):
        return 21205, "Url or Twiml is required."
    return None


def gather_action(twiml: str) -> str:
    """The action URL of the first <Gather> in `twiml`."""
    gather = ET.fromstring(twiml).find(".//Gather")
    if gather is None or "action" not in gather.attrib:
        raise ValueError("the TwiML has no <Gather action=…>")
    return gather.attrib["action"]


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = dict(parse_qsl(raw, keep_blank_values=True))
        path = self.path.split("?", 1)[0]
        twilio = self.server.twilio
        answer = twilio._answer(self.command, path, form, self.headers.get("Authorization", ""))
        headers = dict(self.headers.items())
        twilio._record(
            ApiRequest(
                time.time(),
                self.command,
                path,
                answer.kind,
                form,
                headers,
                answer.status,
                answer.sid,
            )
        )
        payload = json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test); nothing to tell it

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `requests`, not stderr
