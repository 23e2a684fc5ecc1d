"""Mosquitto with the project's own configuration (`deploy/mosquitto/mosquitto.conf`),
started as a child process: for the demo when no broker answers, for benchmarks, and for
tests that count messages or need dynamic security.

`render_config` changes only what a local run must: listener ports on 127.0.0.1, the
persistence and dynamic-security paths, the plugin path when the container one is absent,
the TLS files (or the TLS listener is dropped), and `user`: the invoking user, or as root
the servers' account (embedded.account), which owns the broker's directory — Mosquitto
reads its TLS key and writes persistence and dynamic security after dropping to that
user. Every other line — queue limits, in-flight window, persistence, no anonymous
access — is the production one.
"""

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from embedded.account import give, passable_dir, server_account, server_dir
from embedded.errors import EmbeddedBrokerError

PRODUCTION_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"

# The ports the production file listens on; each must appear there exactly once.
PLAIN_LISTENER_PORT = "1883"
TLS_LISTENER_PORT = "8883"

# Options that configure a TLS listener; they go with it when `tls=False` drops it.
TLS_LISTENER_OPTIONS = frozenset(
    {
        "cafile",
        "capath",
        "certfile",
        "keyfile",
        "ciphers",
        "ciphers_tls1.3",
        "crlfile",
        "dhparamfile",
        "require_certificate",
        "tls_engine",
        "tls_engine_kpass_sha1",
        "tls_keyform",
        "tls_version",
        "use_identity_as_username",
        "use_subject_as_username",
    }
)

