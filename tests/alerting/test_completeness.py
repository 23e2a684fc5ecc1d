"""What a new device kind, rule or channel must come with before it can page anyone.

Each of these once passed every other test and would still have lost an alarm at run
time: an alert whose rule has no wording raises when its notification is planned; a
channel nobody can address is skipped; a kind whose sensor fields ingest does not know
has its readings quarantined."""

from alerting.planner import ADDRESSERS, GROUP_CHANNELS
from alerting.rules import RULES
from alerting.templates import AlertKind
from core.catalog import KINDS
from core.vocabulary import Channel
from ingest.adapters.fields import SENSOR_FIELDS


def test_every_rule_has_the_wording_of_its_notifications() -> None:
    kinds = {kind.value for kind in AlertKind}
    assert [rule.name for rule in RULES if rule.kind not in kinds] == []


def test_every_channel_can_reach_someone() -> None:
    reachable = set(ADDRESSERS) | set(GROUP_CHANNELS)
    assert [channel.value for channel in Channel if channel not in reachable] == []


def test_every_kind_s_sensor_fields_are_fields_ingest_takes_from_that_kind() -> None:
    unknown = [
        f"{kind.device_type}: {name}"
        for kind in KINDS.values()
        for name in kind.sensor_fields
        if name not in SENSOR_FIELDS or kind.device_type not in SENSOR_FIELDS[name].types
    ]
    assert unknown == []
