"""The web app's files as the API serves them: under /app/ with `/` leading there, a PWA
(manifest, SVG icons, a service worker that caches the whole shell), nothing fetched from
the internet, and headers that keep it so."""

import json
import re
from pathlib import Path

import httpx

from api.app import WEB_DIR
from tests.support.web_stack import WebStack

SHELL_ENTRY = re.compile(r'^\s*"([^"]+)",$', re.MULTILINE)
# An absolute or protocol-relative URL; the SVG namespace is a name, never fetched.
EXTERNAL = re.compile(r"""https?://(?!www\.w3\.org/2000/svg)\S+|["'(]//[a-z0-9-]+\.""", re.I)


def shell_files() -> list[str]:
    source = (WEB_DIR / "sw.js").read_text()
    block = source[source.index("const SHELL = [") : source.index("];")]
    return SHELL_ENTRY.findall(block)


def test_root_leads_to_the_app_with_its_headers(stack: WebStack) -> None:
    root = httpx.get(f"{stack.url}/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/app/"
    app = httpx.get(f"{stack.url}/app/")
    assert app.status_code == 200 and 'src="js/app.js"' in app.text
    assert "default-src 'self'" in app.headers["content-security-policy"]
    script = httpx.get(f"{stack.url}/app/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")


def test_the_manifest_and_its_icons(stack: WebStack) -> None:
    response = httpx.get(f"{stack.url}/app/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.text)
    assert manifest["start_url"] == "/app/" and manifest["lang"] == "zh-CN"
    for icon in manifest["icons"]:
        served = httpx.get(f"{stack.url}/app/{icon['src']}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/svg+xml"


def test_the_service_worker_caches_every_file_of_the_shell(stack: WebStack) -> None:
    listed = set(shell_files()) - {"./"}
    on_disk = {
        str(path.relative_to(WEB_DIR))
        for path in WEB_DIR.rglob("*")
        if path.is_file() and path.name != "sw.js"
    }
    assert listed == on_disk, "sw.js SHELL and api/web/ differ"
    for name in sorted(listed):
        assert httpx.get(f"{stack.url}/app/{name}").status_code == 200, name


def test_nothing_is_fetched_from_the_internet() -> None:
    for path in WEB_DIR.rglob("*"):
        if path.is_file():
            found = EXTERNAL.findall(Path(path).read_text(encoding="utf-8"))
            assert not found, f"{path.relative_to(WEB_DIR)} refers to {found}"
