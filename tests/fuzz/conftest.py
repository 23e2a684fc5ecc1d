"""The API fuzz suite runs against the same stack as tests/api: a migrated throwaway
database, the project's Mosquitto with dynamic security, and a world of users per role."""

from tests.api.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    auth,
    client,
    database_url,
    module_broker,
    pool,
    provisioner,
    world,
)
