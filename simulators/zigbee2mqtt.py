"""A Zigbee2MQTT bridge with simulated off-the-shelf sensors, publishing as the real one:

    {base}/bridge/state          retained; the gateway's will sets it offline
    {base}/{name}/availability   retained; `{"state":"online"}` (2.x) or the plain word (1.x
                                 and `legacy_availability_payload`)
    {base}/{name}                the device's WHOLE cached state, keys sorted
                                 (json-stable-stringify), plus `linkquality`, and
                                 `last_seen` when the gateway has it enabled

A device model is a row in MODELS, with the keys and idle values its converter publishes
(tests/fixtures/payloads/zigbee2mqtt/ documents each). `action` is never cached
(Zigbee2MQTT's CACHE_IGNORE_PROPERTIES), so it appears only in the message of the press.

The real bridge publishes with QoS 0 unless a device's `qos` option says otherwise; this
one uses QoS 1 so that tests can count on every message arriving.
"""

import random
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Self

from core.types import DeviceType
from simulators.devices import LOW_BATTERY_BELOW, Power, UnsupportedTrigger
from simulators.mqtt import (
    Connection,
    Endpoint,
    NotConnected,
    Published,
    Ticker,
    Will,
    encode,
    shanghai_now,
)

DEFAULT_BASE_TOPIC: Final = "zigbee2mqtt"
ONLINE: Final = "online"
OFFLINE: Final = "offline"


@dataclass(frozen=True, slots=True)
class Z2mModel:
    vendor: str
    model: str
    device_type: DeviceType
    power: Power
    state: Mapping[str, Any]  # the cached keys the converter publishes, idle values
    press: Mapping[str, Any] | None = None  # what a press publishes on top of the state


