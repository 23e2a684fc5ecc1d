// The installer's flow in an elder's home: choose (or create) the home, register the
// device by typing or scanning its ID — with its model from the catalogue and, for a
// device behind a carrier platform, its platform id and IMEI — read its warnings and the
// MQTT credentials once, run the installation check and watch the device's messages
// arrive until it is commissioned.

import { api, ApiError } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { agoElement } from "../format.js";
import { label, lang, t } from "../i18n.js";
import { icon } from "../icons.js";
import { canScan, deviceIdFrom, startScan } from "../scan.js";

const TYPES = ["emergency_button", "smoke", "gas", "pir"];
const ROOMS = ["客厅", "卧室", "厨房", "卫生间"];
const POLL_MS = 1500;
// Gas detectors hang on the mains; the rest run on batteries (a catalogue model says).
const POWER = { gas: "mains" };
// How a device reaches the platform, and what the installer types for each way in.
const TRANSPORTS = ["native", "zigbee2mqtt", "ctwing", "onenet", "iotda"];
const WAY_IN_FIELDS = {
  native: [],
  zigbee2mqtt: ["zigbee_name"],
  ctwing: ["platform_device_id", "imei"],
  onenet: ["platform_device_id", "imei"],
  iotda: ["platform_device_id", "imei"],
};
const PLATFORMS = new Set(["ctwing", "onenet", "iotda"]);

function field(text, input, hint) {
  return h(
    "label",
    { class: "field" },
    h("span", {}, text),
    input,
    hint ? h("small", { class: "muted" }, hint) : null,
  );
}

function step(name, title, active, ...content) {
  return h(
    "section",
    { class: `card step${active ? " active" : ""}`, dataset: { step: name } },
    h("h2", {}, title),
    ...content,
  );
}

