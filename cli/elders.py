"""`nuanxin elders add` and `nuanxin contacts add`: the rest of first setup from the
command line — an elder in their home, and the people to call — through the registry's
own service functions and audit log, acting as the admin `cli:<os user>` as
cli.registry does. Communities and districts are named as people know them; what the
request models refuse ends in cli.main as one line naming the option."""

import argparse
import getpass
from typing import Any

from pydantic import BaseModel

from cli import database
from core.errors import NotFound
from core.settings import load_settings
from device_registry import contacts, districts, elders
from device_registry.access import Actor, system_actor
from device_registry.schemas import ContactCreate, ContactKind, ElderCreate, HomeIn

Handler = Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Handler]]:
    return [_elders(subparsers), _contacts(subparsers)]


def _elders(subparsers: "argparse._SubParsersAction[Any]") -> tuple[str, Handler]:
    parser = subparsers.add_parser("elders", help="add elders in their homes")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add", help="add an elder and their home; prints the elder with its id"
    )
    add.add_argument("name")
    add.add_argument("--district", required=True, help="district name, e.g. 东胜区")
    add.add_argument("--community", required=True, help="community of that district")
    add.add_argument("--address", required=True, help="the home's address")
    add.add_argument("--access-notes", default="", help="how a responder gets in")
    add.add_argument("--birth-year", type=int)
    add.add_argument("--phone", help="the elder's own phone, E.164 (+86…) or a mainland number")
    return "elders", _add_elder


def _contacts(subparsers: "argparse._SubParsersAction[Any]") -> tuple[str, Handler]:
    parser = subparsers.add_parser("contacts", help="add the people alerts go to")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add",
        help="add a contact: family of an elder (--elder), a community worker of a community "
        "(--district and --community) or a supervisor of a district (--district)",
    )
    add.add_argument("kind", choices=[k.value for k in ContactKind])
    add.add_argument("name")
    add.add_argument("--phone", required=True, help="E.164 (+86…) or a mainland number")
    add.add_argument("--elder", type=int, help="family: the elder's id")
    add.add_argument("--district", help="community workers and supervisors: district name")
    add.add_argument("--community", help="community workers: community of --district")
    add.add_argument("--relation", default="", help="family: e.g. 女儿")
    add.add_argument("--priority", type=int, default=1, help="family: who is called first (1)")
    return "contacts", _add_contact


def _actor() -> Actor:
    return system_actor(f"cli:{getpass.getuser()}")


def _add_elder(args: argparse.Namespace) -> int:
    actor = _actor()
    with database.connect(str(load_settings().database_url)) as conn:
        community_id = _community_id(conn, actor, args.district, args.community)
        data = ElderCreate(
            community_id=community_id,
            name=args.name,
            birth_year=args.birth_year,
            phone=args.phone,
            home=HomeIn(address=args.address, access_notes=args.access_notes),
        )
        _print(elders.create_elder(conn, actor, data))
    return 0


def _add_contact(args: argparse.Namespace) -> int:
    actor = _actor()
    kind = ContactKind(args.kind)
    with database.connect(str(load_settings().database_url)) as conn:
        scope = _contact_scope(conn, actor, kind, args)
        data = ContactCreate(
            kind=kind,
            name=args.name,
            phone=args.phone,
            relation=args.relation,
            priority=args.priority,
            **scope,
        )
        _print(contacts.create_contact(conn, actor, data))
    return 0


def _contact_scope(
    conn: Any, actor: Actor, kind: ContactKind, args: argparse.Namespace
) -> dict[str, int | None]:
    """The one scope field the kind needs (ContactCreate refuses others, naming them)."""
    if kind is ContactKind.FAMILY:
        return {"elder_id": args.elder}
    if kind is ContactKind.COMMUNITY_WORKER:
        return {"community_id": _community_id(conn, actor, args.district, args.community)}
    return {"district_id": _district_id(conn, args.district)}


def _district_id(conn: Any, name: str | None) -> int | None:
    return None if name is None else districts.find_district_id(conn, name)


def _community_id(
    conn: Any, actor: Actor, district: str | None, community: str | None
) -> int | None:
    district_id = _district_id(conn, district)
    if district_id is None or community is None:
        return None
    for known in districts.get_district(conn, actor, district_id).communities:
        if known.name == community:
            return int(known.id)
    raise NotFound(f"community {community!r} not found in district {district!r}")


def _print(model: BaseModel) -> None:
    print(model.model_dump_json(indent=2))
