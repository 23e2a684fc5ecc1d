"""Who gets which message for one escalation step: contacts resolved from the level's
targets, one notification row per (contact, channel), rendered in the contact's language
and in the shape its provider can carry. Rows are written pending, in the caller's
transaction; the dispatcher sends them once that transaction has committed.

Before anyone is addressed, `alerting.recipients` asks whether they may read the alert
by the API's rule; a contact (or a linked app account) outside the alert's district or
family is skipped, logged and written on the timeline (`recipient_out_of_scope`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from alerting import recipients, store
from alerting.escalation import Step
from alerting.notifiers.base import Locale
from alerting.notifiers.routing import NoSmsRoute, message_locale, sms_route
from alerting.rules import RULES_BY_NAME
from alerting.templates import REMINDER_KEY, AlertFacts, AlertKind, Form, alert_key, render
from core.vocabulary import Channel

# Contacts of a role, for one elder, in the order they are called.
ROLE_SQL = {
    "community_worker": "kind = 'community_worker' AND community_id = %(community_id)s",
    "family": "kind = 'family' AND elder_id = %(elder_id)s",
    "supervisor": "kind = 'supervisor' AND district_id = %(district_id)s",
}
CONTACT_COLUMNS = "id, kind, name, phone, locale, user_id, priority"
OUT_OF_SCOPE = "recipient_out_of_scope"  # the timeline entry of a skipped recipient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channels:
    """What this deployment can send: SMS providers configured, voice, webhooks."""

    sms_providers: frozenset[str] = frozenset()
    voice: bool = False
    webhook_urls: tuple[str, ...] = ()


@dataclass
class Planned:
    notification_ids: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def contacts_for(
    conn: psycopg.Connection[Any], elder: store.Row, targets: list[dict[str, Any]]
) -> list[store.Row]:
    found: list[store.Row] = []
    for target in targets:
        if target.get("contact_id") is not None:
            condition, params = "id = %(contact_id)s", {"contact_id": target["contact_id"]}
        else:
            condition = ROLE_SQL[target["role"]]
            params = {
                "community_id": elder["community_id"],
                "elder_id": elder["id"],
                "district_id": elder["district_id"],
            }
        rows = store.fetch_all(
            conn,
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE {condition} ORDER BY priority, id",
            params,
        )
        found.extend(r for r in rows if r["id"] not in {f["id"] for f in found})
    return found


@dataclass(frozen=True)
class Address:
    """Where and how one notification goes: the provider, its address, the language and
    the shape of the text."""

    provider: str
    to: str
    locale: Locale
    form: Form
    user_id: int | None = None


# Per channel: a contact's address on it, or why this deployment cannot reach them there.
Addresser = Callable[[store.Row, Channels], Address | str]


def _sms(contact: store.Row, channels: Channels) -> Address | str:
    try:
        route = sms_route(contact["phone"], channels.sms_providers)
    except NoSmsRoute:
        return "no provider carries it"
    locale = message_locale(route, contact["locale"])
    return Address(route.provider, contact["phone"], locale, route.form)


def _voice(contact: store.Row, channels: Channels) -> Address | str:
    if not channels.voice:
        return "no voice provider"
    return Address("twilio", contact["phone"], contact["locale"], Form.VOICE)


def _app(contact: store.Row, channels: Channels) -> Address | str:
    user_id = contact["user_id"]
    if user_id is None:
        return "no app account"
    return Address("push", str(user_id), contact["locale"], Form.CHAT, user_id)


ADDRESSERS: dict[Channel, Addresser] = {
    Channel.SMS: _sms,
    Channel.VOICE: _voice,
    Channel.APP: _app,
}
# Channels that go to the deployment's own addresses, not to a contact (plan_step).
GROUP_CHANNELS: Final = frozenset({Channel.WEBHOOK})


def plan_step(
    conn: psycopg.Connection[Any],
    alert: store.Row,
    step: Step,
    channels: Channels,
    now: datetime,
) -> Planned:
    elder = store.elder_facts(conn, alert["elder_id"])
    planned = Planned()
    if elder is None:
        planned.skipped.append("the alert has no elder to call about")
        return planned
    # People are reached on their channels; a webhook goes to the deployment's URLs below.
    personal = [Channel(c) for c in step.channels if Channel(c) in ADDRESSERS]
    for unknown in set(step.channels) - {c.value for c in (*ADDRESSERS, *GROUP_CHANNELS)}:
        # A channel nothing can send on is said out loud, never dropped in silence.
        planned.skipped.append(f"{unknown}: no way to reach anyone on this channel")
    for contact in contacts_for(conn, elder, step.targets):
        for channel in _reachable(conn, alert, contact, personal, now, planned):
            _plan_contact(conn, alert, elder, contact, channel, step, channels, now, planned)
    if Channel.WEBHOOK.value in step.channels:
        for url in channels.webhook_urls:
            address = Address("webhook", url, "zh-CN", Form.CHAT)
            _insert(conn, alert, elder, step, now, planned, Channel.WEBHOOK, address)
    return planned


def plan_contact(
    conn: psycopg.Connection[Any],
    alert: store.Row,
    contact: store.Row,
    channel: Channel,
    step: Step,
    channels: Channels,
    now: datetime,
    fallback_of: int | None = None,
) -> Planned:
    """One contact on one channel: fallbacks after a failed delivery use this."""
    planned = Planned()
    elder = store.elder_facts(conn, alert["elder_id"])
    if elder is not None and _reachable(conn, alert, contact, [channel], now, planned):
        _plan_contact(
            conn, alert, elder, contact, channel, step, channels, now, planned, fallback_of
        )
    return planned


def _reachable(
    conn: psycopg.Connection[Any],
    alert: store.Row,
    contact: store.Row,
    wanted: list[Channel],
    now: datetime,
    planned: Planned,
) -> list[Channel]:
    """The wanted channels on which this contact may hear of the alert: none when the
    contact is outside its district or family, all but the app when only the linked
    account is."""
    barred = recipients.barred(conn, alert["id"], contact["id"])
    if barred is None:
        return wanted
    allowed: list[Channel] = (
        [] if barred.whole_contact else [c for c in wanted if c is not Channel.APP]
    )
    if allowed == wanted:
        return wanted
    log.warning(
        "alert %s: contact %s%s not paged: %s",
        alert["id"],
        contact["id"],
        "" if barred.whole_contact else f" (app account {barred.user_id})",
        barred.reason,
    )
    detail: dict[str, Any] = {"contact_id": contact["id"], "reason": barred.reason}
    if not barred.whole_contact:
        detail["user_id"] = barred.user_id
    store.timeline(conn, alert["id"], now, OUT_OF_SCOPE, **detail)
    planned.skipped.append(f"contact {contact['id']}: {barred.reason}")
    return allowed


def plan_installer(
    conn: psycopg.Connection[Any], alert: store.Row, user_id: int, now: datetime
) -> Planned:
    """A test alert from a device being installed pages its installer's app only."""
    planned = Planned()
    elder = store.elder_facts(conn, alert["elder_id"])
    if elder is not None:
        step = Step(0, 0, [], [Channel.APP.value], None, None)
        address = Address("push", str(user_id), "zh-CN", Form.CHAT, user_id)
        _insert(conn, alert, elder, step, now, planned, Channel.APP, address)
    return planned


