// An elder's profile: who they are and how to get in, whom to call in which order, the
// devices with battery, signal and last seen, pictures of activity, gas and battery over
// time, and the alerts so far. Sections the role may not see are left out.

import { callLink } from "../alerts.js";
import { api, ApiError } from "../api.js";
import { heatmap, lineChart } from "../charts.js";
import { clear, h, s } from "../dom.js";
import { agoElement, dateTime } from "../format.js";
import { label, t } from "../i18n.js";
import { icon } from "../icons.js";

const DAY_MS = 86400000;
const GAS_THRESHOLD = 10; // % LEL: the gas rule's default

function section(title, ...content) {
  return h("section", { class: "card" }, h("h2", {}, title), ...content);
}

function signalBars(rssi) {
  // dBm → 0–4 bars, as phones show it
  const bars =
    rssi === null || rssi === undefined ? 0 : [-90, -80, -70, -60].filter((x) => rssi >= x).length;
  return s(
    "svg",
    {
      class: "signal",
      viewBox: "0 0 20 16",
      width: 20,
      height: 16,
      role: "img",
      "aria-label": `${t("device.signal")} ${rssi ?? "?"} dBm`,
      "data-bars": bars,
    },
    [0, 1, 2, 3].map((i) =>
      s("rect", {
        x: i * 5,
        y: 12 - i * 4,
        width: 3.5,
        height: 4 + i * 4,
        rx: 1,
        class: i < bars ? "on" : "off",
      }),
    ),
  );
}

function batteryMeter(percent) {
  const fill = h("i", { class: "fill" });
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return h(
    "span",
    { class: `battery${percent < 20 ? " low" : ""}`, title: t("device.battery", { n: percent }) },
    h("span", { class: "cell-outline" }, fill),
    h("span", {}, `${percent}%`),
  );
}

function deviceCard(device) {
  const status = device.online === false ? "offline" : device.last_seen_at ? "online" : "never";
  return h(
    "li",
    {
      class: `device state-${device.state}`,
      dataset: { deviceId: device.device_id, type: device.device_type },
    },
    h("span", { class: `device-icon type-${device.device_type}` }, icon(device.device_type, 26)),
    h(
      "div",
      { class: "device-body" },
      h(
        "div",
        { class: "row" },
        h("strong", {}, label("device", device.device_type)),
        device.room ? h("span", { class: "muted" }, ` · ${device.room}`) : null,
        h("span", { class: "spacer" }),
        h("span", { class: `chip state-${device.state}` }, label("state", device.state)),
      ),
      h("div", { class: "muted small mono" }, device.device_id),
      h(
        "div",
        { class: "row device-facts" },
        h("span", { class: `dot ${status}` }),
        device.last_seen_at
          ? h(
              "span",
              {},
              `${t(status === "offline" ? "device.offline" : "device.online")} · `,
              agoElement("span", device.last_seen_at),
            )
          : h("span", { class: "muted" }, t("device.never")),
        h("span", { class: "spacer" }),
        device.battery !== null && device.battery !== undefined
          ? batteryMeter(device.battery)
          : device.power_source === "mains"
            ? h("span", { class: "muted small" }, t("device.mains"))
            : null,
        signalBars(device.rssi),
      ),
    ),
  );
}

function contactList(contacts) {
  return h(
    "ol",
    { class: "contacts" },
    contacts.map((c) =>
      h(
        "li",
        { dataset: { kind: c.kind } },
        h(
          "div",
          { class: "contact-who" },
          h("strong", {}, c.name),
          h(
            "span",
            { class: "muted small" },
            ` ${label("contact", c.kind)}${c.relation ? ` · ${c.relation}` : ""}`,
          ),
        ),
        callLink(c.phone, c.phone, c.kind),
      ),
    ),
  );
}

function alertRows(alerts) {
  if (!alerts.length) return h("p", { class: "muted" }, t("elder.alerts.none"));
  return h(
    "ul",
    { class: "history" },
    alerts.map((a) =>
      h(
        "li",
        { class: `sev-${a.severity}` },
        h(
          "a",
          { href: `#/alerts/${a.id}` },
          h("span", { class: "when" }, dateTime(a.opened_at)),
          h("span", { class: "what" }, label("rule", a.rule)),
          h(
            "span",
            { class: `chip status-${a.status}` },
            a.outcome ? label("outcome", a.outcome) : label("status", a.status),
          ),
        ),
      ),
    ),
  );
}

