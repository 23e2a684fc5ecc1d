"""What the alert benchmarks need in the database: one community worker of 富兴社区 and
`count` elders, each at home with a commissioned emergency button `btn-NNN`."""

from typing import Any

import psycopg


def seed_buttons(conn: psycopg.Connection[Any], count: int) -> int:
    """Create them; returns the district's id (for a policy of the benchmark's own)."""

    def one(sql: str, *params: Any) -> int:
        row = conn.execute(sql + " RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    district = one("INSERT INTO districts (name) VALUES ('东胜区')")
    community = one("INSERT INTO communities (district_id, name) VALUES (%s, '富兴社区')", district)
    conn.execute(
        "INSERT INTO contacts (kind, name, phone, community_id)"
        " VALUES ('community_worker', '刘网格员', '+14155550101', %s)",
        (community,),
    )
    for i in range(count):
        elder = one(
            "INSERT INTO elders (community_id, name) VALUES (%s, %s)", community, elder_name(i)
        )
        home = one("INSERT INTO homes (elder_id, address) VALUES (%s, %s)", elder, f"富兴南路{i}号")
        conn.execute(
            "INSERT INTO devices (device_id, device_type, home_id, state)"
            " VALUES (%s, 'emergency_button', %s, 'commissioned')",
            (button_id(i), home),
        )
    return district


def elder_name(i: int) -> str:
    return f"老人{i:03d}"


def button_id(i: int) -> str:
    return f"btn-{i:03d}"
