"""Dependencies every route uses: the database, the signed-in actor, the provisioner, the
clock and the notification channels of this deployment.

Authentication is decided here once; authorisation inside the registry's service
functions (device_registry.access), so the API and the CLI enforce the same rules.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from psycopg_pool import ConnectionPool

from alerting.planner import Channels
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


Clock = Callable[[], datetime]


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_channels(request: Request) -> Channels:
    channels: Channels = request.app.state.channels
    return channels


DbDep = Annotated[Database, Depends(get_database)]
ProvisionerDep = Annotated[CredentialProvisioner, Depends(get_provisioner)]
ClockDep = Annotated[Clock, Depends(get_clock)]
ChannelsDep = Annotated[Channels, Depends(get_channels)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]
# The browser's EventSource cannot send an Authorization header, so the live stream alone
# also takes the token from the query string. Nothing else does: URLs end up in proxy logs.
QueryTokenDep = Annotated[
    str | None,
    Query(
        alias="token",
        description="the bearer token, for EventSource clients only (they cannot send headers)",
    ),
]


def get_current_actor(db: DbDep, token: TokenDep) -> Actor:
    return _actor_for(db, token)


def get_stream_actor(db: DbDep, token: TokenDep, query_token: QueryTokenDep = None) -> Actor:
    return _actor_for(db, token or query_token)


def _actor_for(db: Database, token: str | None) -> Actor:
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
StreamActor = Annotated[Actor, Depends(get_stream_actor)]
