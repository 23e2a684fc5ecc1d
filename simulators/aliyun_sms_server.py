"""A local Alibaba Cloud SMS endpoint: answers the official SDK's `SendSms`, checks its
signature, and records what arrived.

What the SDK (alibabacloud-dysmsapi20170525 4.x on tea-openapi 0.4) really sends, seen
here: `POST /?OutId=…&PhoneNumbers=…&SignName=…&TemplateCode=…&TemplateParam=…` with an
empty body; the action and version in headers (`x-acs-action: SendSms`,
`x-acs-version: 2017-05-25`), and `Authorization: ACS3-HMAC-SHA256 Credential=<key id>,
SignedHeaders=…,Signature=…` over method, path, sorted query, the signed headers and the
SHA-256 of the body. This server recomputes that signature with the secret and answers
`SignatureDoesNotMatch` (HTTP 400) when it differs, as Alibaba Cloud does. Older RPC-style
requests (`Action=SendSms` in the query or form) are read too, unsigned checks aside.

Business refusals come back as HTTP 200 with a `Code` other than "OK", as Alibaba Cloud
answers them: per number (`fail_number`), an invalid mainland number
(`isv.MOBILE_NUMBER_ILLEGAL`), a variable over 35 characters (`isv.PARAM_LENGTH_LIMIT`),
and — when `templates` are given — an unknown code or a missing variable. `pause`
simulates an outage (hang, or HTTP 503 `ServiceUnavailable`).
"""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, quote

T = TypeVar("T")
_MAINLAND_MOBILE = re.compile(r"^1\d{10}$")
_VARIABLE = re.compile(r"\$\{(\w+)\}")
PARAM_MAX = 35


@dataclass(frozen=True)
class SmsRequest:
    """One request as received, and what we answered."""

    at: float
    action: str
    params: dict[str, str]  # query and form, decoded
    headers: dict[str, str]
    signature_valid: bool
    http_status: int
    code: str
    biz_id: str | None
    text: str | None  # what the phone shows, when the template is known

    @property
    def phone_numbers(self) -> str:
        return self.params.get("PhoneNumbers", "")

    @property
    def template_param(self) -> dict[str, str]:
        value: dict[str, str] = json.loads(self.params.get("TemplateParam") or "{}")
        return value


