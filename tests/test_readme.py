"""The README and the docs stay true to the code, and the README stays short."""

import re
from pathlib import Path

from core.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
README_MAX_LINES = 250


def test_every_setting_is_documented() -> None:
    for field in Settings.model_fields:
        name = env_name(field)
        assert f"`{name}`" in OPERATIONS, f"{name} missing from docs/operations.md"


def test_the_readme_stays_short_and_every_doc_it_points_to_exists() -> None:
    assert len(README.splitlines()) <= README_MAX_LINES, "move detail into docs/"
    for link in re.findall(r"\]\(((?:docs/)?[A-Za-z-]+\.md)\)", README):
        assert (ROOT / link).exists(), link
    for doc in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([A-Za-z-]+\.md)\)", doc.read_text()):
            assert (ROOT / "docs" / link).exists(), f"{doc.name} → {link}"


def test_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest" in README
    assert ".venv/bin/python -m pytest" in ci


def test_setup_makes_the_venv_the_dependency_audit_can_vouch_for() -> None:
    """A venv seeded with Python's bundled pip and setuptools fails the audit (they are held
    behind their newest releases), so the README's setup and CI both upgrade them."""
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "python3 -m venv --upgrade-deps .venv && .venv/bin/pip install" in README
    assert "python3 -m venv --upgrade-deps .venv" in ci


def test_known_devices_table_is_the_catalogue() -> None:
    """The README claims exactly the models the catalogue has, of every transport."""
    from core.catalog.markdown import END, START, known_devices_table

    assert README.count(START) == 1 and README.count(END) == 1
    inside = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert inside == known_devices_table(), "regenerate: python -m core.catalog.markdown"


def test_the_table_covers_every_transport_and_model() -> None:
    from core.catalog import MODELS, Model, Transport
    from core.catalog.markdown import TRANSPORT_NAMES, known_devices_table
    from core.types import DeviceType

    assert set(TRANSPORT_NAMES) == set(Transport)
    extra = Model("x-y", "Vendor|X", "Y-1", DeviceType.SMOKE, Transport.CTWING, "s", "f")
    table = known_devices_table((*MODELS, extra))
    assert len(table.splitlines()) == 2 + len(MODELS) + 1
    assert "| Vendor\\|X | Y-1 |" in table and "CTWing" in table
