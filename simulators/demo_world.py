"""The demo's small district: 东胜区 with four elders in their homes, every device type
in each, community workers, family members, a supervisor, a quick escalation policy and
one account per role. Built through the registry's own service functions."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.types import DeviceType
from device_registry import contacts, devices, districts, elders, policies, users
from device_registry.access import system_actor
from device_registry.devices import CredentialProvisioner
from device_registry.passwords import DEMO_PASSWORD
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

# Seconds instead of hours, so the whole story plays out within minutes.
DEMO_RULES = {
    "inactivity_hours": 0.02,  # 72 s without motion
    "offline_heartbeats": 2,  # with 30 s heartbeats: offline after a minute
    "offline_min_minutes": 1,
    "morning_hour": 23,
}
DEMO_HEARTBEAT_S = 30
DEMO_POLICY = [
    {"targets": [{"role": "community_worker"}], "channels": ["sms", "app"], "timeout_s": 30},
    {"targets": [{"role": "family"}], "channels": ["sms", "voice"], "timeout_s": 30},
    {"targets": [{"role": "supervisor"}], "channels": ["voice"], "timeout_s": 60},
]

ELDERS = (
    # key, name, community, address, family name, family phone
    ("wang", "王秀英", "富兴社区", "东胜区富兴南路12号3单元201", "王丽", "+8613912340001"),
    ("li", "李建国", "富兴社区", "东胜区天骄路8号1单元502", "李明", "+8613912340002"),
    ("zhang", "张桂兰", "天骄社区", "东胜区伊金霍洛西街33号", "张伟", "+8613912340003"),
    ("zhao", "赵福生", "天骄社区", "东胜区鄂托克西街17号2单元101", "赵芳", "+8613912340004"),
)
WORKERS = (("富兴社区", "刘网格员", "+8613800000001"), ("天骄社区", "陈网格员", "+8613800000002"))


@dataclass
class DemoWorld:
    elders: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    devices: dict[str, dict[DeviceType, tuple[str, str]]] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)
    contact_names: dict[str, str] = field(default_factory=dict)  # phone → name


def build(conn: psycopg.Connection[Any], provisioner: CredentialProvisioner) -> DemoWorld:
    root = system_actor("demo")
    world = DemoWorld()
    district = districts.create_district(conn, root, DistrictCreate(name="东胜区"))
    conn.execute(
        "UPDATE districts SET rule_settings = %s WHERE id = %s", (Jsonb(DEMO_RULES), district.id)
    )
    communities = {
        name: districts.create_community(conn, root, district.id, CommunityCreate(name=name)).id
        for name in ("富兴社区", "天骄社区")
    }
    policies.create_policy(
        conn,
        root,
        PolicyCreate.model_validate(
            {
                "name": "演示：快速升级",
                "severity": "critical",
                "district_id": district.id,
                "levels": DEMO_POLICY,
                "repeat_interval_s": 120,
            }
        ),
    )
    for community, name, phone in WORKERS:
        contacts.create_contact(
            conn,
            root,
            ContactCreate(
                kind="community_worker", name=name, phone=phone, community_id=communities[community]
            ),
        )
        world.contact_names[phone] = name
    contacts.create_contact(
        conn,
        root,
        ContactCreate(
            kind="supervisor",
            name="民政局值班主任",
            phone="+8613700000009",
            district_id=district.id,
        ),
    )
    world.contact_names["+8613700000009"] = "民政局值班主任"
    for key, name, community, address, family, phone in ELDERS:
        elder = elders.create_elder(
            conn,
            root,
            ElderCreate(
                community_id=communities[community],
                name=name,
                birth_year=1942,
                home=HomeIn(address=address, access_notes="钥匙在对门邻居家"),
            ),
        )
        world.elders[key], world.names[key] = elder.id, name
        contacts.create_contact(
            conn,
            root,
            ContactCreate(
                kind="family", name=family, phone=phone, elder_id=elder.id, relation="子女"
            ),
        )
        world.contact_names[phone] = family
        world.devices[key] = _install(conn, provisioner, root, key, elder.id)
    _accounts(conn, world, district.id)
    return world


ROOMS = {
    DeviceType.EMERGENCY_BUTTON: "卧室",
    DeviceType.SMOKE: "客厅",
    DeviceType.GAS: "厨房",
    DeviceType.PIR: "客厅",
}


def _install(
    conn: psycopg.Connection[Any],
    provisioner: CredentialProvisioner,
    root: Any,
    key: str,
    elder_id: int,
) -> dict[DeviceType, tuple[str, str]]:
    installed = {}
    for device_type, room in ROOMS.items():
        device_id = f"{key}-{device_type.value.replace('_', '-')}"
        registered = devices.register_device(
            conn,
            root,
            DeviceRegister(
                device_id=device_id,
                device_type=device_type,
                elder_id=elder_id,
                room=room,
                heartbeat_interval_s=DEMO_HEARTBEAT_S,
            ),
            provisioner,
        )
        password = registered.mqtt.password if registered.mqtt else ""
        installed[device_type] = (device_id, password)
    # These homes were installed and checked before the demo starts.
    conn.execute(
        "UPDATE devices SET state = 'commissioned', commissioned_at = %s WHERE home_id IS NOT NULL",
        (datetime.now(UTC),),
    )
    return installed


def _accounts(conn: psycopg.Connection[Any], world: DemoWorld, district_id: int) -> None:
    root = system_actor("demo")
    for username, role, scope in (
        ("admin", "admin", {}),
        ("liu", "community_worker", {"district_ids": [district_id]}),
        ("installer", "installer", {"district_ids": [district_id]}),
        ("operator", "operator", {"district_ids": [district_id]}),
        ("wangli", "family", {"elder_ids": [world.elders["wang"]]}),
    ):
        account = UserCreate(username=username, password=DEMO_PASSWORD, role=role, **scope)
        users.create_user(conn, root, account, demo=True)
        world.usernames[role] = username
