"""Security headers on every answer, declared in one table by path.

Every answer: `X-Content-Type-Options: nosniff` (a browser never guesses a type, so a JSON
answer that echoes input is never run as HTML or script), `Referrer-Policy: no-referrer`
(URLs name elders and alerts) and `X-Frame-Options: DENY` beside CSP `frame-ancestors
'none'` (no page of ours inside another's frame, so no click-jacked acknowledgement).

Per path: API answers carry personal data and change by the second, so `no-store` and a
CSP that lets them load nothing; the web app's files and the API docs' assets revalidate
each time (`no-cache`, cheap with their ETag: a fix reaches phones at once) under a CSP of
their own. A header the route set itself (the live stream's `Cache-Control`) is kept.
"""

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The web app loads nothing from elsewhere; scripts and styles come only from its own files.
APP_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc start from an inline script and style themselves inline; ReDoc
# runs its search in a worker from a blob: URL. Nothing comes from another host.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_ASSETS = "/docs-assets"

STATIC = {"Cache-Control": "no-cache"}
DYNAMIC = {"Cache-Control": "no-store"}

# (path prefix, headers): the longest matching prefix wins; "" matches every path.
BY_PATH: tuple[tuple[str, Mapping[str, str]], ...] = (
    ("/app/", {**STATIC, "Content-Security-Policy": APP_CSP}),
    (DOCS_ASSETS + "/", {**STATIC, "Content-Security-Policy": DOCS_CSP}),
    ("/docs", {**DYNAMIC, "Content-Security-Policy": DOCS_CSP}),
    ("/redoc", {**DYNAMIC, "Content-Security-Policy": DOCS_CSP}),
    ("", {**DYNAMIC, "Content-Security-Policy": API_CSP}),
)


def headers_for(path: str) -> dict[str, str]:
    _, headers = max(
        ((prefix, headers) for prefix, headers in BY_PATH if path.startswith(prefix)),
        key=lambda rule: len(rule[0]),
    )
    return {**EVERY_ANSWER, **headers}


class SecurityHeaders:
    """ASGI middleware adding `headers_for(path)` to each HTTP answer; streams pass as
    they are (only the start of the answer is touched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
