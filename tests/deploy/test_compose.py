"""deploy/: the production Compose file, its environment template, the image and the
broker's first start stay true to the code.

Docker cannot run on the test machine, so the Compose file is checked as data: it parses,
has the services the README describes, pins its images, names only real settings, and
gives each container an environment `core.settings` accepts. The broker's first start
runs for real: `deploy/mosquitto/init.sh` on a fresh data directory, the project's broker
on the file it wrote, then the `broker-accounts` service's own command against it.
"""

import ast
import os
import pwd
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from core.settings import Settings, env_name
from embedded.mosquitto import (
    PRODUCTION_CONFIG,
    BrokerInfo,
    dynamic_security_plugin,
    free_port,
    render_config,
)
from ingest.adapters import ROUTES
from tests.support.cli import clean_env, run_nuanxin
from tests.support.databases import migrated_database
from tests.support.mqtt_clients import TestClient

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
INIT_SH = DEPLOY / "mosquitto" / "init.sh"

SETTINGS_NAMES = {env_name(field) for field in Settings.model_fields}
SECRET_SETTINGS = {
    env_name(name)
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation)
}
# Variables of the deployment itself (compose.yaml), not of nuanxin.
SECRET_DEPLOY_VARIABLES = {"POSTGRES_PASSWORD"}
# Read by Docker Compose itself from deploy/.env, never substituted in compose.yaml.
COMPOSE_CLI_VARIABLES = {"COMPOSE_PROFILES"}

# The platform's processes by role; ingest processes are found by their command.
REQUIRED_SERVICES = {
    "timescaledb",
    "broker-init",
    "mosquitto",
    "broker-accounts",
    "migrate",
    "alerting",
    "api",
}
NUANXIN_NAME = re.compile(r"\bNUANXIN_[A-Z0-9_]+")
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)
ASSIGNMENT = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9./_-]*:\d+(\.\d+)+[A-Za-z0-9._-]*$")


# --- helpers ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def platform_services() -> dict[str, dict[str, Any]]:
    """The services running the nuanxin image (built from deploy/Dockerfile)."""
    return {name: s for name, s in services().items() if "build" in s}


def ingest_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in platform_services().items() if s.get("command") == ["ingest"]}


def env_example() -> dict[str, tuple[bool, str]]:
    """Every variable env.example names: name → (set, i.e. not commented out; value)."""
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            found[match["name"]] = (match["commented"] is None, match["value"])
    return found


def interpolate(value: str, variables: dict[str, str]) -> str:
    """What Docker Compose substitutes for ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = variables.get(name)
        if op in (":?", "?") and not current:
            raise AssertionError(f"compose would stop: {arg}")
        if op in (":-", "-") and not current:
            return str(arg)
        return current or ""

    return INTERPOLATION.sub(substitute, value)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping, so anchors can merge"
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Volumes in the long syntax, short entries (source:target[:ro]) converted."""
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target, *mode = entry.split(":")
            kind = "bind" if source.startswith((".", "/", "$")) else "volume"
            entry = {"type": kind, "source": source, "target": target, "read_only": mode == ["ro"]}
        found.append(entry)
    return found


def conf_directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in PRODUCTION_CONFIG.read_text().splitlines():
        name, _, value = line.strip().partition(" ")
        if name and not name.startswith("#"):
            found.setdefault(name, []).append(value.strip())
    return found


def deploy_variables() -> dict[str, str]:
    """deploy/.env as an operator would fill it in from env.example."""
    values = {name: value for name, (is_set, value) in env_example().items() if is_set}
    for name in SECRET_DEPLOY_VARIABLES | SECRET_SETTINGS:
        if name in values:
            values[name] = "0123456789abcdef" * 4
    return values


# --- the Compose file -------------------------------------------------------------------


