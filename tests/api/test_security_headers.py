"""Security headers (api/headers.py): every answer says nosniff, no referrer and no framing;
API answers are never stored by a cache; the web app's and the docs' files revalidate under
their own CSP. The browser tests of tests/web run the app under that CSP."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.support.world import World

Auth = Callable[[str], dict[str, str]]

EVERY_ANSWER = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_every_answer_headers(headers: object, what: str) -> None:
    for name, value in EVERY_ANSWER.items():
        assert headers[name] == value, (what, name)  # type: ignore[index]
    assert "frame-ancestors 'none'" in headers["content-security-policy"], what  # type: ignore[index]


def test_every_api_answer_is_not_stored_and_not_sniffed(
    client: TestClient, world: World, auth: Auth
) -> None:
    """Each GET operation of the schema, as its answers come: 200, 401, 404 and 422 alike.
    A route added later is in the schema, so it is checked too."""
    admin = auth(world.usernames["admin"])
    spec = client.get("/openapi.json").json()
    checked = 0
    for template, methods in spec["paths"].items():
        if "get" not in methods or template.endswith("/stream"):  # endless; same middleware
            continue
        path = template.replace("{device_id}", world.devices["east_a"])
        path = re.sub(r"\{[^}]+\}", str(world.elders["east_a"]), path)
        for headers in ({}, admin):
            response = client.get(path, headers=headers)
            what = f"GET {path} -> {response.status_code}"
            assert_every_answer_headers(response.headers, what)
            assert response.headers["cache-control"] == "no-store", what
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
            checked += 1
    assert checked > 20
    assert client.get("/api/v1/elders/abc", headers=admin).headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/app/", "/app/js/app.js", "/app/manifest.webmanifest"])
def test_the_web_apps_files_revalidate_under_its_csp(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_every_answer_headers(response.headers, path)
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'") and "'unsafe-inline'" not in csp


@pytest.mark.parametrize(
    ("path", "cache"),
    [
        ("/docs", "no-store"),
        ("/redoc", "no-store"),
        ("/docs-assets/swagger-ui-bundle.js", "no-cache"),
        ("/docs-assets/redoc.standalone.js", "no-cache"),
    ],
)
def test_the_docs_and_their_assets(client: TestClient, path: str, cache: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_every_answer_headers(response.headers, path)
    assert response.headers["cache-control"] == cache
    assert "default-src 'self'" in response.headers["content-security-policy"]
    if path in ("/docs", "/redoc"):
        assert "cdn" not in response.text and "https://" not in response.text


def test_the_csv_report_is_not_stored_either(client: TestClient, world: World, auth: Auth) -> None:
    """A download, but personal data like any API answer; its own headers stay."""
    response = client.get(
        "/api/v1/reports/monthly?month=2026-01&format=csv",
        headers=auth(world.usernames["admin"]),
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["cache-control"] == "no-store"
