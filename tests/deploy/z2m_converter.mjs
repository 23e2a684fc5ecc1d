// Runs an external converter file the way Zigbee2MQTT loads one (its source evaluated
// with `require` and `module` in a fresh context), checks that it is a definition Zigbee2MQTT
// would accept, and prints what its fromZigbee converter publishes for each IAS zone
// status given on the command line, one JSON object a line:
//   node run-converter.mjs heiman-hs1cg-e.js 0 2 34
// The one module a converter may ask for, zigbee-herdsman-converters' `exposes`, is
// stood in for by a table of the expose names it asks for: Zigbee2MQTT provides the real one.
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import vm from "node:vm";

const [file, ...statuses] = process.argv.slice(2);
const asked = [];
const presets = new Proxy({}, {get: (_, name) => () => (asked.push(name), {name})});
const modules = {"zigbee-herdsman-converters/lib/exposes": {presets, access: {}}};
const sandbox = {
    module: {exports: {}},
    require: (name) => {
        assert.ok(name in modules, `the converter needs ${name}, which Zigbee2MQTT may not provide`);
        return modules[name];
    },
};
vm.runInNewContext(readFileSync(file, "utf8"), sandbox, {filename: file});
const definition = sandbox.module.exports;

// What zigbee-herdsman-converters checks of an external definition (validateDefinition).
for (const field of ["model", "vendor", "description"]) assert.equal(typeof definition[field], "string");
assert.ok(Array.isArray(definition.fromZigbee) && Array.isArray(definition.toZigbee));
assert.ok(Array.isArray(definition.exposes) && !definition.exposes.includes(undefined));
assert.ok(Array.isArray(definition.zigbeeModel));

const converters = definition.fromZigbee.filter(
    (c) => c.cluster === "ssIasZone" && [c.type].flat().includes("commandStatusChangeNotification"),
);
assert.equal(converters.length, 1, "one converter for IAS zone status changes");
console.log(JSON.stringify({zigbeeModel: definition.zigbeeModel, model: definition.model, exposes: asked}));
for (const status of statuses) {
    const msg = {data: {zonestatus: Number(status), extendedstatus: 0}, endpoint: {ID: 1}};
    const published = converters[0].convert(definition, msg, () => {}, {}, {state: {}});
    console.log(JSON.stringify({zonestatus: Number(status), published}));
}
