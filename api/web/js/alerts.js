// Alerts as people act on them: the card of the on-call and family lists, the one-tap
// actions (acknowledge, on site, resolve with outcome and note) and tap-to-call links.

import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { agoElement } from "./format.js";
import { label, t } from "./i18n.js";
import { icon } from "./icons.js";

const SEVERITY_RANK = { critical: 0, warning: 1, maintenance: 2 };
export const UNACKED = new Set(["open", "notified"]);
export const OUTCOMES = [
  "handled",
  "false_alarm",
  "hospital",
  "no_action_needed",
  "device_fixed",
  "other",
];

// As GET /alerts?status=active orders them: most severe first, then newest.
export function byUrgency(a, b) {
  return (
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    new Date(b.opened_at) - new Date(a.opened_at) ||
    b.id - a.id
  );
}

// --- acting on an alert -------------------------------------------------------------------

async function act(alert, path, body, message) {
  const updated = await api(`/alerts/${alert.id}/${path}`, { method: "POST", body });
  toast(t(message), "ok");
  window.dispatchEvent(new CustomEvent("nuanxin:alert", { detail: updated }));
  return updated;
}

export const acknowledge = (alert) => act(alert, "ack", undefined, "acked.toast");
export const onSite = (alert) => act(alert, "on-site", undefined, "onsite.toast");

export function resolveDialog(alert) {
  return new Promise((done) => {
    const note = h("textarea", {
      name: "note",
      rows: 3,
      maxLength: 2000,
      placeholder: t("resolve.note.placeholder"),
    });
    const choices = OUTCOMES.map((outcome, index) =>
      h(
        "label",
        { class: "choice" },
        h("input", { type: "radio", name: "outcome", value: outcome, checked: index === 0 }),
        h("span", {}, label("outcome", outcome)),
      ),
    );
    const dialog = h(
      "dialog",
      { class: "sheet", "aria-label": t("resolve.title") },
      h(
        "form",
        {
          method: "dialog",
          onsubmit: async (event) => {
            event.preventDefault();
            const outcome = new FormData(event.target).get("outcome");
            try {
              const updated = await act(
                alert,
                "resolve",
                { outcome, note: note.value },
                "resolved.toast",
              );
              dialog.close();
              done(updated);
            } catch (error) {
              toast(t("error.generic", { message: error.message }), "error");
            }
          },
        },
        h("h2", {}, t("resolve.title")),
        h("fieldset", { class: "choices" }, h("legend", {}, t("resolve.outcome")), choices),
        h("label", { class: "field" }, h("span", {}, t("resolve.note")), note),
        h(
          "div",
          { class: "row end" },
          h(
            "button",
            { type: "button", class: "ghost", onclick: () => dialog.close() },
            t("cancel"),
          ),
          h(
            "button",
            { type: "submit", class: "primary", dataset: { action: "submit-resolve" } },
            t("submit"),
          ),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      done(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function guarded(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    toast(t("error.generic", { message: error.message }), "error");
  } finally {
    button.disabled = false;
  }
}

export function actionButtons(alert) {
  if (alert.status === "resolved") return null;
  const buttons = [];
  if (UNACKED.has(alert.status)) {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "primary big",
          dataset: { action: "ack" },
          onclick: (event) => guarded(event.currentTarget, () => acknowledge(alert)),
        },
        icon("check"),
        t("action.ack"),
      ),
    );
  } else if (alert.status === "acknowledged") {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "secondary big",
          dataset: { action: "on-site" },
          onclick: (event) => guarded(event.currentTarget, () => onSite(alert)),
        },
        t("action.onsite"),
      ),
    );
  }
  buttons.push(
    h(
      "button",
      {
        type: "button",
        class: "secondary big",
        dataset: { action: "resolve" },
        onclick: () => resolveDialog(alert),
      },
      t("action.resolve"),
    ),
  );
  return h("div", { class: "actions" }, buttons);
}

// --- who to call ----------------------------------------------------------------------------

const people = new Map(); // elder id → Promise of {elder, contacts}

export function elderPeople(elderId) {
  if (!people.has(elderId)) {
    const found = Promise.allSettled([
      api(`/elders/${elderId}`),
      api(`/elders/${elderId}/contacts`),
    ]).then(([elder, contacts]) => ({
      elder: elder.status === "fulfilled" ? elder.value : null,
      contacts: contacts.status === "fulfilled" ? contacts.value : [],
    }));
    people.set(elderId, found);
    setTimeout(() => people.delete(elderId), 5 * 60 * 1000); // numbers change rarely
  }
  return people.get(elderId);
}

export function callLink(phone, text, kind = "") {
  return h(
    "a",
    { class: `call ${kind}`, href: `tel:${phone}`, dataset: { phone } },
    icon("phone", 18),
    h("span", {}, text),
  );
}

// The elder and the first family members, filled in when their numbers arrive.
export function callLinks(elderId, { all = false } = {}) {
  const box = h("div", { class: "calls" });
  if (!elderId) return box;
  elderPeople(elderId).then(({ elder, contacts }) => {
    if (elder?.phone && !elder.phone.includes("*")) {
      box.append(callLink(elder.phone, t("action.call_elder"), "elder"));
    }
    const wanted = all ? contacts : contacts.filter((c) => c.kind === "family").slice(0, 2);
    // a masked number (EXPOSURE: family members see others' numbers masked) dials nobody
    for (const contact of wanted.filter((c) => !c.phone.includes("*"))) {
      const who = contact.kind === "family" ? contact.relation || contact.name : contact.name;
      box.append(callLink(contact.phone, t("action.call", { name: who }), contact.kind));
    }
  });
  return box;
}

// --- the card ---------------------------------------------------------------------------------

export function alertCard(alert, { fresh = false } = {}) {
  const meta = [
    alert.room,
    alert.device_type ? label("device", alert.device_type) : null,
    label("status", alert.status),
    alert.trigger_count > 1 ? t("alert.count", { n: alert.trigger_count }) : null,
    alert.test ? t("alert.test") : null,
  ].filter(Boolean);
  return h(
    "article",
    {
      class: `alert-card sev-${alert.severity} status-${alert.status}${fresh ? " fresh" : ""}`,
      dataset: {
        alertId: alert.id,
        rule: alert.rule,
        elder: alert.elder_name || "",
        status: alert.status,
        severity: alert.severity,
      },
    },
    h(
      "a",
      { class: "card-link", href: `#/alerts/${alert.id}` },
      h(
        "div",
        { class: "row" },
        h("span", { class: `chip sev-${alert.severity}` }, label("severity", alert.severity)),
        h("strong", { class: "rule" }, label("rule", alert.rule)),
        h("span", { class: "spacer" }),
        agoElement("time", alert.opened_at, { className: "ago" }),
      ),
      h("div", { class: "elder-name" }, alert.elder_name || t("unknown")),
      h("div", { class: "address" }, alert.address || ""),
      h("div", { class: "meta" }, meta.join(" · ")),
    ),
    actionButtons(alert),
    alert.status === "resolved" ? null : callLinks(alert.elder_id),
  );
}
