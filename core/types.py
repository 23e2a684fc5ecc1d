"""Domain vocabulary shared by every component. The database CHECK constraints list the
same values; a test keeps the two in step."""

from enum import StrEnum

# A device's id is its MQTT username and a topic level: nuanxin/v1/{device_id}/…
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"


class DeviceType(StrEnum):
    EMERGENCY_BUTTON = "emergency_button"
    SMOKE = "smoke"
    GAS = "gas"
    PIR = "pir"


class DeviceLifecycle(StrEnum):
    """registered → commissioned → maintenance → decommissioned."""

    REGISTERED = "registered"
    COMMISSIONED = "commissioned"
    MAINTENANCE = "maintenance"
    DECOMMISSIONED = "decommissioned"


class EventKind(StrEnum):
    BUTTON_PRESS = "button_press"
    ALARM = "alarm"
    ALARM_CLEAR = "alarm_clear"
    TAMPER = "tamper"
    SELF_TEST = "self_test"
    FAULT = "fault"
    LOW_BATTERY = "low_battery"
