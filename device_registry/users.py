"""Accounts, passwords (argon2id, judged by zxcvbn before they are set) and bearer tokens
(random, stored hashed, expiring, revocable). `actor_for_token` is how every API request
learns who is asking."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import Conflict, InvalidRequest, PermissionDenied
from device_registry import audit, scope
from device_registry.access import Actor, Role
from device_registry.db import Row, fetch_all, fetch_one
from device_registry.passwords import require_strong
from device_registry.schemas import PasswordChange, UserCreate, UserPublic

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

USER_SELECT = """
SELECT u.id, u.username, u.display_name, u.role, u.active,
       COALESCE(array_agg(DISTINCT ud.district_id) FILTER (WHERE ud.district_id IS NOT NULL),
                '{}') AS district_ids,
       COALESCE(array_agg(DISTINCT ue.elder_id) FILTER (WHERE ue.elder_id IS NOT NULL),
                '{}') AS elder_ids
FROM users u
LEFT JOIN user_districts ud ON ud.user_id = u.id
LEFT JOIN user_elders ue ON ue.user_id = u.id
"""


def create_user(
    conn: psycopg.Connection[Any], actor: Actor, data: UserCreate, *, demo: bool = False
) -> UserPublic:
    actor.require("users", "write")
    scope.check_body(conn, actor, data)
    try:
        with conn.transaction():
            row = fetch_one(
                conn,
                "INSERT INTO users (username, display_name, password_hash, role)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (data.username, data.display_name, _hasher.hash(data.password), data.role),
            )
            assert row is not None
            _assign(conn, row["id"], data)
            # judged with what is now known about the person; refusing rolls all back
            require_strong(data.password, _personal_facts(conn, row["id"]), demo=demo)
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"username {data.username!r} is taken") from None
    except psycopg.errors.ForeignKeyViolation:
        raise InvalidRequest("a district_id or elder_id does not exist") from None
    audit.record(conn, actor, "user.create", "user", row["id"], {"role": data.role})
    return get_user(conn, row["id"])


def change_password(
    conn: psycopg.Connection[Any], actor: Actor, change: PasswordChange, keep_token: str | None
) -> None:
    """Set the actor's own password, given the current one; revoke their other tokens."""
    assert actor.user_id is not None
    if authenticate(conn, actor.username, change.current_password) != actor.user_id:
        raise PermissionDenied("the current password is wrong")
    require_strong(change.new_password, _personal_facts(conn, actor.user_id), "new_password")
    conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s",
        (_hasher.hash(change.new_password), actor.user_id),
    )
    conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL"
        " AND token_hash IS DISTINCT FROM %s",
        (actor.user_id, _digest(keep_token) if keep_token else None),
    )
    audit.record(conn, actor, "user.password", "user", actor.user_id, {})


def _personal_facts(conn: psycopg.Connection[Any], user_id: int) -> list[str]:
    """What someone guessing this person's password knows: username, names, phones."""
    rows = fetch_all(
        conn,
        """
        SELECT username AS fact FROM users WHERE id = %(id)s
        UNION ALL SELECT display_name FROM users WHERE id = %(id)s
        UNION ALL SELECT name FROM contacts WHERE user_id = %(id)s
        UNION ALL SELECT phone FROM contacts WHERE user_id = %(id)s
        UNION ALL SELECT e.name FROM user_elders ue JOIN elders e ON e.id = ue.elder_id
                  WHERE ue.user_id = %(id)s
        """,
        {"id": user_id},
    )
    return [str(row["fact"]) for row in rows]


def _assign(conn: psycopg.Connection[Any], user_id: int, data: UserCreate) -> None:
    for district_id in data.district_ids:
        conn.execute(
            "INSERT INTO user_districts (user_id, district_id) VALUES (%s, %s)",
            (user_id, district_id),
        )
    for elder_id in data.elder_ids:
        conn.execute(
            "INSERT INTO user_elders (user_id, elder_id) VALUES (%s, %s)", (user_id, elder_id)
        )


def get_user(conn: psycopg.Connection[Any], user_id: int) -> UserPublic:
    row = fetch_one(conn, f"{USER_SELECT} WHERE u.id = %s GROUP BY u.id", (user_id,))
    assert row is not None
    return UserPublic(**row)


def list_users(conn: psycopg.Connection[Any], actor: Actor) -> list[UserPublic]:
    actor.require("users", "read")
    rows = fetch_all(conn, f"{USER_SELECT} GROUP BY u.id ORDER BY u.id")
    return [UserPublic(**row) for row in rows]


def authenticate(conn: psycopg.Connection[Any], username: str, password: str) -> int | None:
    """The user's id if the password is right and the account active, else None."""
    row = fetch_one(
        conn, "SELECT id, password_hash, active FROM users WHERE username = %s", (username,)
    )
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return int(row["id"]) if row and row["active"] else None


def issue_token(conn: psycopg.Connection[Any], user_id: int, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, expires_at) VALUES (%s, %s, now() + %s)",
        (_digest(token), user_id, ttl),
    )
    return token


def revoke_token(conn: psycopg.Connection[Any], token: str) -> None:
    conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s AND revoked_at IS NULL",
        (_digest(token),),
    )


def actor_for_token(conn: psycopg.Connection[Any], token: str) -> Actor | None:
    """The signed-in user behind a token that exists, has not expired nor been revoked."""
    row = fetch_one(
        conn,
        f"{USER_SELECT} JOIN api_tokens t ON t.user_id = u.id WHERE t.token_hash = %s"
        " AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active GROUP BY u.id",
        (_digest(token),),
    )
    return None if row is None else actor_from_row(row)


def actor_for_user(conn: psycopg.Connection[Any], user_id: int) -> Actor | None:
    """The active account's actor (what it would see if it signed in now), else None."""
    row = fetch_one(conn, f"{USER_SELECT} WHERE u.id = %s AND u.active GROUP BY u.id", (user_id,))
    return None if row is None else actor_from_row(row)


def actor_from_row(row: Row) -> Actor:
    return Actor(
        user_id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        district_ids=frozenset(row["district_ids"]),
        elder_ids=frozenset(row["elder_ids"]),
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
