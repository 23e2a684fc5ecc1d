"""Sign-in with username and password for a bearer token; sign-out revokes it.

Failed sign-ins are limited per username and per client address (api.ratelimit)."""

import threading
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentActor, DbDep, TokenDep
from api.ratelimit import LoginLimiter
from api.views import PersonalDataRoute
from device_registry.schemas import Token, UserPublic
from device_registry.users import authenticate, get_user, issue_token, revoke_token

router = APIRouter(prefix="/auth", tags=["auth"], route_class=PersonalDataRoute)


_LIMITER_LOCK = threading.Lock()


def login_limiter(app: FastAPI) -> LoginLimiter:
    """The app's limiter (api.ratelimit), made on first use; one per app, in memory."""
    with _LIMITER_LOCK:
        limiter: LoginLimiter | None = getattr(app.state, "login_limiter", None)
        if limiter is None:
            limiter = app.state.login_limiter = LoginLimiter()
        return limiter


@router.post(
    "/token",
    summary="Sign in: exchange username and password for a bearer token",
    responses={429: {"description": "Too many failed sign-ins for this username or address"}},
)
def sign_in(
    request: Request, db: DbDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    ttl = timedelta(minutes=request.app.state.settings.token_ttl_minutes)
    limiter = login_limiter(request.app)
    keys = limiter.keys(form.username, request.client.host if request.client else None)
    now = request.app.state.clock()
    retry_after = limiter.retry_after(keys, now)
    if retry_after is not None:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many failed sign-ins; try again later",
            headers={"Retry-After": str(retry_after)},
        )
    with db.transaction() as conn:
        user_id = authenticate(conn, form.username, form.password)
        if user_id is None:
            limiter.failed(keys, now)
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="wrong username or password",
                headers={"WWW-Authenticate": "Bearer"},
            )
        token = issue_token(conn, user_id, ttl)
    limiter.succeeded(keys[0])
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))


@router.post("/logout", status_code=204, summary="Sign out: the token stops working at once")
def sign_out(db: DbDep, actor: CurrentActor, token: TokenDep) -> None:
    assert token is not None  # CurrentActor already refused requests without one
    with db.transaction() as conn:
        revoke_token(conn, token)


@router.get("/me", summary="Who am I: role and assigned districts or elders")
def me(db: DbDep, actor: CurrentActor) -> UserPublic:
    assert actor.user_id is not None
    with db.transaction() as conn:
        return get_user(conn, actor.user_id)
