"""Models behind carrier IoT platforms (CTWing, OneNET, Huawei IoTDA): their coded
values, as the public parsers and vendor documents give them (see each row's source).

How a code becomes an alert is decided here, per value, with the reason beside it:
- an alarm code raises the alarm flag (`smoke`/`gas`) *and* an `alarm` event, so the
  alarm is a stored event even when the flag was already up;
- a "normal" code lowers the flag: the flag signals only when it changes, so the routine
  "normal" of every heartbeat clears an open alert's condition once and floods nothing;
- a "muted" (silenced) code changes nothing: silencing the sounder is not the smoke
  going away, so an open alert must not be cleared by it;
- a test alarm is the installer's proof (`self_test`), never a fire.

When a code may clear a condition. A cleared condition is written on the open alert
("smoke gone") for the worker on the way; the alert itself stays open until a person
closes it. So only a code in which the detector itself says that it no longer senses
smoke or gas clears; a code that says only that the device is alive never does:
- LiAn `Alarm_Status` is the detector's alarm state, sent in every report: 1 while it
  alarms, 2 while it alarms silenced, 7 ("normal") once its chamber no longer sees smoke.
  7 is that statement, and LiAn has no other "alarm over" code, so 7 clears. (12 "online"
  is a report that the device joined the network, not a state: it clears nothing.)
- Siterwell `gas_sensor_state` is likewise a state: 0 ("normal") clears.
- Wanlin `devState` 0 is not a state but the kind of report — a scheduled heartbeat,
  sent whatever the chamber sees; the detector says "alarm over" with its own code `f`
  (报警恢复). So 0 clears nothing and `f` clears (see the row's comments below).
tests/core/test_catalog.py pins which codes clear, so that a new row decides it on
purpose.
"""

from typing import Final

from core.catalog import Meaning, Model, Scaled, Transport
from core.types import DeviceType, EventKind

# LiAn (力安) NB-IoT smoke detector on CTWing: thing-model `serviceData` keys.
LIAN_ALARM_STATUS: Final = {
    1: Meaning(EventKind.ALARM, {"smoke": True}, "alarm (报警)"),
    # Muted: the occupant pressed silence; smoke may still be there. No clear.
    2: Meaning(None, {}, "muted (消音)"),
    4: Meaning(EventKind.LOW_BATTERY, {"battery_low": True}, "low voltage (低电压)"),
    5: Meaning(EventKind.FAULT, {}, "fault (故障)"),
    # The detector reports its own readings as invalid: it cannot be trusted to detect.
    6: Meaning(EventKind.FAULT, {}, "data error (数据异常)"),
    # Normal: the detector's own statement that it no longer senses smoke (its state, not
    # a heartbeat code: see the module docstring). Lowers the smoke flag, which clears an
    # open smoke alert's condition once.
    7: Meaning(None, {"smoke": False}, "normal (正常)"),
    10: Meaning(EventKind.TAMPER, {"tamper": True}, "tamper: removed from its base (防拆)"),
    11: Meaning(None, {"tamper": False}, "tamper restored (防拆恢复)"),
    12: Meaning(None, {}, "online (上线)"),  # joined the network: says nothing of smoke
    # The installer's test button: the commissioning proof, not a fire.
    14: Meaning(EventKind.SELF_TEST, {}, "test alarm (测试报警)"),
}

# Siterwell (赛特威尔) NB-IoT gas detector: `gas_sensor_state`.
SITERWELL_GAS_SENSOR_STATE: Final = {
    0: Meaning(None, {"gas": False}, "normal (正常)"),
    1: Meaning(EventKind.ALARM, {"gas": True}, "low-concentration alarm (低浓度报警)"),
    2: Meaning(EventKind.ALARM, {"gas": True}, "high-concentration alarm (高浓度报警)"),
}

