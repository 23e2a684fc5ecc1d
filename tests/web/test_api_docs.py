"""/docs (Swagger UI) and /redoc work on a network with no way out, as deployments often
are: Chromium loads them with every request to a host other than the server's own refused
(and recorded), and the pages render the API's operations."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route

from tests.support.web_browser import DESKTOP, TIMEOUT_MS
from tests.support.web_stack import WebStack

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _refused_url(message: str) -> str | None:
    found = re.search(r"'(https?://[^']+)'", message)
    return found.group(1) if found else None


class CutOffPage:
    """A page whose requests leave only for the server's own host; the others are aborted
    and kept in `outside`. Script errors are kept in `errors`, and so are CSP refusals of
    anything but another host's URL (those the CSP keeps inside, as it should: ReDoc's
    footer logo on its vendor's CDN)."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport=DESKTOP)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._csp_refusal)

    def _csp_refusal(self, message: ConsoleMessage) -> None:
        if message.type != "error" or "Content Security Policy" not in message.text:
            return
        url = _refused_url(message.text)
        if url is None or urlsplit(url).hostname in LOCAL_HOSTS:
            self.errors.append(message.text)

    def _only_local(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort("internetdisconnected")


@pytest.fixture
def cut_off(browser: Browser) -> Iterator[CutOffPage]:
    page = CutOffPage(browser)
    yield page
    page.context.close()


def test_swagger_ui_renders_the_operations_offline(stack: WebStack, cut_off: CutOffPage) -> None:
    page = cut_off.page
    page.goto(f"{stack.url}/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/alerts" in path for path in paths), paths
    assert len(paths) > 20
    assert cut_off.outside == [], cut_off.outside
    assert cut_off.errors == [], cut_off.errors


def test_redoc_renders_the_operations_offline(stack: WebStack, cut_off: CutOffPage) -> None:
    page = cut_off.page
    page.goto(f"{stack.url}/redoc")
    # one heading per operation, its path in the panel beside it
    # (a locator, not wait_for_function: the page's CSP rightly forbids the eval it polls by)
    page.locator("h2").nth(20).wait_for()
    assert page.get_by_text("/api/v1/alerts/{alert_id}/ack").count() > 0
    assert cut_off.outside == [], cut_off.outside
    assert cut_off.errors == [], cut_off.errors