def acs3_signature(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
    secret: str,
) -> str:
    """Alibaba Cloud's V3 (ACS3-HMAC-SHA256) request signature, written from its spec."""
    canonical_query = "&".join(f"{k}={quote(query[k], safe='~')}" for k in sorted(query))
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed_headers)
    canonical = "\n".join(
        [
            method,
            path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class _State:
    requests: list[SmsRequest] = field(default_factory=list)
    failures: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    pause_mode: Literal["hang", "error"] | None = None


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    aliyun: "AliyunSmsServer"


class AliyunSmsServer:
    def __init__(
        self,
        access_key_id: str = "LTAI-local-key",
        access_key_secret: str = "local-aliyun-secret",
        *,
        templates: Mapping[str, str] | None = None,  # code → content with ${variables}
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.templates = dict(templates or {})
        self._address: tuple[str | bytes | bytearray, int] = (host, port)
        self._changed = threading.Condition(threading.RLock())
        self._state = _State()
        self._resumed = threading.Event()
        self._resumed.set()
        self._server: _HttpServer | None = None

    def start(self) -> "AliyunSmsServer":
        server = _HttpServer(self._address, _Handler)
        server.aliyun = self
        self._server = server
        self._address = server.server_address[:2]  # a restart after `stop` keeps the port
        threading.Thread(
            target=server.serve_forever, args=(0.05,), name="aliyun-sms", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._resumed.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "AliyunSmsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """What `Config(endpoint=…, protocol="http")` needs: host:port."""
        if self._server is None:
            raise RuntimeError("the Alibaba Cloud SMS server is not running")
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def fail_number(self, phone: str, code: str, message: str = "", http_status: int = 200) -> None:
        """Refuse SendSms to `phone` (11 digits, as Alibaba Cloud sees it) with `code`."""
        with self._changed:
            self._state.failures[phone] = (code, message or code, http_status)

    def pause(self, mode: Literal["hang", "error"] = "error") -> None:
        with self._changed:
            self._state.pause_mode = mode
            if mode == "hang":
                self._resumed.clear()

    def resume(self) -> None:
        with self._changed:
            self._state.pause_mode = None
        self._resumed.set()

    @property
    def requests(self) -> list[SmsRequest]:
        with self._changed:
            return list(self._state.requests)

    def sent(self) -> list[SmsRequest]:
        """Requests answered with Code "OK", oldest first."""
        return [r for r in self.requests if r.code == "OK"]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        result: list[T] = []

        def check() -> bool:
            value = predicate()
            if value:
                result.append(value)
            return bool(value)

        with self._changed:
            if not self._changed.wait_for(check, timeout):
                raise TimeoutError(f"the Alibaba Cloud SMS server did not see that in {timeout} s")
        return result[-1]

    # -- answering -------------------------------------------------------------------------

    def _signature_valid(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[bool, bool]:
        """(key id known, signature matches)."""
        auth = headers.get("authorization", "")
        fields = dict(
            part.strip().split("=", 1)
            for part in auth.removeprefix("ACS3-HMAC-SHA256").split(",")
            if "=" in part
        )
        if fields.get("Credential") != self.access_key_id:
            return False, False
        signed = fields.get("SignedHeaders", "").split(";")
        expected = acs3_signature(
            method, path, query, headers, signed, body, self.access_key_secret
        )
        return True, hmac.compare_digest(expected, fields.get("Signature", ""))

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, Any], bool, str | None]:
        if self._state.pause_mode == "hang":
            self._resumed.wait()
        known, valid = self._signature_valid(method, path, query, headers, body)
        if self._state.pause_mode == "error":
            return 503, _answer("ServiceUnavailable", "The service is unavailable."), valid, None
        if not known:
            return (
                404,
                _answer("InvalidAccessKeyId.NotFound", "Specified access key is not found."),
                False,
                None,
            )
        if not valid:
            return (
                400,
                _answer(
                    "SignatureDoesNotMatch",
                    "Specified signature is not matched with our calculation.",
                ),
                False,
                None,
            )
        action = headers.get("x-acs-action") or params.get("Action", "")
        if action != "SendSms":
            return 404, _answer("InvalidAction.NotFound", f"Unknown action {action}."), True, None
        phones = params.get("PhoneNumbers", "").split(",")
        with self._changed:
            failure = next(
                (self._state.failures[p] for p in phones if p in self._state.failures), None
            )
        if failure is not None:
            code, message, status = failure
            return status, _answer(code, message), True, None
        refusal = self._refusal(phones, params)
        if refusal is not None:
            return 200, _answer(*refusal), True, None
        biz_id = f"{secrets.randbelow(10**15):015d}^0"
        return 200, {**_answer("OK", "OK"), "BizId": biz_id}, True, self._text(params)

    def _refusal(self, phones: list[str], params: dict[str, str]) -> tuple[str, str] | None:
        if not all(_MAINLAND_MOBILE.match(p) for p in phones):
            return "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"
        try:
            variables = json.loads(params.get("TemplateParam") or "{}")
        except json.JSONDecodeError:
            return "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        if not isinstance(variables, dict) or not all(
            isinstance(v, str) for v in variables.values()
        ):
            return "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        if any(len(v) > PARAM_MAX for v in variables.values()):
            return "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制"
        if self.templates:
            content = self.templates.get(params.get("TemplateCode", ""))
            if content is None:
                return "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"
            if any(name not in variables for name in _VARIABLE.findall(content)):
                return "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量"
        return None

    def _text(self, params: dict[str, str]) -> str | None:
        content = self.templates.get(params.get("TemplateCode", ""))
        if content is None:
            return None
        variables = json.loads(params.get("TemplateParam") or "{}")
        filled = _VARIABLE.sub(lambda m: str(variables[m[1]]), content)
        return f"【{params.get('SignName', '')}】{filled}"

    def _record(self, request: SmsRequest) -> None:
        with self._changed:
            self._state.requests.append(request)
            self._changed.notify_all()


def _answer(code: str, message: str) -> dict[str, Any]:
    return {"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper()}


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = self.path.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) if body else {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        aliyun = self.server.aliyun
        status, answer, signed, text = aliyun._answer(
            self.command, path, query, {**query, **form}, headers, body
        )
        action = headers.get("x-acs-action") or query.get("Action") or form.get("Action", "")
        aliyun._record(
            SmsRequest(
                time.time(),
                action,
                {**query, **form},
                headers,
                signed,
                status,
                answer["Code"],
                answer.get("BizId"),
                text,
            )
        )
        payload = json.dumps(answer, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test); nothing to tell it

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `requests`, not stderr
