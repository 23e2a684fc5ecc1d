"""Every word of core/vocabulary.py has its label in both of the app's languages, so a
severity, state, channel or outcome added in code never shows raw on a phone.
(The database side is tests/storage/test_schema.py.)"""

import re

import pytest

from api.app import WEB_DIR
from core.vocabulary import AUTO_CLEARED, AlertStatus, Channel, Outcome, Severity

KEY = re.compile(r'^\s*"([^"]+)":', re.MULTILINE)
LANGUAGES = ("zh-CN", "en")
PACKAGES = ("core", "cli", "ingest", "alerting", "device_registry", "api", "simulators", "bench")
WORDS: dict[str, tuple[str, ...]] = {
    "severity": tuple(Severity),
    "status": tuple(AlertStatus),
    "channel": tuple(Channel),
    "outcome": (*Outcome, AUTO_CLEARED),
}


def _keys(language: str) -> set[str]:
    return set(KEY.findall((WEB_DIR / "js" / "strings" / f"{language}.js").read_text()))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_app_labels_every_word(language: str) -> None:
    keys = _keys(language)
    missing = [
        f"{prefix}.{word}"
        for prefix, words in WORDS.items()
        for word in words
        if f"{prefix}.{word}" not in keys
    ]
    assert missing == []


def test_no_package_defines_its_own_copy() -> None:
    root = WEB_DIR.parents[1]
    names = "|".join(("Severity", "Channel", "AlertStatus", "NotificationStatus", "Outcome"))
    copy = re.compile(rf"^(?:class ({names})\(|({names}) = )", re.MULTILINE)
    found = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if path.name != "vocabulary.py"
        for match in copy.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