async function history(device, field, bucket, days, pick) {
  const since = new Date(Date.now() - days * DAY_MS).toISOString();
  const answer = await api(
    `/devices/${encodeURIComponent(device.device_id)}/readings?field=${field}&bucket=${bucket}&since=${encodeURIComponent(since)}`,
  );
  return {
    name: `${device.room || label("device", device.device_type)} ${device.device_id}`,
    values: answer.points.map((p) => ({ at: new Date(p.at).getTime(), value: p[pick] })),
  };
}

async function gasChart(devices) {
  const gas = devices.filter((d) => d.device_type === "gas");
  if (!gas.length) return null;
  const series = await Promise.all(gas.map((d) => history(d, "gas_lel", "1h", 7, "max")));
  const now = Date.now();
  return section(
    t("elder.gas"),
    lineChart(series, { threshold: GAS_THRESHOLD, since: now - 7 * DAY_MS, until: now }),
  );
}

async function batteryChart(devices) {
  const powered = devices.filter(
    (d) => d.power_source === "battery" && d.state !== "decommissioned",
  );
  if (!powered.length) return null;
  const series = await Promise.all(powered.map((d) => history(d, "battery", "6h", 14, "min")));
  const now = Date.now();
  return section(
    t("elder.battery"),
    lineChart(series, { min: 0, max: 100, threshold: 20, since: now - 14 * DAY_MS, until: now }),
  );
}

function headerCard(elder) {
  const age = elder.birth_year
    ? t("elder.age", { n: new Date().getFullYear() - elder.birth_year })
    : null;
  return h(
    "section",
    { class: "card elder-head" },
    h(
      "div",
      { class: "row" },
      h("h1", { class: "elder-name" }, elder.name),
      age ? h("span", { class: "muted" }, age) : null,
      h("span", { class: "spacer" }),
      h(
        "span",
        { class: `chip presence-${elder.presence}` },
        label("elder.presence", elder.presence),
      ),
    ),
    h("div", { class: "address" }, elder.home.address),
    elder.home.access_notes
      ? h(
          "div",
          { class: "access" },
          h("strong", {}, `${t("alert.access")}：`),
          elder.home.access_notes,
        )
      : null,
    elder.health_notes
      ? h("div", { class: "health" }, h("strong", {}, `${t("elder.health")}：`), elder.health_notes)
      : null,
    elder.phone
      ? h("div", { class: "calls" }, callLink(elder.phone, t("action.call_elder"), "elder"))
      : null,
  );
}

export async function elderView(main, [id]) {
  main.append(h("a", { class: "back", href: "#/elders" }, `‹ ${t("back")}`));
  const body = h("div", { class: "profile" }, h("p", { class: "muted" }, t("loading")));
  main.append(body);
  let elder;
  try {
    elder = await api(`/elders/${id}`);
  } catch (error) {
    const text =
      error instanceof ApiError && error.status === 404 ? t("error.notfound") : error.message;
    clear(body, h("p", { class: "error not-found" }, text));
    body.dataset.state = "not-found";
    return;
  }
  const [contacts, devices, activity, alerts] = await Promise.allSettled([
    api(`/elders/${id}/contacts`),
    api(`/devices?elder_id=${id}`),
    api(`/elders/${id}/activity?days=7`),
    api(`/alerts?elder_id=${id}&limit=30`),
  ]);
  const deviceList = devices.status === "fulfilled" ? devices.value : [];
  const [gas, battery] = await Promise.all([
    gasChart(deviceList).catch(() => null),
    batteryChart(deviceList).catch(() => null),
  ]);
  clear(
    body,
    headerCard(elder),
    contacts.status === "fulfilled"
      ? section(t("elder.contacts"), contactList(contacts.value))
      : null,
    section(
      t("elder.devices"),
      deviceList.length
        ? h("ul", { class: "devices" }, deviceList.map(deviceCard))
        : h("p", { class: "muted" }, t("elder.nodevices")),
    ),
    activity.status === "fulfilled" ? activitySection(activity.value) : null,
    gas,
    battery,
    alerts.status === "fulfilled" ? section(t("elder.alerts"), alertRows(alerts.value)) : null,
  );
  body.dataset.state = "loaded";
  body.dataset.elderId = String(elder.id);
}

function activitySection(activity) {
  return h(
    "section",
    { class: "card activity", dataset: { total: activity.total } },
    h("h2", {}, t("elder.activity")),
    activity.total ? heatmap(activity) : h("p", { class: "muted" }, t("elder.activity.none")),
    activity.last_motion_at
      ? h(
          "p",
          { class: "muted small" },
          t("elder.activity.last", { when: "" }),
          agoElement("span", activity.last_motion_at),
        )
      : null,
  );
}