# Where distributions install the plugin when the container path is absent.
PLUGIN_NAME = "mosquitto_dynamic_security.so"
PLUGIN_SEARCH_GLOBS = ("/usr/lib/*/" + PLUGIN_NAME, "/usr/local/lib/" + PLUGIN_NAME)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass
class BrokerInfo:
    """A running project broker. `restart()` keeps ports, persistence and accounts."""

    host: str
    port: int
    admin_username: str
    admin_password: str
    config_file: Path
    log_file: Path
    data_dir: Path
    tls_port: int | None = None
    ca_file: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (a soak follows its memory)."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        command = [_executable("mosquitto"), "-c", str(self.config_file)]
        stdbuf = shutil.which("stdbuf")
        if stdbuf is not None:
            # Line-buffered, so log() shows what happened before the broker exits.
            command = [stdbuf, "-oL", *command]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        ports = [self.port] + ([self.tls_port] if self.tls_port is not None else [])
        self._wait_accepting(ports)

    def stop(self) -> None:
        """SIGTERM (the broker writes its persistence file on the way out), then SIGKILL."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, for tests of what survives one (only what autosave wrote)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _last_log_line(self) -> str:
        lines = [line.strip() for line in self.log().splitlines() if line.strip()]
        return lines[-1] if lines else "it wrote nothing"

    def _wait_accepting(self, ports: list[int]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        pending = list(ports)
        while pending:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise EmbeddedBrokerError(
                    f"mosquitto exited with {code} while starting: {self._last_log_line()} "
                    f"(log: {self.log_file})"
                )
            try:
                with socket.create_connection((self.host, pending[0]), timeout=0.5):
                    pending.pop(0)
                    continue
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedBrokerError(
                        f"mosquitto did not accept connections on {pending[0]} within "
                        f"{START_TIMEOUT_S:.0f} s: {self._last_log_line()} (log: {self.log_file})"
                    ) from None
                time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker(
    workdir: Path, *, port: int | None = None, tls: bool = False, admin_username: str = "admin"
) -> BrokerInfo:
    """Start Mosquitto with the project configuration in `workdir`; stop() it afterwards.

    A new `workdir` gets a fresh dynamic-security file with an admin account. As root,
    `workdir` must be new or the servers' account's, in a place that account can reach.
    """
    account = server_account()
    passable_dir(workdir, account)  # root's: it holds the configuration and log root opens
    data_dir = server_dir(workdir / "data", account)
    dynsec_file = data_dir / "dynamic-security.json"
    admin_password = secrets.token_urlsafe(16)
    init_dynamic_security(dynsec_file, admin_username, admin_password)
    give(data_dir, account)

    port = port or free_port()
    tls_port = free_port() if tls else None
    tls_files = make_tls_files(workdir / "certs") if tls else None
    if tls_files is not None:
        give(workdir / "certs", account)  # read after the broker drops to the account
    config = render_config(
        PRODUCTION_CONFIG.read_text(),
        port=port,
        tls_port=tls_port,
        data_dir=data_dir,
        dynsec_file=dynsec_file,
        plugin_path=dynamic_security_plugin(),
        tls_files=tls_files,
        user=account.name if account else pwd.getpwuid(os.geteuid()).pw_name,
    )
    config_file = workdir / "mosquitto.conf"
    config_file.write_text(config)
    broker = BrokerInfo(
        host="127.0.0.1",
        port=port,
        admin_username=admin_username,
        admin_password=admin_password,
        config_file=config_file,
        log_file=workdir / "mosquitto.log",
        data_dir=data_dir,
        tls_port=tls_port,
        ca_file=tls_files.ca_file if tls_files else None,
    )
    broker.start()
    return broker


def mosquitto_available() -> bool:
    try:
        _executable("mosquitto")
        dynamic_security_plugin()
    except EmbeddedBrokerError:
        return False
    return True


def render_config(
    production: str,
    *,
    port: int,
    tls_port: int | None,
    data_dir: Path,
    dynsec_file: Path,
    plugin_path: Path,
    tls_files: TlsFiles | None,
    user: str,
) -> str:
    """The production configuration with local ports, paths and user; nothing else changes.

    Every substituted line must exist in the production file (listeners exactly once), so
    a rename there fails the tests instead of silently testing another configuration.
    """
    listeners: dict[str, str | None] = {
        PLAIN_LISTENER_PORT: f"listener {port} 127.0.0.1",
        TLS_LISTENER_PORT: None if tls_port is None else f"listener {tls_port} 127.0.0.1",
    }
    paths: dict[str, Callable[[str], str]] = {
        "persistence_location": lambda _: f"{data_dir}/",
        "plugin_opt_config_file": lambda _: str(dynsec_file),
        "plugin": lambda value: value if Path(value).exists() else str(plugin_path),
    }
    if tls_files is not None:
        paths["cafile"] = lambda _: str(tls_files.ca_file)
        paths["certfile"] = lambda _: str(tls_files.cert_file)
        paths["keyfile"] = lambda _: str(tls_files.key_file)

    out = [
        "# Rendered by embedded/mosquitto.py from deploy/mosquitto/mosquitto.conf.",
        "# Local substitution: run as the invoking user, who owns these files.",
        f"user {user}",
    ]
    seen: dict[str, int] = {}
    in_dropped_listener = False
    for line in production.splitlines():
        directive, _, value = line.strip().partition(" ")
        value = value.strip()
        if not directive or directive.startswith("#"):
            out.append(line)
            continue
        if directive == "listener":
            port_key = value.split()[0]
            if port_key not in listeners:
                raise ValueError(f"unexpected listener in the production config: {line!r}")
            seen[f"listener {port_key}"] = seen.get(f"listener {port_key}", 0) + 1
            replacement = listeners[port_key]
            in_dropped_listener = replacement is None
            if replacement is not None:
                out.append(replacement)
            continue
        if in_dropped_listener and directive in TLS_LISTENER_OPTIONS:
            continue
        if directive == "user":
            continue
        if directive in paths:
            seen[directive] = seen.get(directive, 0) + 1
            out.append(f"{directive} {paths[directive](value)}")
            continue
        out.append(line)

    expected = {f"listener {p}" for p in listeners} | set(paths)
    wrong = {key: seen.get(key, 0) for key in expected if seen.get(key, 0) != 1}
    if wrong:
        raise ValueError(f"production config no longer has these lines exactly once: {wrong}")
    return "\n".join(out) + "\n"


def init_dynamic_security(dynsec_file: Path, admin_username: str, admin_password: str) -> None:
    """`mosquitto_ctrl dynsec init`; it exits 0 even when it refuses, so check the file."""
    if dynsec_file.exists():
        raise FileExistsError(dynsec_file)
    init = ["dynsec", "init", str(dynsec_file), admin_username, admin_password]
    result = subprocess.run(
        [_executable("mosquitto_ctrl"), *init],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not dynsec_file.exists():
        said = (result.stderr or result.stdout).strip().replace("\n", " ")
        raise EmbeddedBrokerError(f"mosquitto_ctrl dynsec init failed: {said}")


def make_tls_files(directory: Path, hostname: str = "localhost") -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise EmbeddedBrokerError("tls=True needs the openssl command")
    directory.mkdir(parents=True)
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    ca_key, csr, ext = directory / "ca.key", directory / "server.csr", directory / "server.ext"
    ext.write_text(
        f"subjectAltName=DNS:{hostname},IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n"
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    make_ca = ["req", "-x509", *new_key, "-keyout", ca_key, "-out", files.ca_file]
    make_ca += ["-days", "2", "-subj", "/CN=nuanxin test CA"]
    make_csr = ["req", *new_key, "-keyout", files.key_file, "-out", csr]
    make_csr += ["-subj", f"/CN={hostname}"]
    sign = ["x509", "-req", "-in", csr, "-CA", files.ca_file, "-CAkey", ca_key, "-CAcreateserial"]
    sign += ["-out", files.cert_file, "-days", "2", "-extfile", ext]
    for args in (make_ca, make_csr, sign):
        subprocess.run([openssl, *map(str, args)], capture_output=True, check=True)
    return files


def dynamic_security_plugin() -> Path:
    """This machine's dynamic-security plugin (NUANXIN_MOSQUITTO_PLUGIN overrides)."""
    override = os.environ.get("NUANXIN_MOSQUITTO_PLUGIN")
    if override:
        return Path(override)
    for pattern in PLUGIN_SEARCH_GLOBS:
        found = sorted(Path("/").glob(pattern.lstrip("/")))
        if found:
            return found[0]
    raise EmbeddedBrokerError(f"{PLUGIN_NAME} not found; install the mosquitto package")


def _executable(name: str) -> str:
    # mosquitto lives in sbin, which is not on every user's PATH.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise EmbeddedBrokerError(f"{name} not found; install the mosquitto package")
    return found
