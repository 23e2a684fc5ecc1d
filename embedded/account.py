"""Who the embedded servers run as, and the directories they may use.

A normal user runs them as themself, from wherever the caller says: nothing changes hands.

As root they run as the system account `nuanxin-embedded`: PostgreSQL refuses to run as
root, and a broker should not keep root's rights either. Then
- every directory a server writes is one nuanxin creates and gives to that account (mode
  0700); an existing one must already be the account's. Folders nuanxin creates on the
  way stay root's (mode 0711), and so do files root writes or reads later (a broker's
  configuration and log), so the account cannot redirect them;
- the binaries the account runs are a copy nuanxin makes once under /var/cache/nuanxin,
  owned by root and readable by all, since the original may sit in a private checkout;
- a directory the account cannot reach is an `UnreachableDirectory` naming the folder in
  the way, raised before anything is created. nuanxin never changes the mode or owner of
  a directory it did not create: loosening a person's home to let a server in is exactly
  what this module exists to avoid.
"""

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from embedded.errors import EmbeddedServerError, UnreachableDirectory

ACCOUNT_NAME = "nuanxin-embedded"
ROOT_DATA_HOME = Path("/var/lib/nuanxin")  # as root, the default home of servers' data
ROOT_CACHE = Path("/var/cache/nuanxin")  # as root, the copies of server binaries
CREATED_PARENT_MODE = 0o711  # folders nuanxin creates on the way: pass, but not list
PUBLIC_MODE = 0o755  # the binaries' copy, like /usr/lib
SERVER_DIR_MODE = 0o700
USERADD = [
    "useradd",
    "--system",
    "--user-group",
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    "/usr/sbin/nologin",
]


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int

    def process_options(self) -> dict[str, Any]:
        """`subprocess` options that run a child as this account, with no group of root's."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o077}


def server_account() -> Account | None:
    """The account the servers run as when we are root (created once); None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ACCOUNT_NAME)
    except KeyError:
        made = subprocess.run([*USERADD, ACCOUNT_NAME], capture_output=True, text=True)
        if made.returncode != 0 and not _account_exists():  # another start may have won
            raise EmbeddedServerError(
                f"cannot create the system account {ACCOUNT_NAME} the embedded servers run "
                f"as ({made.stderr.strip()}): create it with `{' '.join(USERADD)} "
                f"{ACCOUNT_NAME}`, or run as a normal user"
            ) from None
        entry = pwd.getpwnam(ACCOUNT_NAME)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _account_exists() -> bool:
    try:
        pwd.getpwnam(ACCOUNT_NAME)
    except KeyError:
        return False
    return True


def process_options(account: Account | None) -> dict[str, Any]:
    return {} if account is None else account.process_options()


def data_home() -> Path:
    """Where servers keep their data unless told otherwise: the user's data directory, or
    as root a system folder the account can reach (a home is usually private)."""
    if os.geteuid() == 0:
        return ROOT_DATA_HOME
    return Path(platformdirs.user_data_dir("nuanxin"))


def passable_dir(path: Path, account: Account | None) -> Path:
    """`path` as a directory the account may pass through, created with any missing
    parents (as root: root's, mode 0711). Refused, before anything is created, when the
    account cannot reach it."""
    path = path.absolute()
    if account is None:
        _wrap_os_error(path, lambda: path.mkdir(parents=True, exist_ok=True))
        return path
    existing = next(p for p in (path, *path.parents) if p.exists())
    check_reachable(existing, account)
    _wrap_os_error(path, lambda: _create_chain(path, CREATED_PARENT_MODE))
    return path


def server_dir(path: Path, account: Account | None) -> Path:
    """`path` as a directory a server may write, created with any missing parents.

    As root it is the account's, mode 0700. Refused, before anything is created, when the
    account cannot reach it or it exists and belongs to someone else."""
    path = passable_dir(path.absolute().parent, account) / path.name
    if account is None:
        _wrap_os_error(path, lambda: path.mkdir(exist_ok=True))
        return path
    if not path.exists():
        _wrap_os_error(path, lambda: _create_for(path, account))
    elif path.stat().st_uid != account.uid:
        raise EmbeddedServerError(
            f"{path} exists and belongs to {_owner(path)}, not {account.name}: nuanxin "
            "gives the embedded servers only directories it creates; remove it or "
            "choose another directory"
        )
    return path


def give(path: Path, account: Account | None) -> None:
    """Hand `path` and all inside it — made by nuanxin for a server — to the account."""
    if account is None:
        return
    inside = path.rglob("*") if path.is_dir() and not path.is_symlink() else ()
    for inner in (path, *inside):
        os.chown(inner, account.uid, account.gid, follow_symlinks=False)


def check_reachable(path: Path, account: Account) -> None:
    """Raise UnreachableDirectory unless `account` may pass through to `path`."""
    probe = subprocess.run(
        ["test", "-x", str(path)], cwd="/", capture_output=True, **account.process_options()
    )
    if probe.returncode == 0:
        return
    blocker = _first_closed(path, account)
    mode = stat.S_IMODE(blocker.stat().st_mode)
    raise UnreachableDirectory(
        f"{account.name}, the account the embedded servers run as, cannot reach {path}: "
        f"{blocker} is private (mode {mode:04o}, owner {_owner(blocker)}) and nuanxin does "
        "not loosen directories it did not create"
    )


def installed_copy(root: Path, parts: Sequence[str], name: str, account: Account) -> Path:
    """A copy of `parts` of `root` (their layout kept: binaries find libraries relative to
    themselves) that the account may run, made once as ROOT_CACHE/name: owned by root,
    readable by all, writable by root alone."""
    target = ROOT_CACHE / name
    if not target.exists():
        _wrap_os_error(target, lambda: _copy_once(root, parts, target))
    check_reachable(target, account)
    return target


@contextlib.contextmanager
def server_workdir(prefix: str) -> Iterator[Path]:
    """A new temporary directory to put server directories in, removed afterwards. As root
    it is mode 0711, so the account may pass through it but not list it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            path.chmod(0o711)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _create_for(path: Path, account: Account) -> None:
    path.mkdir()
    path.chmod(SERVER_DIR_MODE)  # explicit: whatever the umask
    os.chown(path, account.uid, account.gid)


def _copy_once(root: Path, parts: Sequence[str], target: Path) -> None:
    _create_chain(target.parent, PUBLIC_MODE)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        copied = staging / "copy"
        for part in parts:
            shutil.copytree(root / part, copied / part, symlinks=True)
        _readable_by_all(copied)
        try:
            copied.rename(target)  # atomic: a copy made at the same time may have won
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _create_chain(path: Path, mode: int) -> None:
    """Create `path` and its missing parents, each with `mode` whatever the umask."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir()
        folder.chmod(mode)


def _readable_by_all(root: Path) -> None:
    for inner in (root, *root.rglob("*")):
        if inner.is_symlink():
            continue
        executable = inner.is_dir() or inner.stat().st_mode & 0o111
        inner.chmod(PUBLIC_MODE if executable else 0o644)


def _first_closed(path: Path, account: Account) -> Path:
    for folder in reversed((path, *path.parents)):
        if not _may_pass(folder.stat(), account):
            return folder
    return path


def _may_pass(st: os.stat_result, account: Account) -> bool:
    if st.st_uid == account.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == account.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _owner(path: Path) -> str:
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _wrap_os_error(path: Path, action: Callable[[], object]) -> None:
    try:
        action()
    except OSError as exc:
        raise EmbeddedServerError(
            f"cannot prepare {path} for the embedded servers: {exc.strerror or exc}"
        ) from exc
