"""The demo's story, as a table: at which second whose device does what, and how the
people who are paged answer. Each action is one small function; a scenario is data."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from core.types import DeviceType
from simulators.devices import SimulatedDevice
from simulators.households import Household
from simulators.twilio_server import TwilioServer

BUTTON, SMOKE, GAS, PIR = DeviceType


@dataclass
class Stage:
    """What the story's actions can reach."""

    devices: dict[str, dict[DeviceType, SimulatedDevice]]
    households: dict[str, Household]
    api: httpx.Client  # signed in as the community worker
    twilio: TwilioServer
    inbound_sms_url: str
    family_phones: dict[str, str]
    elder_ids: dict[str, int]


Action = Callable[[Stage, str], object]  # what an action returns is not used


def _open_alert(stage: Stage, elder: str) -> int:
    alerts = stage.api.get(
        "/api/v1/alerts", params={"elder_id": stage.elder_ids[elder], "status": "active"}
    ).json()
    return int(alerts[0]["id"])


ACTIONS: Final[dict[str, Action]] = {
    "press": lambda s, e: s.devices[e][BUTTON].press(),
    "gas_leak": lambda s, e: s.devices[e][GAS].gas_leak(25.0),
    "smoke_on": lambda s, e: s.devices[e][SMOKE].smoke(True),
    "smoke_off": lambda s, e: s.devices[e][SMOKE].smoke(False),
    "stop_moving": lambda s, e: s.households[e].stop_moving(),
    "power_cut": lambda s, e: s.devices[e][SMOKE].drop(),
    "family_replies": lambda s, e: s.twilio.post_inbound_sms(
        s.inbound_sms_url, from_=s.family_phones[e], body="收到"
    ),
    "worker_acks": lambda s, e: s.api.post(
        f"/api/v1/alerts/{_open_alert(s, e)}/ack"
    ).raise_for_status(),
    "worker_resolves": lambda s, e: s.api.post(
        f"/api/v1/alerts/{_open_alert(s, e)}/resolve",
        json={"outcome": "false_alarm", "note": "做饭油烟，已开窗通风"},
    ).raise_for_status(),
}


@dataclass(frozen=True)
class Beat:
    at_s: float
    elder: str
    action: str
    says: str


STORY: Final = (
    Beat(5, "wang", "press", "王秀英按下了紧急呼叫按钮"),
    Beat(12, "li", "gas_leak", "李建国家厨房燃气泄漏（25% LEL）"),
    Beat(20, "li", "worker_acks", "刘网格员在App里确认：正在处理燃气报警"),
    Beat(25, "zhang", "smoke_on", "张桂兰家客厅烟雾报警"),
    Beat(40, "zhang", "smoke_off", "烟雾散去"),
    Beat(45, "zhao", "stop_moving", "赵福生不再走动（也许摔倒了）"),
    Beat(50, "wang", "family_replies", "王丽回复短信“收到”"),
    Beat(55, "li", "power_cut", "李建国家的烟雾报警器断电"),
    Beat(70, "zhang", "worker_resolves", "刘网格员处理完烟雾报警：误报"),
)
