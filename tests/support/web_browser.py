"""Chromium for browser tests: Debian's `chromium` package driven by Playwright for Python.
Playwright never downloads a browser here; it launches the one the system has.

`NUANXIN_TEST_CHROMIUM` names another executable (default: /usr/bin/chromium, installed
with `apt-get install chromium`). Screenshots go to artifacts/screenshots/ (git-ignored;
CI keeps them as artifacts).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.support.prerequisites import CHROMIUM
from tests.support.servers import REPO_ROOT

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the test machine runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 10_000


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `apt-get install chromium`, or point "
            "NUANXIN_TEST_CHROMIUM at one"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class AppPage:
    """A signed-in page of the web app, in a browser context of its own, recording the
    script errors the page raises (a test fails on any)."""

    def __init__(self, browser: Browser, base_url: str, viewport: ViewportSize = PHONE) -> None:
        self.base_url = base_url
        self.context = browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sign_in(self, username: str, password: str) -> "AppPage":
        self.page.goto(f"{self.base_url}/app/#/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#nav:not([hidden]) a")
        return self

    def open(self, route: str) -> None:
        """Go to a route of the app (`#/elders/3`) the way a link does: no reload."""
        self.page.evaluate("route => { location.hash = route; }", route)

    def wait_live(self) -> None:
        self.page.wait_for_function("document.body.dataset.live === 'on'")

    def close(self) -> None:
        self.context.close()


def screenshots(page: Page, name: str, *, full_page: bool = False) -> list[Path]:
    """`name` at phone (360×740) and desktop (1280×800) size; with `full_page`, the phone
    view's whole length too. Toasts are dismissed first; animations are stopped."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => { document.getElementById('toast').hidden = true; }")
    original = page.viewport_size
    taken = []
    shots: list[tuple[ViewportSize, str, bool]] = [(PHONE, "", False), (DESKTOP, "", False)]
    if full_page:
        shots.append((PHONE, "-full", True))
    for size, suffix, whole in shots:
        page.set_viewport_size(size)
        # the phone's bottom tabs are fixed: in a whole-page picture they belong at the end
        page.evaluate(
            "flow => { document.getElementById('nav').style.position = flow; }",
            "static" if whole else "",
        )
        path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}{suffix}.png"
        options: dict[str, Any] = {"path": path, "animations": "disabled", "full_page": whole}
        page.screenshot(**options)
        taken.append(path)
    page.evaluate("() => { document.getElementById('nav').style.position = ''; }")
    if original is not None:
        page.set_viewport_size(original)
    return taken
