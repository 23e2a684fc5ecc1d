"""Time zones: validated against the system's zoneinfo where they enter (API, CLI,
migration 0007), and read defensively everywhere else.

A zone name that is not in the zoneinfo database ("Asia/Beijing", a typo, a path) once
made every run of the inactivity job raise. Entry points refuse it with a message saying
what to write instead; a stored name that is unusable anyway (a row written by hand, or a
zoneinfo update that dropped it) is read as the default zone, so the elder stays watched
and the read paths answer, and the caller reports the row.
"""

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

DEFAULT_ZONE = "Asia/Shanghai"  # all of Ordos, and every district today


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known(name: str) -> bool:
    return name in _known()


def valid_zone(name: str) -> str:
    """The name itself when it is a zone of the zoneinfo database; else ValueError."""
    if not is_known(name):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA zone name such as {DEFAULT_ZONE}"
            " (the zone of all mainland China)"
        )
    return name


def zone_or_default(name: str | None) -> tuple[ZoneInfo, bool]:
    """The zone of a stored name, and whether it was usable; the default if not."""
    if name is not None and is_known(name):
        try:
            return ZoneInfo(name), True
        except (ValueError, OSError, KeyError):  # listed, but its file is unreadable
            pass
    return ZoneInfo(DEFAULT_ZONE), False