def test_compose_file_parses_and_has_every_service() -> None:
    found = services()
    assert found.keys() >= REQUIRED_SERVICES, REQUIRED_SERVICES - found.keys()
    ingest = ingest_services()
    always_on = [name for name, s in ingest.items() if not s.get("profiles")]
    assert always_on, "at least one ingest process starts without a profile"
    commands = {name: s.get("command") for name, s in platform_services().items()}
    assert commands["migrate"] == ["migrate"]
    assert commands["alerting"] == ["alerting"]
    assert commands["api"] == ["api"]
    assert set(compose()["volumes"]) >= {"timescaledb-data", "mosquitto-data"}


def test_images_are_pinned() -> None:
    for name, service in services().items():
        image = str(service["image"])
        assert "latest" not in image, f"{name}: {image}"
        if "build" in service:
            # Our own image: the release tag from deploy/.env, required.
            assert image.startswith("nuanxin:${IMAGE_TAG:?"), f"{name}: {image}"
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert (DEPLOY / service["build"]["context"]).resolve() == ROOT
        else:
            assert PINNED_IMAGE.match(image), f"{name}: {image} is not pinned to a version"
    db_image = services()["timescaledb"]["image"]
    assert db_image.startswith("timescale/timescaledb:2.") and db_image.endswith("-pg17")
    assert services()["mosquitto"]["image"].startswith("eclipse-mosquitto:2.0.")
    assert services()["broker-init"]["image"] == services()["mosquitto"]["image"]
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base is not None
    assert base[1].startswith("python:3.11") and "latest" not in base[1]


def test_every_nuanxin_name_is_a_setting() -> None:
    for path in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILE, INIT_SH):
        names = set(NUANXIN_NAME.findall(path.read_text()))
        unknown = names - SETTINGS_NAMES
        assert not unknown, f"{path.name} names variables core.settings does not read: {unknown}"


def test_env_example_documents_every_setting_and_every_compose_variable() -> None:
    documented = env_example()
    missing = SETTINGS_NAMES - documented.keys()
    assert not missing, f"deploy/env.example does not document {sorted(missing)}"

    text = COMPOSE_FILE.read_text()
    substituted = {m["name"] for m in INTERPOLATION.finditer(text)}
    assert not substituted - documented.keys(), substituted - documented.keys()
    deployment_only = {name for name in documented if not name.startswith("NUANXIN_")}
    unused = deployment_only - substituted - COMPOSE_CLI_VARIABLES
    assert not unused, f"env.example lists variables compose.yaml does not use: {unused}"


def test_env_example_explains_each_variable_and_holds_no_secret() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        match = ASSIGNMENT.match(line.strip())
        if not match:
            continue
        # Walk up the paragraph: a comment that is not itself an assignment explains it.
        above = number - 1
        explained = False
        while above >= 0 and lines[above].strip():
            previous = lines[above].strip()
            if previous.startswith("#") and not ASSIGNMENT.match(previous):
                explained = True
                break
            above -= 1
        assert explained, f"env.example line {number + 1}: {match['name']} has no comment"
    for name in SECRET_SETTINGS | SECRET_DEPLOY_VARIABLES:
        _, value = env_example().get(name, (False, ""))
        assert not value, f"env.example must not carry a value for the secret {name}"


def test_secrets_are_required_not_defaulted() -> None:
    text = COMPOSE_FILE.read_text()
    for match in INTERPOLATION.finditer(text):
        if match["name"] in SECRET_SETTINGS | SECRET_DEPLOY_VARIABLES:
            assert match["op"] == ":?", f"${{{match['name']}}} must use :? (fail when unset)"


