"""Who the embedded servers run as and where (embedded.account), against the real file
system and the real system account. The attacker here is an accident: a server that
needs a directory and a helper that opens a person's private folders to get it."""

import ast
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded.account import (
    ROOT_CACHE,
    Account,
    check_reachable,
    installed_copy,
    server_account,
    server_dir,
    server_workdir,
)
from embedded.errors import EmbeddedServerError, UnreachableDirectory
from tests.support.private_checkout import ROOT_ONLY, changed_modes, directory_modes
from tests.support.servers import REPO_ROOT

# The one module allowed to change a mode or an owner, and the calls that would.
ACCOUNT_MODULE = REPO_ROOT / "embedded" / "account.py"
LOOSENING_CALLS = {"chmod", "lchmod", "chown", "lchown", "fchmod", "fchown"}
LOOSENING_HELPERS = {"ensure_prefix_permissions", "ensure_folder_permissions"}
PRODUCT_FOLDERS = [p for p in REPO_ROOT.iterdir() if (p / "__init__.py").exists()]


@pytest.fixture
def account() -> Account:
    made = server_account()
    assert made is not None
    return made


@pytest.fixture
def workdir() -> Iterator[Path]:
    with server_workdir("nuanxin-test-account-") as path:
        yield path


def test_only_the_account_module_changes_modes_or_owners() -> None:
    """A server added later must get its directories from embedded.account, not by
    loosening what it finds on the way."""
    found = []
    for folder in PRODUCT_FOLDERS:
        if folder.name == "tests":
            continue
        for source in folder.rglob("*.py"):
            if source == ACCOUNT_MODULE:
                continue
            calls = (n for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.Call))
            for node in calls:
                name = _called_name(node)
                if name in LOOSENING_CALLS | LOOSENING_HELPERS:
                    found.append(f"{source.relative_to(REPO_ROOT)}:{node.lineno} {name}")
    assert found == []


def test_the_guard_sees_a_chmod() -> None:
    statement = ast.parse("path.chmod(0o755)").body[0]
    assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
    assert _called_name(statement.value) == "chmod"


@ROOT_ONLY
def test_a_private_folder_is_refused_before_anything_is_created(
    workdir: Path, account: Account
) -> None:
    private = workdir / "home"
    private.mkdir(mode=0o700)
    before = directory_modes(private)
    with pytest.raises(UnreachableDirectory, match=f"{private} is private") as raised:
        server_dir(private / "data" / "postgres", account)
    assert "\n" not in str(raised.value)
    assert changed_modes(before) == {}
    assert list(private.iterdir()) == []


@ROOT_ONLY
def test_a_server_directory_is_the_accounts_and_its_parents_stay_roots(
    workdir: Path, account: Account
) -> None:
    old_umask = os.umask(0o077)  # a strict umask must not close the way in
    try:
        made = server_dir(workdir / "demo" / "postgres", account)
    finally:
        os.umask(old_umask)
    assert _owner_mode(made) == (account.uid, 0o700)
    assert _owner_mode(made.parent) == (0, 0o711)
    assert _owner_mode(workdir) == (0, 0o711)
    check_reachable(made, account)
    wrote = subprocess.run(["touch", str(made / "x")], **account.process_options())
    assert wrote.returncode == 0


@ROOT_ONLY
def test_an_existing_directory_of_someone_else_is_not_taken_over(
    workdir: Path, account: Account
) -> None:
    theirs = workdir / "theirs"
    theirs.mkdir(mode=0o755)
    with pytest.raises(EmbeddedServerError, match="belongs to root"):
        server_dir(theirs, account)
    assert _owner_mode(theirs) == (0, 0o755)


@ROOT_ONLY
def test_the_binaries_copy_is_roots_and_runnable_by_the_account(
    tmp_path: Path, account: Account
) -> None:
    private = tmp_path / "venv"  # as in a checkout under a private home
    (private / "pkg" / "bin").mkdir(parents=True)
    tool = private / "pkg" / "bin" / "tool"
    tool.write_text("#!/bin/sh\necho ran\n")
    tool.chmod(0o700)
    name = f"test-{os.getpid()}-{tmp_path.name}"
    try:
        copy = installed_copy(private, ["pkg"], name, account)
        ran = subprocess.run(
            [str(copy / "pkg" / "bin" / "tool")],
            capture_output=True,
            text=True,
            **account.process_options(),
        )
        assert ran.stdout == "ran\n"
        assert _owner_mode(copy / "pkg" / "bin" / "tool") == (0, 0o755)
        assert _owner_mode(private / "pkg" / "bin" / "tool") == (0, 0o700)  # untouched
    finally:
        subprocess.run(["rm", "-rf", str(ROOT_CACHE / name)], check=True)


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _owner_mode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, stat.S_IMODE(st.st_mode)
