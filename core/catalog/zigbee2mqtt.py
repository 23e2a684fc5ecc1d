"""Zigbee models behind a Zigbee2MQTT gateway, from their converter definitions
(Koenkk/zigbee-herdsman-converters, src/devices/<vendor>.ts)."""

from typing import Final

from core.catalog import Model, Transport
from core.types import DeviceType

_Z2M = "Koenkk/zigbee-herdsman-converters src/devices/"

MODELS: Final[tuple[Model, ...]] = (
    Model(
        key="heiman-hs1sa",
        vendor="Heiman",
        model="HS1SA",
        kind=DeviceType.SMOKE,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts",
        fixture="zigbee2mqtt/heiman_HS1SA.json",
        model_ids=("SmokeSensor-N", "SmokeSensor-EM"),
    ),
    Model(
        key="heiman-hs1cg",
        vendor="Heiman",
        model="HS1CG",
        kind=DeviceType.GAS,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts",
        fixture="zigbee2mqtt/heiman_HS1CG.json",
        model_ids=("RH3070",),
        mains_powered=True,
    ),
    Model(
        key="heiman-hs1eb",
        vendor="Heiman",
        model="HS1EB",
        kind=DeviceType.EMERGENCY_BUTTON,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts",
        fixture="zigbee2mqtt/heiman_HS1EB.json",
        model_ids=("SOS-EM",),
    ),
    Model(
        key="aqara-rtcgq11lm",
        vendor="Aqara",
        model="RTCGQ11LM",
        kind=DeviceType.PIR,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "xiaomi.ts",
        fixture="zigbee2mqtt/aqara_RTCGQ11LM.json",
        model_ids=("lumi.sensor_motion.aq2",),
    ),
    Model(
        key="feibit-seb01zb",
        vendor="Feibit",
        model="SEB01ZB",
        kind=DeviceType.EMERGENCY_BUTTON,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "feibit.ts",
        fixture="zigbee2mqtt/feibit_SEB01ZB.json",
        model_ids=("FNB56-SOS03FB1.5",),
    ),
)
