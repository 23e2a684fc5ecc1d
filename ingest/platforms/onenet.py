"""China Mobile OneNET HTTP push bodies → our messages, after their signature. Pure.

    verify_url(token, msg, nonce, signature) -> bool      the URL-verification GET
    receive(body, received_at, directory, keys) -> Refused | list[Decoded]

Two push forms share one route:
- classic (数据推送): `{"msg": {...} | [...], "msg_signature", "nonce"}`, or in
  encrypted mode `{"enc_msg": "<base64>", ...}`; `msg.type` 1 is a data point
  (`dev_id, ds_id, at, value`, `imei` for NB devices), 2 online/offline (`status`).
  Encryption: AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = key[:16],
  PKCS#7 padding; plaintext = 16 random bytes, a 4-byte big-endian length, the message.
- Studio: `{"msg": "<JSON text>", "signature", "nonce", "time", "id"}`; inside,
  `messageType` `notify` (`notifyType` property | event, `data.params`) or `lifeCycle`
  (online/offline). In security mode `msg` is base64 AES-128-CBC (16-character key,
  IV = key) of that JSON text, PKCS#7.

The signature is base64(md5(token + nonce + msg)) over `msg` exactly as received: the
raw JSON text of a classic `msg` object (not a re-serialisation), the text of a string.
A push whose signature fails is `Refused`, never stored. A signed push that cannot be
used (undecryptable, bad shape, unknown device, time out of window) is quarantined with
its reason: the platform's retry would bring the same bytes.

Replays: the signature covers `msg` and `nonce` only, so nothing outside them decides
what a push is. The dedup id of a Studio push is a hash of its signed `msg` text (never
the unsigned `id`), and its time comes from inside `msg` (the params' or lifeCycle's own
`time`, never the unsigned envelope `time`): a captured push resent with `id` or `time`
changed lands on the same (device, ts, msg_id) and stores nothing. A Studio `msg` that
carries no time of its own is quarantined for that reason. The envelope `time` must be
within STUDIO_FRESHNESS of arrival: OneNET retries for ~2 h 45 min, so an older push is
no retry, and is quarantined (TS_WINDOW) rather than taken as news. Classic pushes carry
no envelope id or time: each data point's id is a hash of its signed fields (dev_id, type,
ds_id, at, value), its time the signed `at`.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.fields import describe
from ingest.adapters.payload import Quarantine
from ingest.messages import Decoded, QuarantineReason, Status
from ingest.platforms import envelope, service_data

PLATFORM: Final = "onenet"
TOPIC: Final = "platform/onenet"
RANDOM_PREFIX: Final = 16
LENGTH_BYTES: Final = 4
# OneNET Studio retries an unanswered push up to 16 times over ~2 h 45 min; 3 h leaves
# room for the last retry and the platform's queueing, and no more.
STUDIO_FRESHNESS: Final = timedelta(hours=3)
STUDIO_CLOCK_SKEW: Final = timedelta(minutes=5)  # the platform's clock ahead of ours


@dataclass(frozen=True, slots=True)
class Keys:
    token: str
    aes_key: str | None = None  # classic EncodingAESKey (43 chars) or Studio key (16)


@dataclass(frozen=True, slots=True)
class Refused:
    """Not from the platform: answered 401/403 and counted, nothing stored."""

    reason: str  # metric label: missing_signature | bad_signature
    detail: str


def sign(token: str, nonce: str, msg: str) -> str:
    digest = hashlib.md5((token + nonce + msg).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_url(token: str, msg: str, nonce: str, signature: str) -> bool:
    # A '+' in a query string arrives as a space when the platform does not escape it.
    return hmac.compare_digest(sign(token, nonce, msg), signature.replace(" ", "+"))


def receive(
    body: bytes, received_at: datetime, directory: DeviceDirectory, keys: Keys
) -> Refused | list[Decoded]:
    try:
        push = envelope.read_object(body)
        signed = _signed_part(body, push)
    except Quarantine as problem:
        return [problem.rejected(TOPIC, body, received_at, None)]
    if signed is None:
        return Refused("missing_signature", "the push carries no signature, nonce and msg")
    text, nonce, signature = signed
    if not verify_url(keys.token, text, nonce, signature):
        return Refused("bad_signature", "the signature does not match this server's token")
    return envelope.guarded(
        TOPIC, body, received_at, lambda: _messages(push, text, received_at, directory, keys, body)
    )


# --- the signed part ------------------------------------------------------------------


def _signed_part(body: bytes, push: dict[str, Any]) -> tuple[str, str, str] | None:
    """(the msg text as signed, nonce, signature), or None when any is missing."""
    signature = push.get("msg_signature", push.get("signature"))
    nonce = push.get("nonce")
    name = "enc_msg" if "enc_msg" in push else "msg"
    if not (isinstance(signature, str) and isinstance(nonce, str) and name in push):
        return None
    value = push[name]
    if isinstance(value, str):
        return value, nonce, signature
    return raw_values(body.decode("utf-8"))[name], nonce, signature


def raw_values(text: str) -> dict[str, str]:
    """Each top-level member of a JSON object as the exact text it was sent in."""
    decoder = json.JSONDecoder()
    spans: dict[str, str] = {}
    at = _skip(text, 0)
    if text[at : at + 1] != "{":
        return spans
    at = _skip(text, at + 1)
    while at < len(text) and text[at] == '"':
        key, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
        at = _skip(text, at)
        at = _skip(text, at + 1)  # past ':'
        _, end = decoder.raw_decode(text, at)
        spans[key] = text[at:end]
        at = _skip(text, end)
        if text[at : at + 1] == ",":
            at = _skip(text, at + 1)
    return spans


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


# --- decryption -----------------------------------------------------------------------


def _decrypt(value: str, keys: Keys) -> str:
    if keys.aes_key is None:
        raise Quarantine(
            QuarantineReason.SCHEMA,
            "encrypted push, but no AES key is configured (NUANXIN_ONENET_AES_KEY)",
        )
    try:
        cipher_text = base64.b64decode(value, validate=True)
        classic = len(keys.aes_key) == 43
        key = base64.b64decode(keys.aes_key + "=") if classic else keys.aes_key.encode()
        plain = _unpad(_aes_cbc(key, key[:16], cipher_text))
        if classic:
            size = int.from_bytes(plain[RANDOM_PREFIX : RANDOM_PREFIX + LENGTH_BYTES], "big")
            start = RANDOM_PREFIX + LENGTH_BYTES
            if start + size > len(plain):
                raise ValueError("length prefix past the end")
            plain = plain[start : start + size]
        return plain.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise Quarantine(
            QuarantineReason.BAD_JSON,
            f"cannot decrypt the push ({error}); check NUANXIN_ONENET_AES_KEY",
        ) from None


def _aes_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    if len(data) == 0 or len(data) % 16:
        raise ValueError(f"{len(data)} bytes is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _unpad(data: bytes) -> bytes:
    # PKCS#7 to 16- or 32-byte blocks (OneNET's samples use both): 1..32 equal bytes.
    pad = data[-1]
    if not 1 <= pad <= 32 or data[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    return data[:-pad]


def encrypt(plain: str, keys: Keys, random_prefix: bytes = b"\0" * 16) -> str:
    """The platform's side, for the simulator and tests: `plain` as OneNET sends it."""
    assert keys.aes_key is not None
    data = plain.encode("utf-8")
    classic = len(keys.aes_key) == 43
    key = base64.b64decode(keys.aes_key + "=") if classic else keys.aes_key.encode()
    if classic:
        data = random_prefix + len(data).to_bytes(LENGTH_BYTES, "big") + data
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


