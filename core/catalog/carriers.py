"""Models behind carrier IoT platforms (CTWing, OneNET, Huawei IoTDA): their coded
values, as the public parsers and vendor documents give them (see each row's source)."""

from typing import Final

from core.catalog import Meaning, Model, Scaled, Transport
from core.types import DeviceType, EventKind

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
#   restored" code, `f` (报警恢复): an alarm_clear event with smoke = false.
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

MODELS: Final[tuple[Model, ...]] = (WANLIN_NB306,)
