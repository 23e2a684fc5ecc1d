"""One registry per test module: a migrated throwaway database, a real Mosquitto with the
project's configuration and dynamic security, the API app, and the test world."""

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.db import open_pool
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from tests.support.broker import BrokerInfo, project_broker
from tests.support.databases import migrated_database
from tests.support.world import PASSWORD, World, build_world


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    with project_broker(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


@pytest.fixture(scope="module")
def provisioner(module_broker: BrokerInfo) -> Iterator[BrokerAdmin]:
    admin = BrokerAdmin(
        module_broker.host,
        module_broker.port,
        module_broker.admin_username,
        module_broker.admin_password,
    )
    with admin:
        yield admin


@pytest.fixture(scope="module")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(database_url, name="api-test", max_size=4)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def world(pool: ConnectionPool, provisioner: BrokerAdmin) -> World:
    with pool.connection() as conn:
        return build_world(conn, provisioner)


@pytest.fixture(scope="module")
def client(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin, world: World
) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url)
    with TestClient(create_app(settings, pool, provisioner)) as client:
        yield client


@pytest.fixture(scope="module")
def auth(client: TestClient) -> Callable[[str], dict[str, str]]:
    """Bearer headers for a user, signing in once per module."""
    tokens: dict[str, str] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return headers