# --- the messages ---------------------------------------------------------------------


def _messages(
    push: dict[str, Any],
    text: str,
    received_at: datetime,
    directory: DeviceDirectory,
    keys: Keys,
    body: bytes,
) -> list[Decoded]:
    if "msg_signature" in push:  # classic
        inner: Any = push.get("msg")
        if "enc_msg" in push:
            inner = _loads(_decrypt(text, keys))
        items = inner if isinstance(inner, list) else [inner]
        decoded: list[Decoded] = []
        for item in items:
            work = functools.partial(_classic, item, received_at, directory, body)
            decoded.extend(envelope.guarded(TOPIC, body, received_at, work))
        return decoded
    _check_fresh(push.get("time"), received_at)
    plain = text if text.lstrip().startswith("{") else _decrypt(text, keys)
    msg_id = service_data.report_id(PLATFORM, "studio", text)
    return _studio(_loads(plain), msg_id, received_at, directory, body)


def _check_fresh(value: Any, received_at: datetime) -> None:
    """The Studio envelope's `time` (unsigned: a sanity check on top of the signed dedup)
    within STUDIO_FRESHNESS before arrival and STUDIO_CLOCK_SKEW after it."""
    sent = envelope.device_time(value, received_at, "time")
    hours = STUDIO_FRESHNESS.total_seconds() / 3600
    if sent < received_at - STUDIO_FRESHNESS:
        raise Quarantine(
            QuarantineReason.TS_WINDOW,
            f"time {sent.isoformat()} is more than {hours:g} h before arrival"
            f" {received_at.isoformat()}: older than the platform's retries, so a replay",
        )
    if sent > received_at + STUDIO_CLOCK_SKEW:
        raise Quarantine(
            QuarantineReason.TS_WINDOW,
            f"time {sent.isoformat()} is after arrival {received_at.isoformat()}"
            f" by more than {STUDIO_CLOCK_SKEW.total_seconds() / 60:g} min",
        )