_PUSHED: Final[tuple[Model, ...]] = (
    Model(
        key="lian-nb-smoke",
        vendor="LiAn (力安)",
        model="LiAn NB-IoT smoke detector",
        kind=DeviceType.SMOKE,
        transport=Transport.CTWING,
        source=(
            "public CTWing parsers of LiAn NB smoke detectors (thing model serviceData:"
            " Alarm_Status, Battery_Level, RSRP, SNR, CSQ); CTWing AEP HTTP push dataReport"
        ),
        fixture="ctwing/lian_nb_smoke.json",
        fields={
            "Battery_Level": Scaled("battery", unit="%"),
            "RSRP": Scaled("rssi", unit="dBm"),  # NB-IoT's signal power is its RSSI for us
            "SNR": Scaled(None, unit="dB"),
            "CSQ": Scaled(None),
        },
        codes={"Alarm_Status": LIAN_ALARM_STATUS},
        notes="Alarm_Status 2 (muted) never clears an alert; 14 (test) commissions it.",
    ),
    Model(
        key="siterwell-nb-gas",
        vendor="Siterwell (赛特威尔)",
        model="Siterwell NB-IoT gas detector",
        kind=DeviceType.GAS,
        transport=Transport.ONENET,
        source=(
            "public parsers of Siterwell NB gas detectors (gas_sensor_state 0/1/2); the"
            " platform is not named in them: rowed on OneNET (data point ds_id ="
            " property name); unconfirmed for other carriers"
        ),
        fixture="onenet/siterwell_nb_gas.json",
        codes={"gas_sensor_state": SITERWELL_GAS_SENSOR_STATE},
        notes="Both alarm levels open the gas alert; 0 (normal) clears its condition.",
    ),
)

# Wanlin (万林) NB306 NB-IoT smoke detector on Huawei IoTDA, service "Report".
#
# `devState` is the detector's state at the time of the report. What each code means for
# an alert, and why:
# - 1 fire → an alarm event with smoke = true: the smoke alert opens (critical, a visit).
# - 2 over-temperature → an alarm event without smoke: a heat alarm in an elder's home
#   needs a person as much as smoke does, so it opens the same critical alert; the
#   event's detail says it was heat, not smoke.
# - 3 removed from its base → tamper; 4 low voltage → low battery (maintenance);
#   5 self-test → the installation proof, no alert.
# - 0 heartbeat → nothing. It is NOT a clear: a heartbeat is sent on the device's
#   schedule whatever happened before, and the public parser gives no sign that a
#   heartbeat after a fire means the smoke is gone (the detector may have been taken
#   down, or its battery be failing). Clearing on it would tell a worker on the way that
#   the danger is over when nobody knows that. The clear is the detector's own "alarm
#   restored" code, `f` (报警恢复): an alarm_clear event with smoke = false. (LiAn's
#   `Alarm_Status` 7 does clear: it is the detector's alarm state saying "normal", and
#   LiAn has no separate restore code; see the module docstring.)
_WANLIN_DEV_STATE: Final = {
    0: Meaning(detail="heartbeat (心跳)"),
    1: Meaning(EventKind.ALARM, {"smoke": True}, "fire (发生火警)"),
    2: Meaning(EventKind.ALARM, detail="over-temperature (温度过高)"),
    3: Meaning(EventKind.TAMPER, detail="removed from its base (设备被拆)"),
    4: Meaning(EventKind.LOW_BATTERY, {"battery_low": True}, "low voltage (低电)"),
    5: Meaning(EventKind.SELF_TEST, detail="self-test (测试)"),
    "f": Meaning(EventKind.ALARM_CLEAR, {"smoke": False}, "alarm restored (报警恢复)"),
    "F": Meaning(EventKind.ALARM_CLEAR, {"smoke": False}, "alarm restored (报警恢复)"),
}

WANLIN_NB306: Final = Model(
    key="wanlin-nb306",
    vendor="Wanlin (万林)",
    model="NB306",
    kind=DeviceType.SMOKE,
    transport=Transport.IOTDA,
    source=(
        "public parser wanghanhong/springcloud_alibaba device-manage/device-message"
        " parse/fire/smoke/wanlinnb306 (DeviceWanlinEntity, WanlinSmokeParseStrategy:"
        " service Report, devState, electricQuantity, temperature, signal, cmdValue,"
        " smokescope, devId)"
    ),
    fixture="iotda/wanlin_NB306.json",
    fields={
        "electricQuantity": Scaled("battery", unit="%"),
        "temperature": Scaled("temperature", 0.1, "0.1 °C"),  # 219 → 21.9 °C
        "smokescope": Scaled("smoke_density", unit="vendor units (unconfirmed)"),
        # A signal level (0–31-like, CSQ), not dBm: kept in extra, not in rssi.
        "signal": Scaled(None, unit="level"),
    },
    codes={"devState": _WANLIN_DEV_STATE},
    heartbeat_s=86400,
    notes=(
        "NB-IoT in power-saving mode reports about once a day (heartbeat unconfirmed: set"
        " the device's heartbeat to what the installer's console shows). `cmdValue` (2"
        " login, 10 event, 7 reset, f restored) and `devId` are kept in extra."
    ),
)

MODELS: Final[tuple[Model, ...]] = (*_PUSHED, WANLIN_NB306)
