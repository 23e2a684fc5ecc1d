// The operator's overview: open alerts by severity and district, devices to visit, this
// week's response times, and the monthly report for the civil-affairs bureau (as a page
// and as a CSV download).

import { api, live } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { agoElement, currentMonth, dateTime, duration } from "../format.js";
import { label, t } from "../i18n.js";

const SEVERITIES = ["critical", "warning", "maintenance"];

function table(headers, rows, props = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      props,
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.map((text) => h("th", {}, text)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h(
            "tr",
            {},
            cells.map((cell) => h("td", {}, cell)),
          ),
        ),
      ),
    ),
  );
}

function openAlerts(counts) {
  const totals = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  const districts = new Map();
  for (const row of counts) {
    totals[row.severity] += row.count;
    const perDistrict = districts.get(row.district_name) || {};
    perDistrict[row.severity] = row.count;
    districts.set(row.district_name, perDistrict);
  }
  return h(
    "section",
    { class: "card" },
    h("h2", {}, t("overview.open")),
    h(
      "div",
      { class: "tiles" },
      SEVERITIES.map((s) =>
        h(
          "div",
          { class: `tile sev-${s}`, dataset: { severity: s, count: totals[s] } },
          h("strong", {}, String(totals[s])),
          h("span", {}, label("severity", s)),
        ),
      ),
    ),
    districts.size
      ? table(
          [t("overview.district"), ...SEVERITIES.map((s) => label("severity", s))],
          [...districts].map(([name, row]) => [
            name,
            ...SEVERITIES.map((s) => String(row[s] || 0)),
          ]),
          { class: "by-district" },
        )
      : null,
  );
}

function week(response) {
  return h(
    "section",
    { class: "card" },
    h("h2", {}, t("overview.week")),
    h(
      "div",
      { class: "tiles" },
      h(
        "div",
        { class: "tile" },
        h("strong", {}, String(response.alerts)),
        h("span", {}, t("overview.week.alerts")),
      ),
      h(
        "div",
        { class: "tile", dataset: { metric: "median-ack" } },
        h("strong", {}, duration(response.median_ack_s)),
        h("span", {}, t("overview.week.ack")),
      ),
      h(
        "div",
        { class: "tile", dataset: { metric: "median-on-site" } },
        h("strong", {}, duration(response.median_on_site_s)),
        h("span", {}, t("overview.week.onsite")),
      ),
    ),
  );
}

function devices(title, rows, kind) {
  return h(
    "section",
    { class: "card", dataset: { list: kind } },
    h("h2", {}, `${title} (${rows.length})`),
    rows.length
      ? h(
          "ul",
          { class: "attention" },
          rows.map((d) =>
            h(
              "li",
              {},
              h(
                "a",
                { href: `#/elders/${d.elder_id}` },
                h("strong", {}, d.elder_name),
                h("span", { class: "muted small" }, ` ${d.district_name} · ${d.address}`),
              ),
              h(
                "div",
                { class: "small" },
                `${label("device", d.device_type)}${d.room ? ` · ${d.room}` : ""} · `,
                kind === "battery"
                  ? h("strong", { class: "low" }, t("device.battery", { n: d.battery }))
                  : d.last_seen_at
                    ? agoElement("span", d.last_seen_at)
                    : t("device.never"),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("overview.none")),
  );
}

// --- the monthly report ------------------------------------------------------------------

function districtReport(d) {
  return h(
    "article",
    { class: "district-report", dataset: { districtId: d.district_id } },
    h("h3", {}, d.district_name),
    d.response.length
      ? [
          h("h4", {}, t("report.summary")),
          table(
            [
              "severity",
              "alerts",
              "ack",
              "median_ack",
              "p90_ack",
              "within60",
              "onsite",
              "median_onsite",
              "within45",
            ].map((c) => t(`report.col.${c}`)),
            d.response.map((r) => [
              label("severity", r.severity),
              String(r.alerts),
              String(r.acknowledged),
              duration(r.median_ack_s),
              duration(r.p90_ack_s),
              String(r.acked_within_60s),
              String(r.on_site),
              duration(r.median_on_site_s),
              String(r.on_site_within_45min),
            ]),
          ),
          h("h4", {}, t("report.alerts")),
          table(
            ["rule", "severity", "outcome", "count"].map((c) => t(`report.col.${c}`)),
            d.alerts.map((a) => [
              label("rule", a.rule),
              label("severity", a.severity),
              label("outcome", a.outcome),
              String(a.count),
            ]),
          ),
          h(
            "details",
            {},
            h("summary", {}, t("report.deliveries", { n: d.deliveries.length })),
            table(
              ["time", "alert", "channel", "to", "status"].map((c) => t(`report.col.${c}`)),
              d.deliveries.map((n) => [
                dateTime(n.created_at),
                `#${n.alert_id} ${label("rule", n.rule)}`,
                label("channel", n.channel),
                n.contact_name || n.destination,
                label("delivery", n.status),
              ]),
            ),
          ),
        ]
      : h("p", { class: "muted" }, t("report.empty")),
  );
}

async function download(month) {
  const response = await api(`/reports/monthly?month=${month}&format=csv`, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: `nuanxin-report-${month}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function reportSection() {
  const month = h("input", { type: "month", name: "month", value: currentMonth(), required: true });
  const out = h("div", { class: "report" });
  const show = async () => {
    clear(out, h("p", { class: "muted" }, t("loading")));
    try {
      const report = await api(`/reports/monthly?month=${month.value}`);
      clear(out, report.districts.map(districtReport));
      out.dataset.month = report.month;
    } catch (error) {
      clear(out, h("p", { class: "error" }, error.message));
    }
  };
  const section = h(
    "section",
    { class: "card" },
    h("h2", {}, t("report.title")),
    h(
      "form",
      { class: "row wrap", onsubmit: (event) => (event.preventDefault(), show()) },
      h("label", { class: "field inline" }, h("span", {}, t("report.month")), month),
      h("button", { type: "submit", class: "primary" }, t("report.view")),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          dataset: { action: "csv" },
          onclick: () => download(month.value).catch((error) => toast(error.message, "error")),
        },
        t("report.csv"),
      ),
    ),
    out,
  );
  show();
  return section;
}

export async function overviewView(main) {
  const now = h("div", { class: "overview-now" });
  main.append(
    h("div", { class: "view-head" }, h("h1", {}, t("overview.title"))),
    now,
    reportSection(),
  );
  async function load() {
    const data = await api("/overview");
    clear(
      now,
      openAlerts(data.open_alerts),
      week(data.week),
      devices(t("overview.offline"), data.offline, "offline"),
      devices(t("overview.lowbattery"), data.low_battery, "battery"),
    );
  }
  let pending = 0;
  // alert changes come in bursts: count them once a burst is over
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(load, 1000);
  };
  const stop = live.on("alert", soon);
  await load();
  return () => {
    stop();
    clearTimeout(pending);
  };
}
