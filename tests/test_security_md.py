"""SECURITY.md claims only what a named test proves: every test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECURITY = (ROOT / "SECURITY.md").read_text()
NAMED = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", SECURITY)


def test_security_md_names_tests() -> None:
    assert len(NAMED) >= 40


def test_every_test_named_in_security_md_exists() -> None:
    missing = [
        f"{path}::{name}"
        for path, name in NAMED
        if not (ROOT / path).is_file()
        or not re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.MULTILINE)
    ]
    assert missing == []


def test_every_claim_row_names_a_test() -> None:
    lines = SECURITY.splitlines()
    # a table's header is the row just above its `| --- |` separator
    headers = {lines[i - 1] for i, line in enumerate(lines) if line.startswith("| ---")}
    claims = [
        line
        for line in lines
        if line.startswith("| ") and "---" not in line and line not in headers
    ]
    assert claims and all("tests/" in row or "same test" in row for row in claims)
