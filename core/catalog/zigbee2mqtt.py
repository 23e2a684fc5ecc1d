"""Zigbee models behind a Zigbee2MQTT gateway, from their converter definitions
(Koenkk/zigbee-herdsman-converters, src/devices/<vendor>.ts, and the converters they use
in src/converters/fromZigbee.ts, src/lib/lumi.ts, src/lib/tuya.ts).

`fields` lists the keys a model's converter publishes that the adapter must read in a way
of their own (a key it does not list goes through the adapter's generic table): a field
with a scale into our unit, or `Scaled(None)` to keep a key in `extra` on purpose. Units
are the converter's `exposes` units.
"""

from typing import Final

from core.catalog import Model, Quirk, Scaled, Transport
from core.types import DeviceType

_Z2M = "Koenkk/zigbee-herdsman-converters src/devices/"

# The converter shipped in deploy/zigbee2mqtt/ for the HS1CG-E; its code is what a
# device's registration lists in `mitigations` once the converter is installed.
HS1CG_E_CONVERTER: Final = "deploy/zigbee2mqtt/heiman-hs1cg-e.js"

HS1CG_E_GAS_BIT = Quirk(
    code="z2m-external-converter-gas-bit1",
    summary=(
        "Heiman HS1CG-E (GASSensor-EM) signals gas on IAS zone-status bit 1; stock "
        "Zigbee2MQTT reads bit 0 (fz.ias_gas_alarm_1), so it publishes gas: false during "
        "a real gas alarm and no alert can open."
    ),
    mitigation=(
        f"Install {HS1CG_E_CONVERTER} as a Zigbee2MQTT external converter (2.x: copy it "
        "into data/external_converters/; 1.x: copy it into data/ and list it under "
        "external_converters in configuration.yaml), restart Zigbee2MQTT, check that the "
        "log says the converter was loaded, press the detector's test button and see "
        "gas: true; then register the device with this mitigation listed."
    ),
    summary_zh=(
        "海曼 HS1CG-E（GASSensor-EM）用 IAS 区域状态的第 1 位报告燃气报警，而标准 "
        "Zigbee2MQTT 读取的是第 0 位（fz.ias_gas_alarm_1）：真实燃气报警时它发布 "
        "gas: false，任何告警都无法触发。"
    ),
    mitigation_zh=(
        f"将 {HS1CG_E_CONVERTER} 安装为 Zigbee2MQTT 外部转换器（2.x：复制到 "
        "data/external_converters/；1.x：复制到 data/，并在 configuration.yaml 的 "
        "external_converters 中列出），重启 Zigbee2MQTT，确认日志显示转换器已加载，"
        "按下报警器的测试按钮，看到 gas: true；然后在设备登记中列出此处理项。"
    ),
    references=(
        "Koenkk/zigbee2mqtt#9318",
        "Koenkk/zigbee2mqtt#16202",
        "Koenkk/zigbee2mqtt#23070",
        "Koenkk/zigbee2mqtt#28895",
    ),
)

