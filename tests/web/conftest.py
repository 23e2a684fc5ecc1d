"""A running platform and a Chromium per test module for the browser tests of the web app
(see tests/support/web_stack.py and web_browser.py); each test signs in on pages of its
own.

Module scope, not session: every module starts from the seeded world, and Playwright's
sync API keeps an event loop running in this thread while it is open, which would break
later tests that call asyncio.run().
"""

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.web_browser import PHONE, AppPage, chromium
from tests.support.web_stack import WebStack, web_stack
from tests.support.world import PASSWORD

OpenPage = Callable[[str], AppPage]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    with web_stack(tmp_path_factory.mktemp("web-broker")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(stack: WebStack) -> Iterator[Browser]:
    # After the stack (and closed before it): open event streams would hold up its shutdown.
    with chromium() as running:
        yield running


@pytest.fixture
def signed_in(stack: WebStack, browser: Browser) -> Iterator[OpenPage]:
    """Sign a role of the test world in on a phone-sized page; fails the test on script
    errors; closes the pages afterwards."""
    pages: list[AppPage] = []

    def open_page(role: str) -> AppPage:
        page = AppPage(browser, stack.url, PHONE).sign_in(stack.world.usernames[role], PASSWORD)
        pages.append(page)
        return page

    yield open_page
    errors = [error for page in pages for error in page.errors]
    for page in pages:
        page.close()
    assert not errors, f"the page raised: {errors}"
