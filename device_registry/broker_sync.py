"""Bring a broker's accounts in line with the registry: every account bound to its own
client id, the platform's accounts present. What `nuanxin broker sync` runs, at upgrade
and at every start; idempotent, and it changes only what differs, because each change
disconnects the account's sessions.

Accounts created before client ids were bound (a device's credentials could then log in
with any client id, ingest's included) are bound here to their username. Every account
is, whatever made it, except the dynamic-security admin this runs as: the API and this
command share it at the same time (broker_connection.py says why).

One account that fails is reported with its name and the rest go on.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from device_registry.db import fetch_all
from device_registry.errors import BrokerCommandFailed, RegistryError
from device_registry.provisioning import BrokerAdmin


@dataclass
class SyncReport:
    platform: list[str] = field(default_factory=list)  # platform accounts ensured
    bound: list[str] = field(default_factory=list)  # accounts given their client id now
    already_bound: int = 0
    without_account: list[str] = field(default_factory=list)  # registered, no account
    failed: dict[str, str] = field(default_factory=dict)  # account → what went wrong

    def lines(self) -> list[str]:
        bound = ", ".join(self.bound) if self.bound else "none"
        out = [
            f"platform accounts ensured: {', '.join(self.platform) or 'none'}",
            f"bound to their own client id now: {len(self.bound)} ({bound})",
            f"already bound: {self.already_bound}",
        ]
        if self.without_account:
            out.append(
                f"registered devices without an MQTT account (Zigbee2MQTT or never "
                f"provisioned): {len(self.without_account)}"
            )
        out += [f"FAILED {name}: {why}" for name, why in sorted(self.failed.items())]
        return out


def active_device_ids(conn: psycopg.Connection[Any]) -> list[str]:
    """Registered devices that are not decommissioned (those have no account)."""
    rows = fetch_all(
        conn,
        "SELECT device_id FROM devices WHERE state <> 'decommissioned' ORDER BY device_id",
    )
    return [str(row["device_id"]) for row in rows]


def sync_accounts(
    admin: BrokerAdmin,
    *,
    device_ids: Iterable[str],
    platform_usernames: Iterable[str],
    platform_password: str | None,
    admin_username: str,
) -> SyncReport:
    """Ensure the platform accounts (when their password is given), then bind every
    account of the broker but `admin_username` to its own username as client id."""
    report = SyncReport()
    for username in platform_usernames:
        if platform_password is None:
            break
        try:
            admin.ensure_platform_account(username, platform_password)
            report.platform.append(username)
        except (BrokerCommandFailed, RegistryError) as exc:
            report.failed[username] = str(exc)
    accounts = {str(c["username"]): c for c in admin.list_clients()}
    report.without_account = sorted(set(device_ids) - set(accounts))
    for username, client in sorted(accounts.items()):
        if username == admin_username:
            continue
        if client.get("clientid") == username:
            report.already_bound += 1
            continue
        try:
            if admin.bind_client_id(username):
                report.bound.append(username)
            else:
                report.already_bound += 1
        except BrokerCommandFailed as exc:
            report.failed[username] = str(exc)
    return report