export async function installView(main) {
  const state = { elder: null, device: null, check: null, creating: false, query: "" };
  let poll = 0;
  let scanner = null;
  const root = h("div", { class: "install" });
  main.append(h("div", { class: "view-head" }, h("h1", {}, t("install.title"))), root);
  const [elders, catalogue] = await Promise.all([api("/elders"), api("/catalogue")]);

  let shown = "";
  function render() {
    clear(
      root,
      elderStep(),
      state.elder ? deviceStep() : null,
      state.device ? credentialsStep() : null,
      state.check ? checkStep() : null,
    );
    // a new step (or the check's verdict) comes into view; polling alone does not scroll
    const now = `${state.elder?.id}/${state.device?.device_id}/${state.check?.id}/${state.check?.status}`;
    if (now !== shown && shown) root.lastElementChild?.scrollIntoView({ block: "start" });
    shown = now;
  }

  // --- 1 the home ---------------------------------------------------------------------------

  function elderStep() {
    if (state.elder) {
      return step(
        "elder",
        t("install.step1"),
        false,
        h(
          "div",
          { class: "row chosen" },
          h(
            "div",
            {},
            h("strong", {}, state.elder.name),
            h("div", { class: "muted small" }, state.elder.home.address),
          ),
          h("span", { class: "spacer" }),
          h(
            "button",
            { type: "button", class: "ghost", onclick: () => reset({ elder: null }) },
            t("install.change"),
          ),
        ),
      );
    }
    const search = h("input", {
      type: "search",
      class: "search",
      placeholder: t("elders.search"),
      value: state.query,
    });
    const list = h("ul", { class: "pick-list" });
    const fill = () => {
      state.query = search.value;
      const q = search.value.trim().toLowerCase();
      clear(list);
      for (const elder of elders.filter(
        (e) => !q || e.name.toLowerCase().includes(q) || e.home.address.toLowerCase().includes(q),
      )) {
        list.append(
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "pick",
                dataset: { elderId: elder.id },
                onclick: () => reset({ elder }),
              },
              h("strong", {}, elder.name),
              h("span", { class: "muted small" }, elder.home.address),
            ),
          ),
        );
      }
    };
    search.addEventListener("input", fill);
    fill();
    return step(
      "elder",
      t("install.step1"),
      true,
      search,
      list,
      state.creating
        ? newElderForm()
        : h(
            "button",
            {
              type: "button",
              class: "secondary",
              dataset: { action: "new-home" },
              onclick: () => ((state.creating = true), render()),
            },
            t("install.newhome"),
          ),
    );
  }

  function newElderForm() {
    const community = h("select", { name: "community_id", required: true });
    api("/districts").then((districts) => {
      for (const district of districts) {
        for (const c of district.communities)
          community.append(h("option", { value: c.id }, `${district.name} · ${c.name}`));
      }
    });
    const inputs = {
      name: h("input", { name: "name", required: true, maxLength: 100 }),
      address: h("input", { name: "address", required: true, minLength: 2, maxLength: 300 }),
      access_notes: h("input", { name: "access_notes", maxLength: 1000 }),
      phone: h("input", { name: "phone", type: "tel", inputMode: "tel" }),
      birth_year: h("input", {
        name: "birth_year",
        type: "number",
        min: 1900,
        max: 2100,
        inputMode: "numeric",
      }),
    };
    return h(
      "form",
      {
        class: "new-home",
        onsubmit: async (event) => {
          event.preventDefault();
          const v = Object.fromEntries(
            Object.entries(inputs).map(([k, input]) => [k, input.value.trim()]),
          );
          const body = {
            community_id: Number(community.value),
            name: v.name,
            home: { address: v.address, access_notes: v.access_notes },
            ...(v.phone ? { phone: v.phone } : {}),
            ...(v.birth_year ? { birth_year: Number(v.birth_year) } : {}),
          };
          try {
            const elder = await api("/elders", { method: "POST", body });
            elders.push(elder);
            state.creating = false;
            reset({ elder });
          } catch (error) {
            toast(t("error.generic", { message: error.message }), "error");
          }
        },
      },
      field(t("install.community"), community),
      field(t("install.name"), inputs.name),
      field(t("install.address"), inputs.address),
      field(t("install.access"), inputs.access_notes),
      field(t("install.phone"), inputs.phone),
      field(t("install.birth"), inputs.birth_year),
      h(
        "div",
        { class: "row end" },
        h(
          "button",
          { type: "button", class: "ghost", onclick: () => ((state.creating = false), render()) },
          t("cancel"),
        ),
        h("button", { type: "submit", class: "primary" }, t("install.create")),
      ),
    );
  }

  // --- 2 the device -------------------------------------------------------------------------

  function deviceStep() {
    if (state.device) {
      return step(
        "device",
        t("install.step2"),
        false,
        h(
          "div",
          { class: "row" },
          icon(state.device.device_type),
          h("strong", {}, label("device", state.device.device_type)),
          h("span", { class: "mono" }, ` ${state.device.device_id}`),
        ),
      );
    }
    const types = h(
      "div",
      { class: "types", role: "radiogroup" },
      TYPES.map((type, i) =>
        h(
          "label",
          { class: "type" },
          h("input", { type: "radio", name: "device_type", value: type, checked: i === 0 }),
          icon(type, 28),
          h("span", {}, label("device", type)),
        ),
      ),
    );
    const id = h("input", {
      name: "device_id",
      required: true,
      pattern: "[A-Za-z0-9_\\-]{3,64}",
      autocapitalize: "none",
      autocomplete: "off",
      spellcheck: false,
    });
    const rooms = [...new Set([...(state.elder.home.rooms || []).map((r) => r.name), ...ROOMS])];
    const room = h("input", { name: "room", list: "rooms", maxLength: 100 });
    const model = h("input", { name: "model", list: "models", maxLength: 100 });
    const transport = h(
      "select",
      { name: "transport" },
      TRANSPORTS.map((name) => h("option", { value: name }, t(`install.transport.${name}`))),
    );
    const wayIn = {
      zigbee_name: h("input", { name: "zigbee_name", maxLength: 200, autocomplete: "off" }),
      platform_device_id: h("input", {
        name: "platform_device_id",
        maxLength: 128,
        pattern: "[A-Za-z0-9_.:@\\-]{1,128}",
        autocapitalize: "none",
        autocomplete: "off",
        spellcheck: false,
      }),
      imei: h("input", {
        name: "imei",
        inputMode: "numeric",
        pattern: "[0-9]{15}",
        maxLength: 15,
        autocomplete: "off",
      }),
    };
    const wayInFields = Object.fromEntries(
      Object.entries(wayIn).map(([name, input]) => [
        name,
        field(t(`install.${name}`), input, t(`install.${name}.hint`)),
      ]),
    );
    const known = (text) => {
      const q = text.trim().toLowerCase();
      return catalogue.models.find((m) =>
        [m.key, m.model, ...m.model_ids].some((name) => name.toLowerCase() === q),
      );
    };
    const showWayIn = () => {
      for (const [name, wrapper] of Object.entries(wayInFields))
        wrapper.hidden = !WAY_IN_FIELDS[transport.value].includes(name);
    };
    // A catalogue model says how it reaches us: the installer need not know.
    model.addEventListener("input", () => {
      const found = known(model.value);
      if (found) transport.value = found.transport;
      showWayIn();
    });
    transport.addEventListener("change", showWayIn);
    showWayIn();
    const modelList = h(
      "datalist",
      { id: "models" },
      catalogue.models.map((m) =>
        h("option", { value: m.model }, `${m.vendor} · ${label("device", m.kind)} · ${m.transport}`),
      ),
    );
    const video = h("video", { class: "scanner", hidden: true, playsInline: true, muted: true });
    const scanButton = h(
      "button",
      { type: "button", class: "secondary", dataset: { action: "scan" } },
      t("install.scan"),
    );
    scanButton.addEventListener("click", async () => {
      if (scanner) return stopScan();
      try {
        video.hidden = false;
        scanButton.textContent = t("install.scan.stop");
        scanner = await startScan(video);
        const raw = await scanner.result;
        if (raw) id.value = deviceIdFrom(raw);
      } catch (error) {
        toast(t("install.scan.denied", { message: error.message }), "error");
      }
      stopScan();
    });
    function stopScan() {
      scanner?.stop();
      scanner = null;
      video.hidden = true;
      scanButton.textContent = t("install.scan");
    }
    const submit = h(
      "button",
      { type: "submit", class: "primary big", dataset: { action: "register" } },
      t("install.register"),
    );
    return step(
      "device",
      t("install.step2"),
      true,
      h(
        "form",
        {
          onsubmit: async (event) => {
            event.preventDefault();
            const type = new FormData(event.target).get("device_type");
            const found = known(model.value);
            const way = transport.value;
            const typed = Object.fromEntries(
              WAY_IN_FIELDS[way]
                .map((name) => [name, wayIn[name].value.trim()])
                .filter(([, value]) => value),
            );
            const body = {
              device_id: id.value.trim(),
              device_type: type,
              elder_id: state.elder.id,
              serial: id.value.trim(),
              // a catalogue model knows its power source; else guess by the type
              ...(found ? {} : { power_source: POWER[type] || "battery" }),
              ...(room.value.trim() ? { room: room.value.trim() } : {}),
              ...(model.value.trim() ? { model: model.value.trim() } : {}),
              ...(PLATFORMS.has(way) ? { platform: way } : {}),
              ...typed,
            };
            submit.disabled = true;
            try {
              stopScan();
              state.device = await api("/devices", { method: "POST", body });
              render();
            } catch (error) {
              const text =
                error instanceof ApiError && error.status === 409 && /device_id/.test(error.message)
                  ? t("install.duplicate")
                  : error.message; // names what is taken (IMEI, platform id) or what to fix
              toast(t("error.generic", { message: text }), "error");
              submit.disabled = false;
            }
          },
        },
        h("fieldset", { class: "plain" }, h("legend", {}, t("install.type")), types),
        field(
          t("install.serial"),
          h("div", { class: "row input-row" }, id, canScan() ? scanButton : null),
          canScan() ? t("install.serial.hint") : t("install.scan.unsupported"),
        ),
        video,
        field(t("install.room"), room),
        h(
          "datalist",
          { id: "rooms" },
          rooms.map((name) => h("option", { value: name })),
        ),
        field(t("install.model"), model, t("install.model.hint")),
        modelList,
        field(t("install.transport"), transport),
        ...Object.values(wayInFields),
        submit,
      ),
    );
  }

  // --- 3 credentials, shown once --------------------------------------------------------------

  function warnings() {
    const list = state.device.warnings || [];
    if (!list.length) return null;
    return h(
      "div",
      { class: "warn device-warnings", role: "alert" },
      h("strong", {}, t("install.warnings")),
      h(
        "ul",
        {},
        list.map((w) =>
          h(
            "li",
            { dataset: { warning: w.kind, code: w.code } },
            lang() === "en" ? w.message : w.message_zh,
            w.kind === "open_quirk"
              ? h(
                  "button",
                  {
                    type: "button",
                    class: "secondary small",
                    dataset: { action: "mitigated" },
                    onclick: () => markMitigated(w.code),
                  },
                  t("install.mitigated"),
                )
              : null,
          ),
        ),
      ),
    );
  }

  // The installer dealt with a quirk on site: the device lists it, and its warning goes.
  async function markMitigated(code) {
    const { device_id, mitigations = [] } = state.device;
    try {
      const updated = await api(`/devices/${encodeURIComponent(device_id)}`, {
        method: "PATCH",
        body: { mitigations: [...new Set([...mitigations, code])] },
      });
      state.device = { ...state.device, ...updated };
      render();
    } catch (error) {
      toast(t("error.generic", { message: error.message }), "error");
    }
  }

  function noAccount() {
    const platform = state.device.platform;
    return platform
      ? t("install.creds.platform", { platform: t(`install.transport.${platform}`) })
      : t("install.creds.none");
  }

  function credentialsStep() {
    const mqtt = state.device.mqtt;
    const row = (name, value) =>
      h(
        "div",
        { class: "cred" },
        h("span", { class: "muted small" }, t(`install.creds.${name}`)),
        h("code", { dataset: { cred: name } }, value),
        h(
          "button",
          {
            type: "button",
            class: "ghost small",
            onclick: () =>
              navigator.clipboard?.writeText(value).then(() => toast(t("copied"), "ok")),
          },
          t("copy"),
        ),
      );
    return step(
      "credentials",
      t("install.step3"),
      !state.check,
      warnings(),
      mqtt
        ? [
            h("p", { class: "warn" }, t("install.creds.once")),
            row("username", mqtt.username),
            row("password", mqtt.password),
            row("topic", mqtt.topic_prefix),
          ]
        : h("p", { dataset: { noAccount: state.device.platform || "gateway" } }, noAccount()),
      state.check
        ? null
        : h(
            "button",
            {
              type: "button",
              class: "primary big",
              dataset: { action: "start-check" },
              onclick: openCheck,
            },
            t("install.start"),
          ),
    );
  }

  // --- 4 the check ----------------------------------------------------------------------------

  async function openCheck() {
    try {
      state.check = await api(
        `/devices/${encodeURIComponent(state.device.device_id)}/installation-check`,
        { method: "POST", body: { minutes: 15 } },
      );
      render();
      watchCheck();
    } catch (error) {
      toast(t("error.generic", { message: error.message }), "error");
    }
  }

  function watchCheck() {
    clearTimeout(poll);
    if (state.check?.status !== "waiting") return;
    poll = setTimeout(async () => {
      try {
        state.check = await api(
          `/devices/${encodeURIComponent(state.device.device_id)}/installation-check`,
        );
        render();
      } catch {
        // the network dropped for a moment: keep looking
      }
      watchCheck();
    }, POLL_MS);
  }

  function checkStep() {
    const check = state.check;
    const items = [
      ...check.arrived.map((name) => [name, true]),
      ...check.missing.map((name) => [name, false]),
    ];
    const instruction =
      state.device.device_type === "emergency_button"
        ? "install.instruction.emergency_button"
        : "install.instruction.other";
    return step(
      "check",
      t("install.step4"),
      true,
      h(
        "div",
        {
          class: `check-result status-${check.status}`,
          dataset: { checkStatus: check.status, deviceState: check.device_state },
        },
        check.status === "passed"
          ? [
              h(
                "div",
                { class: "passed" },
                icon("check", 40),
                h("strong", {}, t("install.passed")),
              ),
              h("p", {}, t("install.passed.text", { device: state.device.device_id })),
              h(
                "button",
                { type: "button", class: "primary", onclick: () => reset({ elder: state.elder }) },
                t("install.next"),
              ),
            ]
          : check.status === "expired"
            ? [
                h("p", { class: "error" }, t("install.expired")),
                h(
                  "button",
                  { type: "button", class: "primary", onclick: openCheck },
                  t("install.again"),
                ),
              ]
            : [
                h("p", { class: "instruction" }, t(instruction)),
                h(
                  "p",
                  { class: "muted small" },
                  t("install.waiting"),
                  " ",
                  agoElement("span", check.expires_at),
                ),
              ],
      ),
      h(
        "ul",
        { class: "checklist" },
        items.map(([name, seen]) =>
          h(
            "li",
            { class: seen ? "seen" : "waiting", dataset: { evidence: name } },
            seen ? icon("check", 18) : h("span", { class: "spinner" }),
            label("install.ev", name),
          ),
        ),
      ),
    );
  }

  function reset({ elder }) {
    clearTimeout(poll);
    Object.assign(state, { elder, device: null, check: null });
    render();
  }

  render();
  return () => {
    clearTimeout(poll);
    scanner?.stop();
  };
}
