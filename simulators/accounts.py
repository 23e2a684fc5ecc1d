"""MQTT accounts the simulators need beyond devices and the platform (a Zigbee2MQTT
gateway, the load generator), for tests, benchmarks and the demo.

`BrokerAdmin` creates device and platform accounts only; a Zigbee2MQTT gateway and the
load generator need roles of their own. They are built here with the same dynamic-security
commands (`BrokerAdmin.execute`) and the same `Acl` records provisioning.py uses, so the
production ACL tables stay untouched. The broker-wide default denies publishing, so each
role lists exactly what its account may send. Like every account, each is bound to its
username as client id (`BrokerAdmin.create_bound_client`).
"""

from collections.abc import Sequence
from typing import Final

from device_registry.errors import BrokerCommandFailed
from device_registry.provisioning import Acl, BrokerAdmin
from simulators.mqtt import connection_usernames

# A gateway publishes its devices' state and availability and its bridge topics, and may
# read the `/set` commands Zigbee2MQTT receives (none are sent in tests).
GATEWAY_ROLE: Final = "sim-zigbee2mqtt-gateway"
GATEWAY_ACLS: Final = (
    Acl("publishClientSend", "zigbee2mqtt/#"),
    Acl("subscribePattern", "zigbee2mqtt/+/set"),
)

# The load generator publishes readings for many devices through one account.
LOAD_ROLE: Final = "sim-load"
LOAD_ACLS: Final = (Acl("publishClientSend", "nuanxin/v1/+/telemetry"),)


def ensure_role(admin: BrokerAdmin, rolename: str, acls: Sequence[Acl]) -> None:
    """Create the role with these ACLs, or add the ones an existing role lacks."""
    roles = admin.execute("listRoles").get("roles", [])
    if rolename not in roles:
        admin.execute("createRole", rolename=rolename, acls=[acl.as_json() for acl in acls])
        return
    current = admin.execute("getRole", rolename=rolename)["role"].get("acls", [])
    have = {(a["acltype"], a["topic"]) for a in current}
    for acl in acls:
        if (acl.acltype, acl.topic) not in have:
            admin.execute("addRoleACL", rolename=rolename, **acl.as_json())


def gateway_account(admin: BrokerAdmin, username: str, password: str) -> None:
    """An account that may publish as a Zigbee2MQTT gateway, and nothing else. Idempotent."""
    admin.ensure_default_acl_access()
    ensure_role(admin, GATEWAY_ROLE, GATEWAY_ACLS)
    try:
        admin.execute("getClient", username=username)
    except BrokerCommandFailed as error:
        if error.error != "Client not found":
            raise
        admin.create_bound_client(username, password, [GATEWAY_ROLE], "simulated gateway")
        return
    admin.execute("setClientPassword", username=username, password=password)
    admin.bind_client_id(username)
    ensure_client_role(admin, username, GATEWAY_ROLE)


def load_account(admin: BrokerAdmin, username: str, password: str, connections: int = 2) -> None:
    """Platform accounts (they can read every device topic) that may also publish any
    device's telemetry: the load generator's, one per connection it may open
    (`connection_usernames`). Idempotent."""
    ensure_role(admin, LOAD_ROLE, LOAD_ACLS)
    for name in connection_usernames(username, connections):
        admin.ensure_platform_account(name, password)
        ensure_client_role(admin, name, LOAD_ROLE)


def ensure_client_role(admin: BrokerAdmin, username: str, rolename: str) -> None:
    # Every change disconnects the account's sessions, so only what is missing is added.
    client = admin.execute("getClient", username=username)["client"]
    if rolename not in {role["rolename"] for role in client.get("roles", [])}:
        admin.execute("addClientRole", username=username, rolename=rolename)