def test_each_platform_container_gets_settings_nuanxin_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variables = deploy_variables()
    for name, service in platform_services().items():
        assert service.get("env_file") == ".env", name
        env = {**variables, **environment_of(service)}  # environment wins over env_file
        resolved = {key: interpolate(value, variables) for key, value in env.items()}
        for key in list(os.environ):
            if key.startswith("NUANXIN_"):
                monkeypatch.delenv(key)
        for key, value in resolved.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.database_url.hosts()[0]["host"] == "timescaledb", name
        assert settings.mqtt_url.host == "mosquitto", name
        assert settings.timescaledb == "on", name
        assert settings.mqtt_password is not None, name
        assert settings.mqtt_password.get_secret_value(), name
    assert environment_of(services()["api"])["NUANXIN_API_HOST"] == "0.0.0.0"


def test_ingest_processes_share_one_group_with_their_own_stable_client_ids() -> None:
    """An ingest process's client id is its account's username (the broker binds them);
    broker-accounts must create every one of them."""
    ingest = ingest_services()
    client_ids = [environment_of(s).get("NUANXIN_MQTT_USERNAME", "") for s in ingest.values()]
    accounts = environment_of(services()["broker-accounts"])["NUANXIN_MQTT_PLATFORM_USERNAMES"]
    assert sorted(yaml.safe_load(accounts)) == sorted(client_ids)
    groups = {environment_of(s).get("NUANXIN_INGEST_SHARE_GROUP") for s in ingest.values()}
    assert all(client_ids) and len(set(client_ids)) == len(client_ids), client_ids
    assert "$" not in "".join(map(str, client_ids)), "fixed ids, not substituted ones"
    assert len(groups) == 1 and None not in groups and "" not in groups, groups
    for name, service in ingest.items():
        # Replicas of one service would share its client id and take over each other.
        assert service.get("deploy", {}).get("replicas", 1) == 1, name
        assert "scale" not in service, name


def test_alert_engines_run_twice_and_the_api_is_published() -> None:
    alerting, api = services()["alerting"], services()["api"]
    assert alerting["deploy"]["replicas"] == 2
    assert any(str(port).endswith(":8000") for port in api["ports"])
    assert "NUANXIN_MQTT_PLATFORM_USERNAMES" not in environment_of(alerting)


def test_mosquitto_runs_the_project_config_with_its_data_and_certificates() -> None:
    mosquitto = services()["mosquitto"]
    by_target = {m["target"]: m for m in mounts(mosquitto)}

    config = by_target["/mosquitto/config/mosquitto.conf"]
    assert config["type"] == "bind" and config.get("read_only")
    assert (DEPLOY / config["source"]).resolve() == PRODUCTION_CONFIG.resolve()

    conf = conf_directives()
    data = by_target["/mosquitto/data"]
    assert data["type"] == "volume" and data["source"] in compose()["volumes"]
    assert conf["persistence_location"] == ["/mosquitto/data/"]
    assert conf["plugin_opt_config_file"][0].startswith("/mosquitto/data/")

    certs = by_target["/mosquitto/certs"]
    assert certs["type"] == "bind" and certs.get("read_only")
    for option in ("cafile", "certfile", "keyfile"):
        assert PurePosixPath(conf[option][0]).parent == PurePosixPath("/mosquitto/certs")

    assert mosquitto["user"] == "1883:1883"
    published = {str(port).rsplit(":", 1)[-1] for port in mosquitto["ports"]}
    assert published == {"8883"}, "only the TLS listener is published; 1883 stays inside"


def test_broker_init_prepares_the_volume_the_broker_uses() -> None:
    init, mosquitto = services()["broker-init"], services()["mosquitto"]
    init_mounts = {m["target"]: m for m in mounts(init)}
    broker_mounts = {m["target"]: m for m in mounts(mosquitto)}
    assert init_mounts["/mosquitto/data"]["source"] == broker_mounts["/mosquitto/data"]["source"]
    script = next(m for m in mounts(init) if m["target"] in init["entrypoint"])
    assert (DEPLOY / script["source"]).resolve() == INIT_SH
    assert mosquitto["depends_on"]["broker-init"]["condition"] == "service_completed_successfully"
    # init.sh writes the very file the plugin reads.
    default_dir = re.search(r'data_dir="\$\{MOSQUITTO_DATA_DIR:-([^}]+)\}"', INIT_SH.read_text())
    assert default_dir is not None
    dynsec = f"{default_dir[1]}/dynamic-security.json"
    assert conf_directives()["plugin_opt_config_file"] == [dynsec]


