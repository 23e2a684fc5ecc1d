// Zigbee2MQTT external converter for the Heiman HS1CG-E combustible gas detector
// (Zigbee model "GASSensor-EM").
//
// Why: the detector signals a gas alarm on IAS zone-status bit 1 (Alarm2), but the stock
// definition reads bit 0 (fz.ias_gas_alarm_1), so stock Zigbee2MQTT publishes
// `gas: false` during a real alarm (Koenkk/zigbee2mqtt#9318, #16202, #23070, #28895:
// zone status 34 = bits 1 and 5 while the test button sounds the alarm). This definition
// replaces it for that model only; it publishes the same keys as the stock one (`gas`,
// `tamper`, `battery_low`), so nothing else changes for the platform.
//
// `gas` is bit 1 OR bit 0: bit 1 is where this detector alarms; bit 0 is where the rest of
// Heiman's IAS gas detectors do, kept so that a unit whose firmware follows them is not
// missed either. A spurious alarm costs a phone call, a missed one may cost a life.
//
// Install (then restart Zigbee2MQTT and look for "Loaded external converter" in its log):
//   Zigbee2MQTT 2.x: copy this file into data/external_converters/
//   Zigbee2MQTT 1.x: copy it into data/ and add to configuration.yaml
//       external_converters:
//         - heiman-hs1cg-e.js
// Then press the detector's test button: the device's state must show `gas: true`.
// Register the device in nuanxin with the mitigation "z2m-external-converter-gas-bit1".

const {presets: e} = require("zigbee-herdsman-converters/lib/exposes");

const ALARM1 = 1 << 0;
const ALARM2 = 1 << 1;
const TAMPER = 1 << 2;
const BATTERY_LOW = 1 << 3;

const iasGasAlarmBit1 = {
    cluster: "ssIasZone",
    type: "commandStatusChangeNotification",
    convert: (model, msg, publish, options, meta) => {
        const zoneStatus = msg.data.zonestatus;
        return {
            gas: (zoneStatus & (ALARM1 | ALARM2)) > 0,
            tamper: (zoneStatus & TAMPER) > 0,
            battery_low: (zoneStatus & BATTERY_LOW) > 0,
        };
    },
};

module.exports = {
    zigbeeModel: ["GASSensor-EM", "358e4e3e03c644709905034dae81433e"],
    model: "HS1CG-E",
    vendor: "Heiman",
    description: "Combustible gas sensor (gas alarm read from zone-status bit 1)",
    fromZigbee: [iasGasAlarmBit1],
    toZigbee: [],
    exposes: [e.gas(), e.battery_low(), e.tamper()],
};
