"""Guessable passwords are refused wherever a password is set — creating an account over
the API or the CLI, changing one's own — with zxcvbn's reason; strong ones are accepted.
Over real HTTP against a real database."""

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from tests.support.api_server import serve
from tests.support.cli import NUANXIN, clean_env
from tests.support.world import PASSWORD, World

STRONG = "lantern quietly orbits pumpkin"
# each weak password, and a word of the reason the refusal must give
WEAK = {
    "aaaaaaaaaa": "repeat",
    "1234567890": "common password",
    "password123": "common password",
    "{username}12": "username",
    "{display}2026": "name",
    "warm-heart-demo": "demo's password",  # printed in the README for the demo's accounts
}


@pytest.fixture(scope="module")
def base(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin, world: World
) -> Iterator[str]:
    settings = Settings(database_url=database_url)
    with serve(create_app(settings, pool, provisioner)) as base:
        yield base


def bearer(base: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def refusal(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", field]
    return str(problem["msg"])


@pytest.mark.parametrize("weak", WEAK)
def test_a_guessable_password_is_refused_with_the_reason_when_an_account_is_created(
    base: str, world: World, weak: str
) -> None:
    username, display = f"worker{len(weak)}-{weak[:3]}".replace("{", "x"), "Zhao Xiaoqing"
    body = {
        "username": username,
        "display_name": display,
        "role": "community_worker",
        "district_ids": [world.districts["east"]],
        "password": weak.format(username=username, display=display.replace(" ", "").lower()),
    }
    response = httpx.post(
        f"{base}/api/v1/users", json=body, headers=bearer(base, world.usernames["admin"])
    )
    message = refusal(response, "password")
    assert message.startswith("password is too easy to guess")
    assert WEAK[weak] in message.lower(), message


def test_a_strong_password_is_accepted_and_signs_in(base: str, world: World) -> None:
    body = {
        "username": "strong.worker",
        "role": "community_worker",
        "district_ids": [world.districts["east"]],
        "password": STRONG,
    }
    admin = bearer(base, world.usernames["admin"])
    assert httpx.post(f"{base}/api/v1/users", json=body, headers=admin).status_code == 201
    bearer(base, "strong.worker", STRONG)


def test_changing_ones_password_refuses_a_guessable_one_and_needs_the_current_one(
    base: str, world: World, pool: ConnectionPool
) -> None:
    username = world.usernames["installer"]
    old, elsewhere = bearer(base, username), bearer(base, username)
    url = f"{base}/api/v1/auth/password"
    for weak in ("aaaaaaaaaa", "password123", f"{username}12"):
        body = {"current_password": PASSWORD, "new_password": weak}
        response = httpx.post(url, json=body, headers=old)
        assert refusal(response, "new_password").startswith("password is too easy to guess")
    wrong = {"current_password": "not it at all", "new_password": STRONG}
    assert httpx.post(url, json=wrong, headers=old).status_code == 403
    right = {"current_password": PASSWORD, "new_password": STRONG}
    assert httpx.post(url, json=right, headers=old).status_code == 204
    # the new password signs in; the old one does not; the token that changed it still works
    bearer(base, username, STRONG)
    failed = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD}
    )
    assert failed.status_code == 401
    assert httpx.get(f"{base}/api/v1/auth/me", headers=old).status_code == 200
    # … and every other token of the account is revoked
    assert httpx.get(f"{base}/api/v1/auth/me", headers=elsewhere).status_code == 401
    with pool.connection() as conn:
        actions = [row[0] for row in conn.execute("SELECT action FROM audit_log")]
    assert "user.password" in actions
    # put it back for the module's other tests
    back = {"current_password": STRONG, "new_password": PASSWORD}
    assert httpx.post(url, json=back, headers=old).status_code == 204


# Every request body with a password in it, and the field: a new endpoint that sets a
# password fails test_every_password_field_is_judged until it is listed (and tested) here.
PASSWORD_FIELDS = {
    ("post", "/api/v1/users"): "password",
    ("post", "/api/v1/auth/password"): "new_password",
}


def test_every_password_field_is_judged(base: str) -> None:
    schema = httpx.get(f"{base}/openapi.json").json()
    components = schema["components"]["schemas"]
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content["schema"].get("$ref", "")
                properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
                for name in properties:
                    if "password" in name and name != "current_password":
                        found[(method, path)] = name
    # the sign-in form carries a password but sets none
    found.pop(("post", "/api/v1/auth/token"), None)
    assert found == PASSWORD_FIELDS


def test_the_cli_refuses_a_guessable_password_in_one_line(migrated_database_url: str) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=migrated_database_url)

    def create(username: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NUANXIN, "users", "create", username, "--role", "admin"],
            input=f"{password}\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    for weak in ("password123", "superadmin12", "short"):
        refused = create("superadmin", weak)
        assert refused.returncode != 0
        assert "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "password" in refused.stderr
    accepted = create("superadmin", STRONG)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["username"] == "superadmin"