MODELS: Final[Mapping[str, Z2mModel]] = MappingProxyType(
    {
        # fz.ias_smoke_alarm_1 + fz.battery
        "HS1SA": Z2mModel(
            "Heiman",
            "HS1SA",
            DeviceType.SMOKE,
            Power.BATTERY,
            {
                "ac_status": False,
                "battery": 100,
                "battery_defect": False,
                "battery_low": False,
                "restore_reports": True,
                "smoke": False,
                "supervision_reports": True,
                "tamper": False,
                "test": False,
                "trouble": False,
            },
        ),
        # fz.ias_gas_alarm_1; mains powered: no battery percentage
        "HS1CG": Z2mModel(
            "Heiman",
            "HS1CG",
            DeviceType.GAS,
            Power.MAINS,
            {"battery_low": False, "gas": False, "tamper": False},
        ),
        # fz.command_status_change_notification_action + fz.battery: the press is `action`
        "HS1EB": Z2mModel(
            "Heiman",
            "HS1EB",
            DeviceType.EMERGENCY_BUTTON,
            Power.BATTERY,
            {"battery": 100},
            press={"action": "single"},
        ),
        # fz.ias_sos_alarm_2 + fz.battery: the press is the cached `sos` flag
        "SEB01ZB": Z2mModel(
            "Feibit",
            "SEB01ZB",
            DeviceType.EMERGENCY_BUTTON,
            Power.BATTERY,
            {"battery": 100, "battery_low": False, "sos": False, "tamper": False},
            press={"sos": True},
        ),
        # ours (deploy/zigbee2mqtt/heiman-hs1cg-e.js): the stock keys, gas from bit 1
        "HS1CG-E": Z2mModel(
            "Heiman",
            "HS1CG-E",
            DeviceType.GAS,
            Power.MAINS,
            {"battery_low": False, "gas": False, "tamper": False},
        ),
        # lumi_specific: gas, gas_density (%LEL), state work/preparation, test, buzzer flags
        "JT-BZ-01AQ/A": Z2mModel(
            "Aqara",
            "JT-BZ-01AQ/A",
            DeviceType.GAS,
            Power.MAINS,
            {
                "buzzer_manual_alarm": False,
                "buzzer_manual_mute": False,
                "gas": False,
                "gas_density": 0,
                "gas_sensitivity": "15%LEL",
                "linkage_alarm": False,
                "linkage_alarm_state": False,
                "power_outage_count": 1,
                "state": "work",
                "test": False,
            },
        ),
        # tuya datapoints: gas, gas_value (% LEL), preheat, self_test, silence, …
        "TS0601_gas_sensor_2": Z2mModel(
            "Tuya",
            "TS0601_gas_sensor_2",
            DeviceType.GAS,
            Power.MAINS,
            {
                "alarm_ringtone": "melody_1",
                "alarm_time": 15,
                "gas": False,
                "gas_value": 0,
                "preheat": False,
                "self_test": False,
                "self_test_result": "success",
                "silence": False,
            },
        ),
        # tuya datapoints: presence (radar + PIR), motion_state, illuminance, battery
        "ZG-204ZM": Z2mModel(
            "Tuya",
            "ZG-204ZM",
            DeviceType.PIR,
            Power.BATTERY,
            {
                "battery": 100,
                "fading_time": 30,
                "illuminance": 40,
                "indicator": "ON",
                "motion_detection_mode": "pir_and_radar",
                "motion_detection_sensitivity": 7,
                "motion_state": "none",
                "presence": False,
                "static_detection_distance": 4,
                "static_detection_sensitivity": 7,
            },
        ),
        # tuya datapoints: dp 1 presence_state and presence, target_distance, illuminance
        "ZG-205Z": Z2mModel(
            "Tuya",
            "ZG-205Z",
            DeviceType.PIR,
            Power.MAINS,
            {
                "illuminance": 40,
                "indicator": "ON",
                "none_delay_time": 30,
                "presence": False,
                "presence_state": "none",
                "target_distance": 0,
            },
        ),
        # tuya datapoints: state none/presence/move, presence, distance, illuminance
        "ZY-M100-24G": Z2mModel(
            "Tuya",
            "ZY-M100-24G",
            DeviceType.PIR,
            Power.MAINS,
            {
                "distance": 0,
                "illuminance": 120,
                "presence": False,
                "presence_sensitivity": 7,
                "presence_timeout": 30,
                "state": "none",
            },
        ),
        # lumi_specific (FP1, USB powered): presence, presence_event, chip temperature
        "RTCZCGQ11LM": Z2mModel(
            "Aqara",
            "RTCZCGQ11LM",
            DeviceType.PIR,
            Power.MAINS,
            {
                "approach_distance": "near",
                "device_temperature": 31,
                "monitoring_mode": "undirected",
                "motion_sensitivity": "high",
                "power_outage_count": 1,
                "presence": False,
            },
        ),
        # lumi_action_multistate, lumi_action, lumi_basic (2.x: device_temperature)
        "WXKG11LM": Z2mModel(
            "Aqara",
            "WXKG11LM",
            DeviceType.EMERGENCY_BUTTON,
            Power.BATTERY,
            {"battery": 100, "device_temperature": 24, "power_outage_count": 1, "voltage": 3035},
            press={"action": "single"},
        ),
        # lumi_basic, occupancy_with_timeout, lumi_illuminance (2.x keys: no illuminance_lux)
        "RTCGQ11LM": Z2mModel(
            "Aqara",
            "RTCGQ11LM",
            DeviceType.PIR,
            Power.BATTERY,
            {
                "battery": 100,
                "device_temperature": 27,
                "illuminance": 132,
                "occupancy": False,
                "power_outage_count": 12,
                "voltage": 3025,
            },
        ),
    }
)


# Zigbee2MQTT's own rules (lib/util/utils.ts, validateFriendlyName): a name it would refuse
# must not reach the adapter's tests as if it were real.
NAME_RULES: Final[tuple[tuple[str, Callable[[str], bool]], ...]] = (
    ("is empty", lambda name: not name),
    ("starts or ends with /", lambda name: name.startswith("/") or name.endswith("/")),
    ("ends with /DIGIT", lambda name: re.search(r"/\d*$", name) is not None),
    ("holds an MQTT wildcard", lambda name: "+" in name or "#" in name),
    ("holds a control character", lambda name: any(unicodedata.category(c) == "Cc" for c in name)),
)


