"""Carrier-platform pushes as CTWing and OneNET send them, for tests, the bench and
`nuanxin simulate --transport ctwing|onenet`.

    CtwingDevice(...).data_report({...}) / .online(True) / .event_report(3, {...})
    OnenetDevice(...).data_point(ds_id, value) / .status(True) / .studio_property({...})
    PushSender(base_url, ctwing_token=…).send(push)  (httpx, keep-alive)

Bodies are bytes, exactly what the platform posts: CTWing's JSON envelope; OneNET's
signed body (base64(md5(token + nonce + msg))), encrypted when a message key is given.
"""

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from ingest.platforms import onenet

CTWING_PATH: Final = "/api/v1/platforms/ctwing/{token}"
ONENET_PATH: Final = "/api/v1/platforms/onenet"


def now_ms() -> int:
    return int(time.time() * 1000)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Push:
    platform: str  # "ctwing" | "onenet"
    body: bytes


@dataclass
class CtwingDevice:
    device_id: str  # CTWing's deviceId
    imei: str
    product_id: str = "15017088"
    tenant_id: str = "2000087654"
    service_id: str = "smoke_alarm"

    def _envelope(self, kind: str, ts: int | None, **fields: Any) -> Push:
        body = {
            "tenantId": self.tenant_id,
            "productId": self.product_id,
            "deviceId": self.device_id,
            "messageType": kind,
            "IMEI": self.imei,
            "timestamp": now_ms() if ts is None else ts,
            **fields,
        }
        return Push("ctwing", _compact(body).encode())

    def data_report(self, service_data: dict[str, Any], ts: int | None = None) -> Push:
        payload = {"serviceId": self.service_id, "serviceData": service_data}
        return self._envelope(
            "dataReport",
            ts,
            upPacketSN=-1,
            upDataSN=-1,
            serviceId=self.service_id,
            protocol="lwm2m",
            payload=payload,
        )

    def online(self, online: bool, ts: int | None = None) -> Push:
        return self._envelope("deviceOnlineOfflineReport", ts, eventType=1 if online else 0)

    def event_report(self, event_type: int, content: dict[str, Any], ts: int | None = None) -> Push:
        return self._envelope(
            "eventReport", ts, serviceId=self.service_id, eventType=event_type, eventContent=content
        )


@dataclass
class OnenetDevice:
    dev_id: int  # classic OneNET device id; Studio's deviceName is the IMEI here
    imei: str
    token: str
    aes_key: str | None = None  # encrypt (classic 43 chars, Studio 16) when given
    product_id: str = "Jq4Zr8aB2c"
    _ids: Any = field(default_factory=itertools.count)

    @property
    def _keys(self) -> onenet.Keys:
        return onenet.Keys(self.token, self.aes_key)

    def _classic(self, msg: dict[str, Any]) -> Push:
        nonce = secrets.token_urlsafe(6)[:8]
        text = _compact(msg)
        if self.aes_key:
            enc = onenet.encrypt(text, self._keys, secrets.token_bytes(16))
            body = {"enc_msg": enc, "msg_signature": onenet.sign(self.token, nonce, enc)}
            return Push("onenet", _compact({**body, "nonce": nonce}).encode())
        signature = onenet.sign(self.token, nonce, text)
        raw = f'{{"msg":{text},"msg_signature":"{signature}","nonce":"{nonce}"}}'
        return Push("onenet", raw.encode())

    def data_point(self, ds_id: str, value: Any, at: int | None = None) -> Push:
        at = now_ms() if at is None else at
        msg = {"type": 1, "dev_id": self.dev_id, "ds_id": ds_id, "at": at, "value": value}
        return self._classic({**msg, "imei": self.imei})

    def status(self, online: bool, at: int | None = None) -> Push:
        at = now_ms() if at is None else at
        msg = {"type": 2, "dev_id": self.dev_id, "status": int(online), "login_type": 10}
        return self._classic({**msg, "at": at})

    def studio_property(self, params: dict[str, Any], at: int | None = None) -> Push:
        at = now_ms() if at is None else at
        msg = {
            "messageType": "notify",
            "notifyType": "property",
            "productId": self.product_id,
            "deviceName": self.imei,
            "data": {
                "id": str(next(self._ids)),
                "params": {k: {"value": v, "time": at} for k, v in params.items()},
            },
        }
        text = _compact(msg)
        if self.aes_key:
            text = onenet.encrypt(text, self._keys)
        nonce = secrets.token_urlsafe(6)[:8]
        body = {
            "msg": text,
            "signature": onenet.sign(self.token, nonce, text),
            "nonce": nonce,
            "time": at,
            "id": secrets.token_hex(16),
        }
        return Push("onenet", _compact(body).encode())


class PushSender:
    """Posts pushes to a nuanxin API over one keep-alive connection pool."""

    def __init__(self, base_url: str, ctwing_token: str = "", timeout_s: float = 10.0) -> None:
        self._paths = {"ctwing": CTWING_PATH.format(token=ctwing_token), "onenet": ONENET_PATH}
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def send(self, push: Push) -> httpx.Response:
        return self.client.post(
            self._paths[push.platform],
            content=push.body,
            headers={"content-type": "application/json"},
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "PushSender":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
