// The on-call list: open alerts of the districts the user looks after, newest critical
// first, kept up to date by the live stream — no reload.

import { alertCard, byUrgency } from "../alerts.js";
import { api, live } from "../api.js";
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";

export async function oncallView(main) {
  const alerts = new Map();
  const fresh = new Set();
  const count = h("span", { class: "count muted" });
  const list = h("div", { class: "alert-list", "aria-live": "polite" });
  main.append(h("div", { class: "view-head" }, h("h1", {}, t("oncall.title")), count), list);

  function render() {
    const sorted = [...alerts.values()].sort(byUrgency);
    count.textContent = t("oncall.count", { n: sorted.length });
    clear(list);
    if (!sorted.length) list.append(h("p", { class: "empty" }, t("oncall.empty")));
    for (const alert of sorted) list.append(alertCard(alert, { fresh: fresh.has(alert.id) }));
    list.dataset.count = String(sorted.length);
  }

  function upsert(alert) {
    if (alert.status === "resolved") alerts.delete(alert.id);
    else {
      if (!alerts.has(alert.id)) {
        fresh.add(alert.id);
        setTimeout(() => fresh.delete(alert.id), 8000);
      }
      alerts.set(alert.id, alert);
    }
    render();
  }

  async function load() {
    const open = await api("/alerts?status=active&limit=200");
    alerts.clear();
    for (const alert of open) alerts.set(alert.id, alert);
    render();
    list.dataset.loaded = "true";
  }

  const onLocal = (event) => upsert(event.detail);
  window.addEventListener("nuanxin:alert", onLocal);
  const stops = [live.on("alert", upsert), live.on("resync", load)];
  await load();
  return () => {
    window.removeEventListener("nuanxin:alert", onLocal);
    stops.forEach((stop) => stop());
  };
}