def check_friendly_name(name: str) -> str:
    for problem, broken in NAME_RULES:
        if broken(name):
            raise ValueError(f"friendly name {name!r} {problem}")
    return name


class ZigbeeDevice:
    """One paired device; its triggers change the cached state and publish all of it."""

    def __init__(self, gateway: "Zigbee2MqttGateway", name: str, model: Z2mModel) -> None:
        self.gateway, self.name, self.model = gateway, name, model
        self.state: dict[str, Any] = dict(model.state)
        self._link = random.Random(name)  # linkquality varies, reproducibly

    @property
    def topic(self) -> str:
        return f"{self.gateway.base_topic}/{self.name}"

    def report(self, **changes: Any) -> Published:
        """Update cached keys (a converter's output) and publish the whole state."""
        return self.gateway.publish_state(self, changes)

    def smoke(self, on: bool) -> Published:
        return self.report(**self._keys(smoke=on))

    def gas(self, on: bool) -> Published:
        return self.report(**self._keys(gas=on))

    def occupancy(self, on: bool = True) -> Published:
        """Someone there: `occupancy` (PIR) or `presence` (mmWave), whichever it has."""
        key = "presence" if "presence" in self.state else "occupancy"
        return self.report(**self._keys(**{key: on}))

    def tamper(self, on: bool = True) -> Published:
        return self.report(**self._keys(tamper=on))

    def battery(self, percent: float, low: bool | None = None) -> Published:
        changes: dict[str, Any] = {}
        if "battery" in self.state:
            changes["battery"] = percent
        if "battery_low" in self.state:
            changes["battery_low"] = percent < LOW_BATTERY_BELOW if low is None else low
        return self.report(**self._keys(**changes))

    def self_test(self) -> list[Published]:
        """The IAS `test` bit: set while the siren sounds, cleared after."""
        return [self.report(**self._keys(test=True)), self.report(test=False)]

    def press(self) -> list[Published]:
        """An SOS press: an uncached `action`, or a zone flag raised and reset."""
        press = self.model.press
        if press is None:
            raise UnsupportedTrigger(f"{self.model.model} has no button")
        if "action" in press:
            sent = [self.gateway.publish_state(self, {}, transient=dict(press))]
            if self.gateway.action_reset:
                sent.append(self.gateway.publish_state(self, {}, transient={"action": ""}))
            return sent
        reset = {key: not value for key, value in press.items()}
        return [self.report(**press), self.report(**reset)]

    def availability(self, online: bool) -> Published:
        return self.gateway.publish_availability(self, online)

    def linkquality(self) -> int:
        return self._link.randint(60, 150)

    def _keys(self, **changes: Any) -> dict[str, Any]:
        missing = sorted(set(changes) - set(self.state))
        if missing:
            raise UnsupportedTrigger(f"{self.model.model} does not publish {missing}")
        return changes


