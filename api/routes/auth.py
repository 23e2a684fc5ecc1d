"""Sign-in with username and password for a bearer token; sign-out revokes it.

Failed sign-ins are limited per client address, with a backoff per account that never
holds back an address that has not failed (api.ratelimit)."""

import threading
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentActor, DbDep, TokenDep
from api.ratelimit import LoginLimiter, Refused, Reservation
from api.views import PersonalDataRoute
from core.errors import PermissionDenied
from device_registry import users
from device_registry.schemas import PasswordChange, Token, UserPublic
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


def _too_many(refused: Refused) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=(
            f"too many failed sign-ins from this address; try again in {refused.retry_after_s} s"
            " (or from an address that has not failed)"
        ),
        headers={"Retry-After": str(refused.retry_after_s)},
    )


def _reserve(request: Request, limiter: LoginLimiter, username: str) -> Reservation:
    """Count a password check against `username` and the caller's address before it runs
    (parallel attempts count); 429 when either may not try now."""
    address = request.client.host if request.client else None
    attempt = limiter.reserve(username, address, request.app.state.clock())
    if isinstance(attempt, Refused):
        raise _too_many(attempt)
    return attempt


def _no_nul(username: str, password: str) -> None:
    """The sign-in form is not a Strict body: refuse NUL here, as every body does (PostgreSQL
    text cannot hold it, and a 500 would not even count as an attempt)."""
    problems = [
        {"type": "value_error", "loc": ("body", name), "msg": "may not contain NUL", "input": ""}
        for name, value in (("username", username), ("password", password))
        if "\x00" in value
    ]
    if problems:
        raise RequestValidationError(problems)


@router.post(
    "/token",
    summary="Sign in: exchange username and password for a bearer token",
    responses={
        429: {
            "description": (
                "Too many failed sign-ins from this address, or from an address that has"
                " failed while the account backs off; Retry-After says when to try again"
            )
        }
    },
)
def sign_in(
    request: Request, db: DbDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    _no_nul(form.username, form.password)
    ttl = timedelta(minutes=request.app.state.settings.token_ttl_minutes)
    limiter = login_limiter(request.app)
    attempt = _reserve(request, limiter, form.username)
    try:
        with db.transaction() as conn:
            user_id = authenticate(conn, form.username, form.password)
            token = None if user_id is None else issue_token(conn, user_id, ttl)
    except BaseException:
        limiter.withdraw(attempt)  # not judged: an outage must not lock people out
        raise
    if token is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    limiter.succeeded(attempt)
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))


@router.post(
    "/password",
    status_code=204,
    summary="Change one's own password: the current one, and a new one zxcvbn rates hard",
    responses={
        403: {"description": "The current password is wrong"},
        422: {"description": "The new password is too easy to guess; the message says why"},
        429: {"description": "Too many wrong current passwords, counted as failed sign-ins"},
    },
)
def change_password(
    request: Request, db: DbDep, actor: CurrentActor, token: TokenDep, body: PasswordChange
) -> None:
    """Every other token of this account is revoked; the one used here stays valid. A wrong
    current password counts against the sign-in limit like a failed sign-in."""
    limiter = login_limiter(request.app)
    attempt = _reserve(request, limiter, actor.username)
    try:
        with db.transaction() as conn:
            users.change_password(conn, actor, body, keep_token=token)
    except PermissionDenied:
        raise  # a wrong current password: the reservation stands as a failure
    except BaseException:
        limiter.withdraw(attempt)  # judged right, or not judged at all
        raise
    limiter.succeeded(attempt)


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
