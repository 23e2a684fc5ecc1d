"""A small, realistic registry to test against: two districts of Ordos, elders in each,
one account per role, contacts, a policy and a device per elder.

Built through the same service functions the API and CLI use.
"""

from dataclasses import dataclass, field
from typing import Any

import psycopg

from device_registry import contacts, devices, districts, elders, policies, users
from device_registry.access import system_actor
from device_registry.devices import CredentialProvisioner
from device_registry.schemas import (
    CommunityCreate,
    ContactCreate,
    DeviceRegister,
    DistrictCreate,
    ElderCreate,
    HomeIn,
    PolicyCreate,
    UserCreate,
)

PASSWORD = "correct horse battery"


@dataclass
class World:
    districts: dict[str, int] = field(default_factory=dict)
    communities: dict[str, int] = field(default_factory=dict)
    elders: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    policies: dict[str, int] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)


def critical_levels() -> list[dict[str, Any]]:
    return [
        {"targets": [{"role": "community_worker"}], "channels": ["sms", "app"], "timeout_s": 180},
        {"targets": [{"role": "family"}], "channels": ["sms", "voice"], "timeout_s": 300},
        {"targets": [{"role": "supervisor"}], "channels": ["voice"], "timeout_s": 300},
    ]


def build_world(conn: psycopg.Connection[Any], provisioner: CredentialProvisioner) -> World:
    world = World()
    root = system_actor("test-setup")
    for key, name, community in (("east", "东胜区", "富兴社区"), ("kbs", "康巴什区", "青春山社区")):
        district = districts.create_district(conn, root, DistrictCreate(name=name))
        world.districts[key] = district.id
        world.communities[key] = districts.create_community(
            conn, root, district.id, CommunityCreate(name=community)
        ).id
    for key, district_key, name, address in (
        ("east_a", "east", "王秀英", "东胜区富兴南路12号3单元201"),
        ("east_b", "east", "李建国", "东胜区天骄路8号1单元502"),
        ("kbs", "kbs", "张桂兰", "康巴什区青春山街道5号"),
    ):
        elder = elders.create_elder(
            conn,
            root,
            ElderCreate(
                community_id=world.communities[district_key],
                name=name,
                id_card="150602194503120021",
                birth_year=1945,
                health_notes="高血压, 独居",
                home=HomeIn(address=address, access_notes="钥匙在邻居家"),
            ),
        )
        world.elders[key] = elder.id
        world.contacts[key] = contacts.create_contact(
            conn,
            root,
            ContactCreate(
                kind="family", name=f"{name}之子", phone="13800138000", elder_id=elder.id
            ),
        ).id
        world.policies[key] = policies.create_policy(
            conn,
            root,
            PolicyCreate.model_validate(
                {
                    "name": "个人策略",
                    "severity": "critical",
                    "elder_id": elder.id,
                    "levels": critical_levels(),
                }
            ),
        ).id
        world.devices[key] = devices.register_device(
            conn,
            root,
            DeviceRegister(
                device_id=f"btn-{key}", device_type="emergency_button", elder_id=elder.id
            ),
            provisioner,
        ).device_id
    _accounts(conn, world)
    return world


def _accounts(conn: psycopg.Connection[Any], world: World) -> None:
    root = system_actor("test-setup")
    scoped = {"district_ids": [world.districts["east"]]}
    for role, scope in (
        ("admin", {}),
        ("operator", scoped),
        ("installer", scoped),
        ("community_worker", scoped),
        ("family", {"elder_ids": [world.elders["east_a"]]}),
    ):
        username = f"{role}-east".replace("_", "-")
        users.create_user(
            conn, root, UserCreate(username=username, password=PASSWORD, role=role, **scope)
        )
        world.usernames[role] = username