MODELS: Final[tuple[Model, ...]] = (
    Model(
        key="heiman-hs1sa",
        vendor="Heiman",
        model="HS1SA",
        kind=DeviceType.SMOKE,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts (HS3SA/HS1SA: fz.ias_smoke_alarm_1, fz.battery)",
        fixture="zigbee2mqtt/heiman_HS1SA.json",
        model_ids=("SmokeSensor-N", "SmokeSensor-EM"),
    ),
    Model(
        key="heiman-hs1cg",
        vendor="Heiman",
        model="HS1CG",
        kind=DeviceType.GAS,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts (fz.ias_gas_alarm_1)",
        fixture="zigbee2mqtt/heiman_HS1CG.json",
        model_ids=("RH3070",),
        mains_powered=True,
    ),
    Model(
        key="heiman-hs1cg-e",
        vendor="Heiman",
        model="HS1CG-E",
        kind=DeviceType.GAS,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts (stock: fz.ias_gas_alarm_1, gas on bit 0)",
        fixture="zigbee2mqtt/heiman_HS1CG-E.json",
        model_ids=("GASSensor-EM", "358e4e3e03c644709905034dae81433e"),
        quirks=(HS1CG_E_GAS_BIT,),
        mains_powered=True,
        notes=(
            "Decoded like any IAS gas detector once the shipped external converter "
            "publishes gas from bit 1; without it no gas alarm ever arrives."
        ),
    ),
    Model(
        key="heiman-hs1eb",
        vendor="Heiman",
        model="HS1EB",
        kind=DeviceType.EMERGENCY_BUTTON,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "heiman.ts (HS1EB/HS1EB-E: fz.command_status_change_notification_action)",
        fixture="zigbee2mqtt/heiman_HS1EB.json",
        model_ids=("SOS-EM",),
    ),
    Model(
        key="aqara-rtcgq11lm",
        vendor="Aqara",
        model="RTCGQ11LM",
        kind=DeviceType.PIR,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "lumi.ts (lumi_basic, fz.occupancy_with_timeout, lumi_illuminance)",
        fixture="zigbee2mqtt/aqara_RTCGQ11LM.json",
        model_ids=("lumi.sensor_motion.aq2",),
    ),
    Model(
        key="tuya-zg-204zm",
        vendor="Tuya",
        model="ZG-204ZM",
        kind=DeviceType.PIR,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "tuya.ts (tuyaBase dp 1 presence, dp 101 motion_state, dp 106 illuminance)",
        fixture="zigbee2mqtt/tuya_ZG-204ZM.json",
        model_ids=(
            "ZG-204ZM",
            "AY205Z",
            "_TZE200_2aaelwxk",
            "_TZE200_kb5noeto",
            "_TZE200_tyffvoij",
            "_TZE200_yflzeeqj",
        ),
        # mmWave radar + PIR: `presence` stays true while someone sits or sleeps still, so
        # it is the activity signal; it publishes no `occupancy`.
        fields={"presence": Scaled("motion"), "illuminance": Scaled("illuminance", unit="lx")},
        notes="presence (radar + PIR) counts as motion for the inactivity rule.",
    ),
    Model(
        key="tuya-zg-205z",
        vendor="Tuya",
        model="ZG-205Z",
        kind=DeviceType.PIR,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "tuya.ts (dp 1: presence_state none/presence/peaceful/small_movement/"
        "large_movement, and presence = not none)",
        fixture="zigbee2mqtt/tuya_ZG-205Z.json",
        model_ids=("_TZE204_dapwryy7",),
        # presence_state is read by the generic table; converters of Aug 2025 left
        # `presence` null (Koenkk/zigbee2mqtt#28464, #28467), and then it stands in.
        notes=(
            "5.8 GHz radar; presence_state (any word but none) counts as motion, also "
            "when a converter leaves presence null."
        ),
        mains_powered=True,
    ),
    Model(
        key="tuya-zy-m100-24g",
        vendor="Tuya",
        model="ZY-M100-24G",
        kind=DeviceType.PIR,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "tuya.ts (ZY-M100-24G/V2/V3: state none/presence/move, dp 112/104 presence)",
        fixture="zigbee2mqtt/tuya_ZY-M100-24G.json",
        model_ids=(
            "ZY-M100-24GV2",
            "ZY-M100-24GV3",
            "_TZE204_ijxvkhd0",
            "_TZE204_7gclukjs",
            "_TZE204_ya4ft0w4",
            "_TZE200_ya4ft0w4",
            "_TZE204_gkfbdvyx",
            "_TZE200_gkfbdvyx",
        ),
        # `state` is this radar's presence word (a separate datapoint from `presence`, so
        # a message may bring only it); for other models `state` means something else.
        fields={"state": Scaled("motion")},
        mains_powered=True,
        notes='state "presence" or "move" counts as motion, "none" as nobody.',
    ),
    Model(
        key="aqara-rtczcgq11lm",
        vendor="Aqara",
        model="RTCZCGQ11LM",
        kind=DeviceType.PIR,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "lumi.ts (FP1: lumi_specific, lumi_presence_region_events)",
        fixture="zigbee2mqtt/aqara_RTCZCGQ11LM.json",
        model_ids=("lumi.motion.ac01",),
        fields={
            "presence": Scaled("motion"),
            # Region events ("region_1_enter"), not button presses: kept as they are.
            "action": Scaled(None),
            "device_temperature": Scaled(None, unit="°C (chip)"),
        },
        mains_powered=True,
        notes="USB powered mmWave presence sensor; presence null (unknown) is ignored.",
    ),
    Model(
        key="aqara-jt-bz-01aq-a",
        vendor="Aqara",
        model="JT-BZ-01AQ/A",
        kind=DeviceType.GAS,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "lumi.ts (lumi_specific: gas, gas_density %LEL, state work/preparation)",
        fixture="zigbee2mqtt/aqara_JT-BZ-01AQ-A.json",
        model_ids=("lumi.sensor_gas.acn02",),
        fields={"gas_density": Scaled("gas_lel", unit="%LEL")},
        # The converter: "measurement of the gas concentration value and triggering of an
        # alarm are only performed in the work state".
        not_measuring={"state": ("preparation",)},
        mains_powered=True,
        notes=(
            'state "preparation" (warming up after power-on) is not a measurement: its '
            "gas and gas_density are kept in extra, never read as all-clear."
        ),
    ),
    Model(
        key="tuya-ts0601-gas-sensor-2",
        vendor="Tuya",
        model="TS0601_gas_sensor_2",
        kind=DeviceType.GAS,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "tuya.ts (dp 1 gas, dp 2 gas_value divideBy10 in LEL, dp 10 preheat)",
        fixture="zigbee2mqtt/tuya_TS0601_gas_sensor_2.json",
        model_ids=(
            "_TZE200_yojqa8xn",
            "_TZE204_zougpkpy",
            "_TZE204_chbyv06x",
            "_TZE204_yojqa8xn",
            "_TZE284_chbyv06x",
            "_TZE28C1000000_chbyv06x",
        ),
        # Published already divided by 10, in % LEL (the expose's unit "LEL"): scale 1.
        fields={"gas_value": Scaled("gas_lel", unit="%LEL")},
        not_measuring={"preheat": (True,)},
        mains_powered=True,
        notes="preheat true (warming up) is not a measurement, like Aqara's preparation.",
    ),
    Model(
        key="aqara-wxkg11lm",
        vendor="Aqara",
        model="WXKG11LM",
        kind=DeviceType.EMERGENCY_BUTTON,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "lumi.ts (lumi_action_multistate, lumi_action, lumi_basic)",
        fixture="zigbee2mqtt/aqara_WXKG11LM.json",
        model_ids=("lumi.sensor_switch.aq2", "lumi.remote.b1acn01"),
        # lumi_basic attribute 3 is the chip's own temperature: `temperature` before
        # converters of May 2022 (#4275), `device_temperature` since. Never the room's.
        fields={
            "temperature": Scaled(None, unit="°C (chip)"),
            "device_temperature": Scaled(None, unit="°C (chip)"),
        },
        notes="A wireless mini switch used as an emergency button; release is not a press.",
    ),
    Model(
        key="feibit-seb01zb",
        vendor="Feibit",
        model="SEB01ZB",
        kind=DeviceType.EMERGENCY_BUTTON,
        transport=Transport.ZIGBEE2MQTT,
        source=_Z2M + "feibit.ts (fz.ias_sos_alarm_2)",
        fixture="zigbee2mqtt/feibit_SEB01ZB.json",
        model_ids=("FNB56-SOS03FB1.5",),
    ),
)