def _loads(text: str) -> Any:
    return envelope.read_object(text.encode("utf-8"))


def _classic(
    item: Any, received_at: datetime, directory: DeviceDirectory, body: bytes
) -> list[Decoded]:
    if not isinstance(item, dict):
        raise Quarantine(QuarantineReason.SCHEMA, f"msg: expected an object, got {describe(item)}")
    kind = envelope.field(item, "type", int)
    device = envelope.find_device(directory, PLATFORM, (item.get("dev_id"), item.get("imei")))
    ts = envelope.device_time(item.get("at"), received_at, "at")
    if kind == 2:
        online = envelope.field(item, "status", int) == 1
        return [Status(device.device_id, online, received_at, ts)]
    if kind != 1:
        raise Quarantine(
            QuarantineReason.SCHEMA, f"msg.type {kind}: expected 1 data point or 2 online/offline"
        )
    ds_id = envelope.field(item, "ds_id", str)
    parts = (item.get("dev_id"), kind, ds_id, item.get("at"), item.get("value"))
    msg_id = service_data.report_id(PLATFORM, *parts)
    origin = service_data.Origin(device, ts, msg_id, received_at, TOPIC, body)
    return service_data.decode(origin, {ds_id: item.get("value")})


def _studio(
    msg: dict[str, Any],
    msg_id: str,
    received_at: datetime,
    directory: DeviceDirectory,
    body: bytes,
) -> list[Decoded]:
    kind = envelope.field(msg, "messageType", str)
    found = msg.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    device = envelope.find_device(
        directory, PLATFORM, (msg.get("deviceName"), data.get("deviceName"), msg.get("deviceId"))
    )
    if kind == "lifeCycle":
        status = data.get("status", msg.get("status"))
        if status not in ONLINE:
            raise Quarantine(QuarantineReason.SCHEMA, f"lifeCycle status {describe(status)}")
        ts = _signed_time(data.get("time", msg.get("timestamp")), received_at)
        return [Status(device.device_id, ONLINE[status], received_at, ts)]
    if kind != "notify":
        raise Quarantine(
            QuarantineReason.SCHEMA, f"messageType {kind!r}: expected notify or lifeCycle"
        )
    params = envelope.field(data, "params", dict)
    notify_type = msg.get("notifyType")
    properties, times = _properties(params, event=notify_type == "event")
    ts = _signed_time(max(times, default=None), received_at)
    origin = service_data.Origin(device, ts, msg_id, received_at, TOPIC, body)
    return service_data.decode(origin, properties)


def _signed_time(value: Any, received_at: datetime) -> datetime:
    if value is None:
        raise Quarantine(
            QuarantineReason.SCHEMA,
            "msg carries no time of its own; the envelope's time is not signed, so this"
            " push could not be told from a replay",
        )
    return envelope.device_time(value, received_at, "msg time")


# lifeCycle status as OneNET Studio documents it (text), and as some products send it.
ONLINE: Final[Mapping[Any, bool]] = {"online": True, "offline": False, 1: True, 0: False}


def _properties(params: dict[str, Any], *, event: bool) -> tuple[dict[str, Any], list[int]]:
    """`{identifier: {"value": v, "time": ms}}` → (properties, their times). An event's
    value is an object of its output parameters, read like properties."""
    properties: dict[str, Any] = {}
    times: list[int] = []
    for name, entry in params.items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and type(entry.get("time")) is int:
            times.append(entry["time"])
        if event and isinstance(value, dict):
            properties.update(value)
        else:
            properties[name] = value
    return properties, times