def _plan_contact(
    conn: psycopg.Connection[Any],
    alert: store.Row,
    elder: store.Row,
    contact: store.Row,
    channel: Channel,
    step: Step,
    channels: Channels,
    now: datetime,
    planned: Planned,
    fallback_of: int | None = None,
) -> None:
    address = ADDRESSERS[channel](contact, channels)
    if isinstance(address, str):
        planned.skipped.append(f"{channel.value} to contact {contact['id']}: {address}")
        return
    _insert(conn, alert, elder, step, now, planned, channel, address, contact["id"], fallback_of)


def _insert(
    conn: psycopg.Connection[Any],
    alert: store.Row,
    elder: store.Row,
    step: Step,
    now: datetime,
    planned: Planned,
    channel: Channel,
    address: Address,
    contact_id: int | None = None,
    fallback_of: int | None = None,
) -> None:
    kind = AlertKind(RULES_BY_NAME[alert["rule"]].kind)
    key = REMINDER_KEY if step.round > 0 else alert_key(kind)
    facts = AlertFacts(
        kind,
        elder["name"],
        elder["address"],
        alert["triggered_at"],
        attempt=step.round + 1,
        code=alert["id"],
    )
    rendered = render(key, address.locale, address.form, facts)
    row = store.fetch_one(
        conn,
        "INSERT INTO notifications (alert_id, level, round, contact_id, user_id, channel,"
        " provider, to_address, locale, template, body, params, next_attempt_at,"
        " fallback_of, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            alert["id"],
            step.level,
            step.round,
            contact_id,
            address.user_id,
            channel.value,
            address.provider,
            address.to,
            address.locale,
            key,
            rendered.text,
            Jsonb(rendered.params),
            now,
            fallback_of,
            now,
            now,
        ),
    )
    assert row is not None
    planned.notification_ids.append(int(row["id"]))
