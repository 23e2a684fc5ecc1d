"""Migration 0007 repairs time zones stored before they were validated: a district's
to Asia/Shanghai, an elder's to their district's zone, each with an audit row; a known
zone, even an unusual one, is left alone."""

from typing import Any

import psycopg

from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate

REPAIR_VERSION = 7


def one(conn: psycopg.Connection[Any], sql: str, *params: object) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def test_unknown_stored_zones_are_repaired_with_an_audit_row(empty_database: str) -> None:
    migrations = discover(PACKAGED_DIR)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        migrate(conn, [m for m in migrations if m.version < REPAIR_VERSION])
        bad_district = one(
            conn,
            "INSERT INTO districts (name, timezone) VALUES ('甲', 'Asia/Beijing') RETURNING id",
        )
        west = one(
            conn, "INSERT INTO districts (name, timezone) VALUES ('乙', 'Asia/Urumqi') RETURNING id"
        )
        elders = {}
        for key, district, zone in (
            ("in_bad_district", bad_district, "Beijing"),
            ("in_west", west, "asia/shanghai"),
            ("fine", west, "Asia/Urumqi"),
        ):
            community = one(
                conn,
                "INSERT INTO communities (district_id, name) VALUES (%s, %s) RETURNING id",
                district,
                key,
            )
            elders[key] = one(
                conn,
                "INSERT INTO elders (community_id, name, timezone) VALUES (%s, %s, %s)"
                " RETURNING id",
                community,
                key,
                zone,
            )

        migrate(conn, migrations)

        zone = "SELECT timezone FROM {} WHERE id = %s"
        assert one(conn, zone.format("districts"), bad_district) == "Asia/Shanghai"
        assert one(conn, zone.format("districts"), west) == "Asia/Urumqi"
        assert one(conn, zone.format("elders"), elders["in_bad_district"]) == "Asia/Shanghai"
        assert one(conn, zone.format("elders"), elders["in_west"]) == "Asia/Urumqi"
        assert one(conn, zone.format("elders"), elders["fine"]) == "Asia/Urumqi"
        audit = conn.execute(
            "SELECT action, entity_id, detail->>'from', detail->>'to' FROM audit_log"
            " WHERE actor = 'system'"
        ).fetchall()
        assert sorted(audit) == [
            ("district.timezone_repair", str(bad_district), "Asia/Beijing", "Asia/Shanghai"),
            ("elder.timezone_repair", str(elders["in_bad_district"]), "Beijing", "Asia/Shanghai"),
            ("elder.timezone_repair", str(elders["in_west"]), "asia/shanghai", "Asia/Urumqi"),
        ]
