"""Time zones: validated against the system's zoneinfo where they enter (API, CLI,
migration 0007), and read defensively everywhere else.

A zone name that is not in the zoneinfo database ("Asia/Beijing", a typo, a path) once
made every run of the inactivity job raise. Entry points refuse it with a message saying
what to write instead; a stored name that is unusable anyway (a row written by hand, or a
zoneinfo update that dropped it) is read as the default zone, so the elder stays watched
and the read paths answer, and the caller reports the row.
"""

import re
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

DEFAULT_ZONE = "Asia/Shanghai"  # all of Ordos, and every district today


# Zones that name a place (Area/Location, as IANA writes them) and UTC. The rest of the
# zoneinfo database — `localtime` (the server's own zone), POSIX rules such as EST5EDT, the
# posix/ and right/ copies, Factory, legacy aliases such as PRC — would tie "10:00 local"
# to the machine the service runs on or to a name nobody means.
_AREAS = "Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific"
_PLACE = re.compile(rf"(?:{_AREAS})/[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)?|UTC")


@cache
def _known() -> frozenset[str]:
    return frozenset(name for name in available_timezones() if _PLACE.fullmatch(name))


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
