"""Dependencies every route uses: the database, the signed-in actor, the provisioner.

Authentication is decided here once; authorisation inside the registry's service
functions (device_registry.access), so the API and the CLI enforce the same rules.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from psycopg_pool import ConnectionPool

from device_registry.access import Actor
from device_registry.devices import CredentialProvisioner
from device_registry.users import actor_for_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


class Database:
    """Hands out pooled connections, one transaction per `with` block (committed on exit,
    before the response is sent, so a client that reads after a write sees it)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self.pool.connection() as conn:
            yield conn


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_provisioner(request: Request) -> CredentialProvisioner:
    provisioner: CredentialProvisioner = request.app.state.provisioner
    return provisioner


DbDep = Annotated[Database, Depends(get_database)]
ProvisionerDep = Annotated[CredentialProvisioner, Depends(get_provisioner)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def get_current_actor(db: DbDep, token: TokenDep) -> Actor:
    if token is not None:
        with db.transaction() as conn:
            actor = actor_for_token(conn, token)
        if actor is not None:
            return actor
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer …'",
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentActor = Annotated[Actor, Depends(get_current_actor)]
