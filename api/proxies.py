"""The caller's address: the peer's, or — only when the peer is a trusted reverse proxy —
the one that proxy wrote into its forwarding header.

Anyone can send `X-Forwarded-For` or `Forwarded`; believing them from any peer would let a
caller pick the address the sign-in limit counts against. So the header is read only
from peers in `NUANXIN_TRUSTED_PROXIES`, and only the header those proxies write
(`NUANXIN_PROXY_HEADER`): a proxy that appends to `X-Forwarded-For` passes a caller's
own `Forwarded` through untouched, so reading both would believe the caller again.

A proxy appends the address it saw to whatever the caller sent, so the list is read from
the right: trusted proxies are skipped, and the first address that is not one is the
caller. Entries left of it were written by the caller and are ignored. An entry there
that is not an address (`unknown`, an obfuscated name, garbage) leaves the peer's address
in place: all callers behind that proxy then share one count, which limits too much
rather than too little.

uvicorn's own proxy-header handling believes 127.0.0.1 by default; `api.serving` turns it
off so that this middleware alone decides.
"""

import re
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from core.settings import ProxyHeader

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

_FORWARDED_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)', re.IGNORECASE)


def parse_address(text: str) -> Address | None:
    """`192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1` → an address."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def x_forwarded_for(values: Sequence[str]) -> list[str]:
    return [part for value in values for part in value.split(",")]


def forwarded(values: Sequence[str]) -> list[str]:
    """The `for=` of each element of RFC 7239 headers, in order (empty if an element has none)."""
    found = []
    for value in values:
        for element in value.split(","):
            match = _FORWARDED_FOR.search(element)
            found.append(_unquote(match.group(1)) if match else "")
    return found


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


HEADERS: dict[ProxyHeader, tuple[bytes, Callable[[Sequence[str]], list[str]]]] = {
    ProxyHeader.X_FORWARDED_FOR: (b"x-forwarded-for", x_forwarded_for),
    ProxyHeader.FORWARDED: (b"forwarded", forwarded),
}


def caller(peer: str, hops: Sequence[str], trusted: Sequence[Network]) -> str:
    """The caller's address, given the peer and the header's entries (left to right)."""

    def is_trusted(address: Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    peer_address = parse_address(peer)
    if not is_trusted(peer_address) or not hops:
        return peer
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return peer
        if not is_trusted(address):
            return str(address)
    # every hop is a trusted proxy: the request began at the first of them
    return str(parse_address(hops[0]))


class TrustedProxyMiddleware:
    """Sets the ASGI client address to the caller's, as `caller` decides."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network], header: ProxyHeader) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.name, self.parse = HEADERS[header]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == self.name]
            host = scope["client"][0]
            found = caller(host, self.parse(values), self.trusted)
            if found != host:
                scope = {**scope, "client": (found, 0)}
        await self.app(scope, receive, send)
