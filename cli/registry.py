"""`nuanxin districts|users|devices …`: registry tasks for scripts and first setup, using
the same service functions (and audit log) as the API. The CLI acts as an admin named
`cli:<os user>`."""

import argparse
import getpass
import json
import sys
from typing import Any

from cli.wiring import BrokerProvisioner
from core import db
from core.errors import InvalidRequest
from core.settings import load_settings
from core.types import DeviceType
from core.zones import DEFAULT_ZONE
from device_registry import devices, districts, users
from device_registry.access import Role, system_actor
from device_registry.schemas import (
    CommunityCreate,
    DevicePublic,
    DeviceRegister,
    DeviceUpdate,
    DistrictCreate,
    Platform,
    PowerSource,
    UserCreate,
)

Handler = Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Handler]]:
    # input the request models refuse ends in cli.main as one line naming the option
    return [_districts(subparsers), _users(subparsers), _devices(subparsers)]


def _districts(subparsers: "argparse._SubParsersAction[Any]") -> tuple[str, Handler]:
    parser = subparsers.add_parser("districts", help="add districts and their communities")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a district (e.g. 东胜区) with its communities")
    add.add_argument("name")
    add.add_argument("--community", action="append", default=[], help="repeat for several")
    add.add_argument(
        "--timezone",
        default=DEFAULT_ZONE,
        help=f"IANA time zone of the district (default {DEFAULT_ZONE}); an unknown one is refused",
    )
    return "districts", _add_district


def _users(subparsers: "argparse._SubParsersAction[Any]") -> tuple[str, Handler]:
    parser = subparsers.add_parser("users", help="create sign-in accounts")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create",
        help="create an account; the password is read from the terminal or standard input",
    )
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--district", action="append", default=[], help="district name staff work in (repeat)"
    )
    create.add_argument(
        "--elder", action="append", type=int, default=[], help="elder id of a family member"
    )
    create.add_argument("--display-name", default="")
    return "users", _create_user


def _devices(subparsers: "argparse._SubParsersAction[Any]") -> tuple[str, Handler]:
    parser = subparsers.add_parser("devices", help="register devices and record work on them")
    actions = parser.add_subparsers(dest="action", required=True)
    reg = actions.add_parser(
        "register",
        help=(
            "register a device in an elder's home and print its MQTT credentials (once); "
            "warnings about its model go to standard error"
        ),
    )
    reg.add_argument("device_id")
    reg.add_argument("--type", required=True, choices=[t.value for t in DeviceType])
    reg.add_argument("--elder", required=True, type=int, help="the elder's id")
    reg.add_argument("--room")
    reg.add_argument("--model", default="", help="catalogue key, model or model id")
    reg.add_argument("--serial", default="")
    reg.add_argument(
        "--power",
        choices=[p.value for p in PowerSource],
        help="default: mains if the catalogue model says so, else battery",
    )
    reg.add_argument("--zigbee-name", help="Zigbee2MQTT friendly name (no MQTT account)")
    reg.add_argument("--zigbee-ieee", help="Zigbee IEEE address, 0x + 16 hex digits")
    reg.add_argument(
        "--platform",
        choices=[p.value for p in Platform],
        help="the carrier IoT platform it reports through (no MQTT account)",
    )
    reg.add_argument("--platform-device-id", help="its device id on that platform")
    reg.add_argument("--imei", help="its module's IMEI, 15 digits")
    reg.add_argument(
        "--mitigation",
        action="append",
        default=[],
        help="code of a model quirk dealt with on site (repeat)",
    )
    update = actions.add_parser(
        "update",
        help=(
            "record on a registered device that a model quirk was dealt with on site (its "
            "warning goes); prints the device, warnings still open go to standard error"
        ),
    )
    update.add_argument("device_id")
    update.add_argument(
        "--mitigation",
        action="append",
        default=[],
        help="code of a model quirk now dealt with, added to those listed (repeat)",
    )
    update.add_argument(
        "--drop-mitigation",
        action="append",
        default=[],
        help="code listed by mistake, taken off the device (repeat)",
    )
    return "devices", _device_action


def _actor_name() -> str:
    return f"cli:{getpass.getuser()}"


def _add_district(args: argparse.Namespace) -> int:
    settings = load_settings()
    actor = system_actor(_actor_name())
    data = DistrictCreate(name=args.name, timezone=args.timezone)  # refused before connecting
    with db.connect(str(settings.database_url)) as conn:
        district = districts.create_district(conn, actor, data)
        for name in args.community:
            districts.create_community(conn, actor, district.id, CommunityCreate(name=name))
        result = districts.get_district(conn, actor, district.id)
    print(result.model_dump_json(indent=2))
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("password (10 characters or more, hard to guess): ")
    return sys.stdin.readline().rstrip("\n")


def _create_user(args: argparse.Namespace) -> int:
    settings = load_settings()
    actor = system_actor(_actor_name())
    with db.connect(str(settings.database_url)) as conn:
        district_ids = [districts.find_district_id(conn, name) for name in args.district]
        data = UserCreate(
            username=args.username,
            password=_read_password(),
            role=args.role,
            display_name=args.display_name,
            district_ids=district_ids,
            elder_ids=args.elder,
        )
        user = users.create_user(conn, actor, data)
    print(user.model_dump_json(indent=2))
    return 0


def _register_device(args: argparse.Namespace) -> int:
    settings = load_settings()
    actor = system_actor(_actor_name())
    given = {
        "device_id": args.device_id,
        "device_type": args.type,
        "elder_id": args.elder,
        "room": args.room,
        "model": args.model,
        "serial": args.serial,
        "power_source": args.power,
        "zigbee_name": args.zigbee_name,
        "zigbee_ieee": args.zigbee_ieee,
        "platform": args.platform,
        "platform_device_id": args.platform_device_id,
        "imei": args.imei,
        "mitigations": args.mitigation,
    }
    # options left out stay unset, so the catalogue model's defaults apply as in the API
    data = DeviceRegister.model_validate({k: v for k, v in given.items() if v is not None})
    provisioner = BrokerProvisioner(settings)
    try:
        with db.connect(str(settings.database_url)) as conn:
            device = devices.register_device(conn, actor, data, provisioner)
    finally:
        provisioner.close()
    _print_device(device)
    return 0


def _update_device(args: argparse.Namespace) -> int:
    if not (args.mitigation or args.drop_mitigation):
        raise InvalidRequest("nothing to change: give --mitigation or --drop-mitigation")
    settings = load_settings()
    actor = system_actor(_actor_name())
    with db.connect(str(settings.database_url)) as conn:
        # Locked until the commit: two people recording at once both keep their codes.
        conn.execute("SELECT 1 FROM devices WHERE device_id = %s FOR UPDATE", (args.device_id,))
        listed = devices.get_device(conn, actor, args.device_id).mitigations
        wanted = (set(listed) | set(args.mitigation)) - set(args.drop_mitigation)
        data = DeviceUpdate(mitigations=sorted(wanted))
        device = devices.update_device(conn, actor, args.device_id, data)
    _print_device(device)
    return 0


# `nuanxin devices ACTION`
DEVICE_ACTIONS: dict[str, Handler] = {"register": _register_device, "update": _update_device}


def _device_action(args: argparse.Namespace) -> int:
    return int(DEVICE_ACTIONS[args.action](args))


def _print_device(device: DevicePublic) -> None:
    """The device on standard output, each open warning (both languages) on standard error."""
    print(json.dumps(device.model_dump(mode="json"), ensure_ascii=False, indent=2))
    for warning in device.warnings:
        print(f"warning: {warning.message}\n  {warning.message_zh}", file=sys.stderr)
