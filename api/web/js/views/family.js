// A family member's page: their elder only, that elder's alerts, acknowledge.

import { alertCard, byUrgency, callLinks } from "../alerts.js";
import { api, live } from "../api.js";
import { clear, h } from "../dom.js";
import { dateTime } from "../format.js";
import { label, t } from "../i18n.js";

const HISTORY = 10;

export async function familyView(main) {
  const elders = h("div", { class: "family-elders" });
  const open = h("div", { class: "alert-list" });
  const past = h("ul", { class: "history" });
  main.append(
    h("div", { class: "view-head" }, h("h1", {}, t("family.title"))),
    elders,
    h("h2", {}, t("family.alerts")),
    open,
    past,
  );
  const mine = await api("/elders");
  for (const elder of mine) {
    elders.append(
      h(
        "section",
        { class: "card elder-head", dataset: { elderId: elder.id } },
        h(
          "div",
          { class: "row" },
          h("h2", { class: "elder-name" }, elder.name),
          h("span", { class: "spacer" }),
          h(
            "span",
            { class: `chip presence-${elder.presence}` },
            label("elder.presence", elder.presence),
          ),
        ),
        h("div", { class: "address" }, elder.home.address),
        // the elder, the community worker and the rest of the family, one tap each
        callLinks(elder.id, { all: true }),
        h(
          "a",
          { class: "button secondary profile-link", href: `#/elders/${elder.id}` },
          t("family.profile"),
        ),
      ),
    );
  }

  async function load() {
    const alerts = await api("/alerts?limit=50");
    const active = alerts.filter((a) => a.status !== "resolved").sort(byUrgency);
    clear(open);
    clear(past);
    if (!active.length) open.append(h("p", { class: "empty ok" }, t("family.none")));
    for (const alert of active) open.append(alertCard(alert));
    for (const alert of alerts.filter((a) => a.status === "resolved").slice(0, HISTORY)) {
      past.append(
        h(
          "li",
          {},
          h(
            "a",
            { href: `#/alerts/${alert.id}` },
            h("span", { class: "when" }, dateTime(alert.opened_at)),
            h("span", { class: "what" }, `${alert.elder_name} · ${label("rule", alert.rule)}`),
            h("span", { class: "chip" }, label("outcome", alert.outcome)),
          ),
        ),
      );
    }
  }
  const onLocal = () => load();
  window.addEventListener("nuanxin:alert", onLocal);
  const stops = [live.on("alert", load), live.on("resync", load)];
  await load();
  return () => {
    window.removeEventListener("nuanxin:alert", onLocal);
    stops.forEach((stop) => stop());
  };
}
