"""Which filters an ingest process holds, and which it drops from its persistent session,
for each way it can be configured."""

import pytest

from ingest.mqtt_client import Subscriber, SubscriberConfig

NATIVE, ZIGBEE = "nuanxin/v1/#", "zigbee2mqtt/#"


@pytest.mark.parametrize(
    ("group", "whole", "retired", "holds", "drops"),
    [
        (None, [ZIGBEE], [], [NATIVE, ZIGBEE], []),
        ("g", [ZIGBEE], [], ["$share/g/nuanxin/v1/#", ZIGBEE], [NATIVE, "$share/g/zigbee2mqtt/#"]),
        (
            "g",
            [],
            [ZIGBEE],
            ["$share/g/nuanxin/v1/#"],
            [NATIVE, "$share/g/zigbee2mqtt/#", ZIGBEE],
        ),
        (None, [], [ZIGBEE], [NATIVE], [ZIGBEE]),
    ],
)
def test_subscriptions_held_and_dropped(
    group: str | None, whole: list[str], retired: list[str], holds: list[str], drops: list[str]
) -> None:
    config = SubscriberConfig(
        "127.0.0.1",
        1883,
        None,
        None,
        "ingest-1",
        topics=[NATIVE],
        whole_topics=whole,
        retired_topics=retired,
        share_group=group,
    )
    subscriber = Subscriber(config, lambda inbound: None)
    assert subscriber.subscriptions == holds
    assert subscriber.retired == sorted(drops)
