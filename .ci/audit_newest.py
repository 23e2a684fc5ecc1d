"""The dependency audit where the package index serves no per-release vulnerability data.

pip-audit asks the index for each installed release's advisories; some indexes answer
those queries with 404, and then nothing can be audited. The same index still serves each
project's JSON, whose `vulnerabilities` are those of the project's newest release. So:

- a release whose own page the index serves is audited against it, newest or not;
- otherwise a distribution installed at its project's newest release — the highest final
  release, compared as versions (84.2.0 is 84.2), not the index's `info.version`, which
  some indexes set to their latest upload — is audited for real: each of its advisories
  that is not withdrawn fails the run, unless passed as --ignore-vuln ID;
- a distribution held back from the newest release (a cap set by another dependency)
  cannot be audited this way: it fails the run unless it is listed, with the reason, in
  .ci/held-back.txt — and the list says which release it is held at, so a new cap or a
  lifted one shows up as a failure too;
- a release newer than the index's newest (an index that lags) cannot be audited and
  fails the run, saying so;
- an index that does not answer fails the run.

`--probe` only says whether the per-release data is served (exit 0) or not (exit 1), so
.ci/audit-dependencies can run pip-audit wherever it can.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pip
from packaging.version import InvalidVersion, Version  # pip-audit's own dependency
from pip._internal.models.index import PyPI  # the index's JSON API, as pip itself knows it

HELD_BACK = Path(__file__).with_name("held-back.txt")
TIMEOUT_S = 60


def fetch(api: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{api}/{path}/json", timeout=TIMEOUT_S) as answer:
        return json.load(answer)  # type: ignore[no-any-return]


def per_release_data_served(api: str) -> bool:
    try:
        fetch(api, f"pip/{pip.__version__}")
    except urllib.error.HTTPError:
        return False
    return True


def pins(requirements: Path) -> dict[str, str]:
    lines = (line.strip() for line in requirements.read_text().splitlines())
    return dict(line.split("==", 1) for line in lines if "==" in line)


def held_back(listing: Path) -> dict[str, str]:
    """`name==version  # why` per line: what may stay behind the newest release."""
    entries = (line.split("#", 1)[0].strip() for line in listing.read_text().splitlines())
    return dict(entry.split("==", 1) for entry in entries if entry)


def newest_release(project: dict[str, Any]) -> Version:
    """The highest final release that is not yanked: what pip installs. Some indexes
    name their latest upload as `info.version` — a post-release of an older series —
    so the releases decide where they are listed."""
    finals = [
        Version(release)
        for release, files in (project.get("releases") or {}).items()
        if files and not all(f.get("yanked") for f in files) and _final(release)
    ]
    return max(finals, default=Version(project["info"]["version"]))


def _final(release: str) -> bool:
    try:
        return not Version(release).is_prerelease
    except InvalidVersion:
        return False


def advisories(name: str, version: str, found: dict[str, Any], ignored: set[str]) -> list[str]:
    return [
        f"{name}=={version}: {vuln['id']} (fixed in {', '.join(vuln.get('fixed_in') or ['-'])})"
        for vuln in found.get("vulnerabilities") or []
        if not vuln.get("withdrawn") and vuln["id"] not in ignored
    ]


def problems(
    api: str, name: str, version: str, ignored: set[str], allowed: dict[str, str]
) -> list[str]:
    try:  # the release's own advisories, where the index serves them
        return advisories(name, version, fetch(api, f"{name}/{version}"), ignored)
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    project = fetch(api, name)
    newest, installed = newest_release(project), Version(version)
    if installed > newest:
        return [f"{name}=={version}: newer than the index's newest release ({newest})"]
    if installed < newest:
        if allowed.get(name) == version:
            return []
        return [f"{name}=={version}: held back from {newest}, so it cannot be audited here"]
    return advisories(name, version, project, ignored)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--requirement", type=Path)
    parser.add_argument("--ignore-vuln", action="append", default=[])
    parser.add_argument("--held-back", type=Path, default=HELD_BACK)
    parser.add_argument("--json-api", default=PyPI.pypi_url, help="the index's JSON API")
    args, _ = parser.parse_known_args(argv)  # pip-audit's other options do not apply here
    if args.probe:
        return 0 if per_release_data_served(args.json_api) else 1
    installed, allowed = pins(args.requirement), held_back(args.held_back)
    with ThreadPoolExecutor(8) as pool:
        found = pool.map(
            lambda pin: problems(args.json_api, pin[0], pin[1], set(args.ignore_vuln), allowed),
            installed.items(),
        )
        failures = [problem for each in found for problem in each]
    for failure in failures:
        print(failure)
    print(f"{len(installed)} distributions audited against their projects' newest releases")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
