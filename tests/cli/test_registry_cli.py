"""`nuanxin districts|users|devices` against a real database and broker: the same
service code as the API, audited as `cli:<user>`."""

import json
import subprocess
from pathlib import Path

import psycopg

from device_registry import elders
from device_registry.access import system_actor
from device_registry.schemas import ElderCreate, HomeIn
from tests.support.broker import project_broker
from tests.support.cli import NUANXIN, clean_env, run_nuanxin
from tests.support.databases import migrated


def test_first_setup_from_the_command_line(migrated_database_url: str, tmp_path: Path) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=migrated_database_url)

    added = run_nuanxin("districts", "add", "东胜区", "--community", "富兴社区", env=env)
    assert added.returncode == 0, added.stderr
    community_id = json.loads(added.stdout)["communities"][0]["id"]

    created = subprocess.run(
        [
            NUANXIN,
            "users",
            "create",
            "wang.gridworker",
            "--role",
            "community_worker",
            "--district",
            "东胜区",
        ],
        input="a long password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["district_ids"] == [json.loads(added.stdout)["id"]]

    unknown = subprocess.run(
        [NUANXIN, "users", "create", "li", "--role", "operator", "--district", "火星区"],
        input="a long password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode != 0
    assert "火星区" in unknown.stderr and "Traceback" not in unknown.stderr

    with psycopg.connect(migrated_database_url) as conn:
        elder = elders.create_elder(
            conn,
            system_actor(),
            ElderCreate(
                community_id=community_id, name="王秀英", home=HomeIn(address="富兴南路12号")
            ),
        )
        actors = {row[0] for row in conn.execute("SELECT actor FROM audit_log")}
    assert any(actor.startswith("cli:") for actor in actors)

    with project_broker(tmp_path) as broker:
        broker_env = {
            **env,
            "NUANXIN_MQTT_URL": f"mqtt://{broker.host}:{broker.port}",
            "NUANXIN_MQTT_ADMIN_USERNAME": broker.admin_username,
            "NUANXIN_MQTT_ADMIN_PASSWORD": broker.admin_password,
        }
        registered = run_nuanxin(
            "devices",
            "register",
            "btn-cli-1",
            "--type",
            "emergency_button",
            "--elder",
            str(elder.id),
            env=broker_env,
        )
        assert registered.returncode == 0, registered.stderr
        answer = json.loads(registered.stdout)
        assert answer["mqtt"]["username"] == "btn-cli-1"
        assert len(answer["mqtt"]["password"]) >= 20

    without_admin = run_nuanxin(
        "devices",
        "register",
        "btn-cli-2",
        "--type",
        "emergency_button",
        "--elder",
        str(elder.id),
        env=env,
    )
    assert without_admin.returncode != 0
    assert "NUANXIN_MQTT_ADMIN_PASSWORD" in without_admin.stderr


def test_an_unknown_time_zone_is_one_line_naming_the_option(migrated_database_url: str) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=migrated_database_url)
    refused = run_nuanxin("districts", "add", "东胜区", "--timezone", "Asia/Beijing", env=env)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "timezone" in refused.stderr and "Asia/Shanghai" in refused.stderr
    added = run_nuanxin("districts", "add", "东胜区", "--timezone", "Asia/Shanghai", env=env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["timezone"] == "Asia/Shanghai"


def test_a_platform_device_registers_without_the_broker_and_its_warnings_are_printed(
    migrated_database_url: str,
) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=migrated_database_url)
    added = run_nuanxin("districts", "add", "东胜区", "--community", "富兴社区", env=env)
    community_id = json.loads(added.stdout)["communities"][0]["id"]
    with psycopg.connect(migrated_database_url) as conn:
        elder = elders.create_elder(
            conn,
            system_actor(),
            ElderCreate(community_id=community_id, name="王秀英", home=HomeIn(address="12号")),
        )
    platform = ("--platform", "ctwing", "--imei", "861234567890127")
    device = ("devices", "register", "smk-nb-1", "--type", "smoke", "--elder", str(elder.id))

    # no NUANXIN_MQTT_ADMIN_*: a device behind CTWing needs no broker account
    registered = run_nuanxin(*device, *platform, "--model", "JTY-GD-H361", env=env)
    assert registered.returncode == 0, registered.stderr
    answer = json.loads(registered.stdout)
    assert (answer["mqtt"], answer["platform"], answer["imei"]) == (None, "ctwing", platform[3])
    assert "warning: model 'JTY-GD-H361' is not in the device catalogue" in registered.stderr
    assert "不在设备目录中" in registered.stderr

    without_platform = run_nuanxin(*device, "--imei", "861234567890127", env=env)
    assert without_platform.returncode != 0 and "Traceback" not in without_platform.stderr
    assert "imei" in without_platform.stderr and "give platform" in without_platform.stderr
    taken = run_nuanxin("devices", "register", "smk-nb-2", *device[3:], *platform, env=env)
    assert taken.returncode != 0 and "IMEI" in taken.stderr, taken.stderr


def test_an_installer_records_a_mitigation_on_a_device_already_registered(
    empty_database: str,
) -> None:
    """The HS1CG-E was registered before its converter was installed: once it is, the
    installer records the mitigation from the command line and the warning goes; a code
    that is no quirk of the model, an unknown device or nothing to change is one line."""
    migrated(empty_database)
    env = clean_env(NUANXIN_DATABASE_URL=empty_database)
    added = run_nuanxin("districts", "add", "东胜区", "--community", "富兴社区", env=env)
    community_id = json.loads(added.stdout)["communities"][0]["id"]
    with psycopg.connect(empty_database) as conn:
        elder = elders.create_elder(
            conn,
            system_actor(),
            ElderCreate(community_id=community_id, name="王秀英", home=HomeIn(address="12号")),
        )
    gas = ("--type", "gas", "--elder", str(elder.id), "--model", "HS1CG-E")
    registered = run_nuanxin(
        "devices", "register", "gas-kitchen", *gas, "--zigbee-name", "厨房/燃气", env=env
    )
    assert registered.returncode == 0, registered.stderr
    assert "z2m-external-converter-gas-bit1" in registered.stderr  # its open quirk

    update = ("devices", "update", "gas-kitchen")
    done = run_nuanxin(*update, "--mitigation", "z2m-external-converter-gas-bit1", env=env)
    assert done.returncode == 0, done.stderr
    device = json.loads(done.stdout)
    assert device["mitigations"] == ["z2m-external-converter-gas-bit1"]
    assert device["warnings"] == [] and "warning" not in done.stderr
    again = run_nuanxin(*update, "--mitigation", "z2m-external-converter-gas-bit1", env=env)
    assert json.loads(again.stdout)["mitigations"] == ["z2m-external-converter-gas-bit1"]
    with psycopg.connect(empty_database) as conn:
        audited = conn.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'device.update'"
            " AND entity_id = 'gas-kitchen' ORDER BY id"
        ).fetchall()
        listed = conn.execute(
            "SELECT mitigations FROM devices WHERE device_id = 'gas-kitchen'"
        ).fetchone()
    assert listed == (["z2m-external-converter-gas-bit1"],)
    assert audited and all(actor.startswith("cli:") for actor, _ in audited)
    assert audited[0][1]["fields"] == ["mitigations"]

    # listed by mistake: taken back, and the warning is back with it
    dropped = run_nuanxin(*update, "--drop-mitigation", "z2m-external-converter-gas-bit1", env=env)
    assert dropped.returncode == 0, dropped.stderr
    assert json.loads(dropped.stdout)["mitigations"] == []
    assert "warning: Heiman HS1CG-E has a known defect" in dropped.stderr

    for args, says in (
        (("--mitigation", "not-a-quirk"), "no quirk not-a-quirk to mitigate"),
        (("--mitigation", "Not A Code"), "mitigation"),
        ((), "--mitigation"),
    ):
        refused = run_nuanxin(*update, *args, env=env)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
        assert says in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, (
            refused.stderr
        )
    unknown = run_nuanxin("devices", "update", "gas-nowhere", "--mitigation", "x", env=env)
    assert unknown.returncode != 0 and "device gas-nowhere not found" in unknown.stderr
    with psycopg.connect(empty_database) as conn:
        still = conn.execute("SELECT mitigations FROM devices WHERE device_id = 'gas-kitchen'")
        assert still.fetchone() == ([],)