def test_deploy_secrets_stay_out_of_git() -> None:
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert ".env" in ignored and "certs/" in ignored


# --- the image --------------------------------------------------------------------------


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def distribution_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_dockerfile_installs_every_package_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    packages = {
        p.rstrip("*") for p in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY\s+(\w+)/\s", text, re.MULTILINE))
    assert copied == packages, (
        f"Dockerfile copies {sorted(copied)}, pyproject has {sorted(packages)}"
    )
    assert re.search(r"^COPY pyproject\.toml README\.md ", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["nuanxin"\]', text, re.MULTILINE)


def package_data_pattern(pattern: str) -> re.Pattern[str]:
    """A setuptools package-data glob (`*`, `?`, `**`) as a regular expression."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def test_the_image_gets_every_file_the_packages_ship() -> None:
    """`pip install .` copies only Python files and [tool.setuptools.package-data]: any
    other file in a package (SQL migrations, the web app) must be listed there, or the
    image runs without it."""
    setuptools = pyproject()["tool"]["setuptools"]
    package_data: dict[str, list[str]] = setuptools.get("package-data", {})
    missing = []
    for include in setuptools["packages"]["find"]["include"]:
        top = ROOT / include.rstrip("*")
        for path in sorted(top.rglob("*")):
            if not path.is_file() or path.suffix in {".py", ".pyc"}:
                continue
            if "__pycache__" in path.parts:
                continue
            covered = False
            # Any enclosing package's patterns, relative to that package's directory.
            for package_dir in [path.parent, *path.parent.parents]:
                if package_dir == ROOT:
                    break
                name = ".".join(package_dir.relative_to(ROOT).parts)
                relative = path.relative_to(package_dir).as_posix()
                patterns = package_data.get(name, []) + package_data.get("*", [])
                if any(package_data_pattern(p).fullmatch(relative) for p in patterns):
                    covered = True
                    break
            if not covered:
                missing.append(path.relative_to(ROOT).as_posix())
    assert not missing, f"not in [tool.setuptools.package-data], so not in the image: {missing}"


def runtime_distributions() -> set[str]:
    """The distributions `pip install .` brings: the project's dependencies (no extras)
    and everything they require in turn, markers evaluated for this Python."""
    wanted = [Requirement(r) for r in pyproject()["project"]["dependencies"]]
    found: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = distribution_name(requirement.name)
        extras = {"", *requirement.extras}
        if name in found and not requirement.extras:
            continue
        found.add(name)
        for text in metadata.requires(requirement.name) or []:
            nested = Requirement(text)
            marker = nested.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
                wanted.append(nested)
    return found


def test_the_image_has_every_library_the_packages_import() -> None:
    """The image installs only the project's dependencies (no dev or demo extra): a
    library imported at module level by any package, but missing there, would stop
    every `nuanxin` command in the container (the CLI imports all its commands)."""
    packages = {
        p.rstrip("*") for p in pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    owners = metadata.packages_distributions()
    runtime = runtime_distributions()
    missing: dict[str, set[str]] = {}
    for package in sorted(packages):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:  # module level: run at import
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in packages or top == "__future__":
                        continue
                    dists = {distribution_name(d) for d in owners.get(top, [])}
                    if not dists & runtime:
                        missing.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    assert not missing, f"imported but not a dependency in pyproject.toml: {missing}"


# --- the broker's first start, for real -------------------------------------------------


def test_init_sh_is_valid_posix_shell() -> None:
    subprocess.run(["sh", "-n", str(INIT_SH)], check=True)


def run_init(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(INIT_SH)],
        env={"PATH": os.environ["PATH"], "MOSQUITTO_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def initialised_broker(tmp_path: Path) -> Iterator[BrokerInfo]:
    """The project's broker on a data directory prepared by init.sh, as broker-init does."""
    data_dir = tmp_path / "data"
    admin = ("nuanxin-admin", "a" * 8 + "-deploy-test-admin-secret")
    short = run_init(
        data_dir, NUANXIN_MQTT_ADMIN_USERNAME=admin[0], NUANXIN_MQTT_ADMIN_PASSWORD="x"
    )
    assert short.returncode != 0 and "at least" in short.stderr
    first = run_init(
        data_dir, NUANXIN_MQTT_ADMIN_USERNAME=admin[0], NUANXIN_MQTT_ADMIN_PASSWORD=admin[1]
    )
    assert first.returncode == 0, first.stderr
    dynsec = data_dir / "dynamic-security.json"
    written = dynsec.read_bytes()
    # Every later start leaves the file alone, credentials or not.
    again = run_init(data_dir)
    assert again.returncode == 0, again.stderr
    assert dynsec.read_bytes() == written

    port = free_port()
    config_file = tmp_path / "mosquitto.conf"
    config_file.write_text(
        render_config(
            PRODUCTION_CONFIG.read_text(),
            port=port,
            tls_port=None,
            data_dir=data_dir,
            dynsec_file=dynsec,
            plugin_path=dynamic_security_plugin(),
            tls_files=None,
            user=pwd.getpwuid(os.geteuid()).pw_name,
        )
    )
    broker = BrokerInfo(
        host="127.0.0.1",
        port=port,
        admin_username=admin[0],
        admin_password=admin[1],
        config_file=config_file,
        log_file=tmp_path / "mosquitto.log",
        data_dir=data_dir,
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_first_start_gives_each_ingest_its_bound_account_for_its_shared_subscription(
    initialised_broker: BrokerInfo,
) -> None:
    broker = initialised_broker
    service = services()["broker-accounts"]
    assert service["command"][:2] == ["broker", "sync"]
    password = "deploy-test-platform-secret"
    accounts = yaml.safe_load(environment_of(service)["NUANXIN_MQTT_PLATFORM_USERNAMES"])
    with migrated_database() as url:
        env = clean_env(
            NUANXIN_DATABASE_URL=url,
            NUANXIN_MQTT_URL=f"mqtt://{broker.host}:{broker.port}",
            NUANXIN_MQTT_PASSWORD=password,
            NUANXIN_MQTT_PLATFORM_USERNAMES=environment_of(service)[
                "NUANXIN_MQTT_PLATFORM_USERNAMES"
            ],
            NUANXIN_MQTT_ADMIN_USERNAME=broker.admin_username,
            NUANXIN_MQTT_ADMIN_PASSWORD=broker.admin_password,
        )
        for _ in range(2):  # it runs at every `docker compose up`
            done = run_nuanxin(*service["command"], env=env)
            assert done.returncode == 0, done.stderr
            assert f"platform accounts ensured: {', '.join(accounts)}" in done.stdout

    group = environment_of(services()["ingest-1"])["NUANXIN_INGEST_SHARE_GROUP"]
    for name, ingest_service in ingest_services().items():
        username = environment_of(ingest_service)["NUANXIN_MQTT_USERNAME"]
        with TestClient(broker, username, password) as ingest:
            assert not ingest.connect().is_failure, name
            for route in ROUTES:
                granted = ingest.subscribe(f"$share/{group}/{route.subscription}")
                assert granted is not None and not granted.is_failure, route.subscription


def test_broker_accounts_refuses_to_run_without_the_admin_password() -> None:
    done = run_nuanxin(*services()["broker-accounts"]["command"], env=clean_env())
    assert done.returncode != 0
    assert "NUANXIN_MQTT_ADMIN_PASSWORD" in done.stderr