class Zigbee2MqttGateway:
    """One bridge on one MQTT account; use it as a context manager, or start()/stop().

    `legacy_availability`: plain-word availability and bridge state (Zigbee2MQTT 1.x).
    `last_seen`: add ISO 8601 `last_seen` (UTC) to state messages, from `now`.
    `action_reset`: follow a press with an empty `action`, as 1.x did for Home Assistant.
    `interval_s`: republish every device's state this often (battery reports), if set.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        username: str,
        password: str,
        *,
        base_topic: str = DEFAULT_BASE_TOPIC,
        legacy_availability: bool = False,
        last_seen: bool = False,
        action_reset: bool = False,
        interval_s: float | None = None,
        now: Callable[[], datetime] = shanghai_now,
    ) -> None:
        self.endpoint, self.base_topic, self.now = endpoint, base_topic, now
        self.legacy_availability, self.last_seen = legacy_availability, last_seen
        self.action_reset, self.interval_s = action_reset, interval_s
        self.devices: dict[str, ZigbeeDevice] = {}
        self.published: list[Published] = []
        self._username, self._password = username, password
        self._connection: Connection | None = None
        self._session_start = 0
        self._lock = threading.RLock()
        self._ticker: Ticker | None = None

    def add(self, name: str, model: str) -> ZigbeeDevice:
        """Pair a device under this friendly name; once started, it is announced at once."""
        with self._lock:
            device = ZigbeeDevice(self, check_friendly_name(name), MODELS[model])
            self.devices[name] = device
            if self.connected:
                self._announce(device)
            return device

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Connect with the bridge's will, announce the bridge and every device."""
        with self._lock:
            bridge = f"{self.base_topic}/bridge/state"
            self._connection = Connection(
                self.endpoint, self._username, self._password, will=self._will()
            )
            self._connection.connect()
            self._session_start = len(self.published)  # older messages had other sessions
            self._send(Published(bridge, self._state_word(ONLINE), "bridge", retained=True))
            for device in self.devices.values():
                self._announce(device)
        if self.interval_s:
            self._ticker = Ticker(f"z2m-{self._username}", self.interval_s, self._report_all)

    def stop(self) -> None:
        """A clean shutdown: the bridge says offline, then DISCONNECT."""
        self._stop_ticker()
        if not self.connected or self._connection is None:
            return
        bridge = f"{self.base_topic}/bridge/state"
        with self._lock:
            self._send(Published(bridge, self._state_word(OFFLINE), "bridge", retained=True))
        self.wait_acked()
        self._connection.close()

    def drop(self) -> None:
        """The gateway loses power: the broker publishes its will. What was published
        before is flushed first, so the log is what the broker got."""
        self._stop_ticker()
        with self._lock:
            if not self.connected or self._connection is None:
                return
            self.wait_acked()
            self._connection.drop()
            will = self._will()
            self.published.append(Published(will.topic, will.payload, "will", retained=True))

    def wait_acked(self, timeout_s: float = 5.0) -> None:
        if self._connection is not None:
            session = self.published[self._session_start :]
            infos = [p.info for p in session if p.info is not None]
            self._connection.wait_acked(infos, timeout_s)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- publishing ---------------------------------------------------------------------

    def publish_state(
        self,
        device: ZigbeeDevice,
        changes: Mapping[str, Any],
        *,
        transient: Mapping[str, Any] | None = None,
    ) -> Published:
        """Merge `changes` into the cache and publish it all; `transient` keys go into this
        message only (as `action` does)."""
        with self._lock:
            device.state.update(changes)
            body = {**device.state, **(transient or {}), "linkquality": device.linkquality()}
            if self.last_seen:
                seen = self.now().astimezone(UTC).isoformat(timespec="milliseconds")
                body["last_seen"] = seen.replace("+00:00", "Z")
            payload = encode(body, sort_keys=True)
            return self._send(Published(device.topic, payload, "state"))

    def publish_availability(self, device: ZigbeeDevice, online: bool) -> Published:
        word = ONLINE if online else OFFLINE
        topic = f"{device.topic}/availability"
        with self._lock:
            return self._send(
                Published(topic, self._state_word(word), "availability", retained=True)
            )

    def _will(self) -> Will:
        return Will(f"{self.base_topic}/bridge/state", self._state_word(OFFLINE))

    def _stop_ticker(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()

    def _state_word(self, word: str) -> bytes:
        return word.encode() if self.legacy_availability else encode({"state": word})

    def _announce(self, device: ZigbeeDevice) -> None:
        self.publish_availability(device, True)
        self.publish_state(device, {})

    def _report_all(self) -> bool:
        try:
            for device in list(self.devices.values()):
                self.publish_state(device, {})
        except NotConnected:
            return False
        return True

    def _send(self, message: Published) -> Published:
        if self._connection is None:
            raise NotConnected(f"gateway {self._username} was never started")
        sent = self._connection.send(message)
        self.published.append(sent)
        return sent
