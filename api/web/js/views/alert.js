// One alert: what happened where, how to get in, the actions, everyone to call, and the
// timeline — who was notified, by which channel, delivered or not, who acknowledged.

import { actionButtons, callLinks, elderPeople } from "../alerts.js";
import { api, ApiError, live } from "../api.js";
import { clear, h } from "../dom.js";
import { agoElement, clock, dateTime } from "../format.js";
import { label, t } from "../i18n.js";

// "user:wang" → "wang"; "contact:王丽 (+86139****5678)" → "王丽 (+86139****5678)"
function who(actor) {
  if (!actor || actor === "system") return t("tl.system");
  return actor.replace(/^(user|contact):/, "");
}

function notificationRow(n) {
  const to = n.contact_name || (n.channel === "app" ? `#${n.destination}` : n.destination);
  return h(
    "li",
    { class: `delivery status-${n.status}`, dataset: { channel: n.channel, status: n.status } },
    h("span", { class: "channel" }, label("channel", n.channel)),
    h(
      "span",
      { class: "to" },
      to,
      n.channel === "app" ? "" : h("small", { class: "muted" }, ` ${n.destination}`),
    ),
    h("span", { class: `chip delivery-${n.status}` }, label("delivery", n.status)),
    n.attempts > 1 ? h("small", { class: "muted" }, ` ×${n.attempts}`) : null,
    n.error ? h("div", { class: "error small" }, n.error) : null,
  );
}

// Sending progress of one notification: a small line, the story is in the big ones.
const PROGRESS = new Set(["sent", "delivered", "failed"]);

function entryText(entry, byId) {
  const d = entry.detail || {};
  if (PROGRESS.has(entry.kind)) {
    const n = byId.get(d.notification);
    const to = n?.contact_name || (d.channel === "app" ? label("channel", "app") : d.to || "");
    return t(`tl.${entry.kind}`, { channel: label("channel", d.channel), to });
  }
  switch (entry.kind) {
    case "notified":
      return t("tl.notified", { level: (d.level ?? 0) + 1 });
    case "escalated":
      return d.round > 0
        ? t("tl.reminder", { level: (d.level ?? 0) + 1, round: d.round + 1 })
        : t("tl.escalated", { level: (d.level ?? 0) + 1 });
    case "acknowledged":
      return (
        t("tl.acknowledged", { actor: who(entry.actor) }) +
        (d.via ? t("tl.via", { via: label("via", d.via) }) : "")
      );
    case "on_site":
      return t("tl.on_site", { actor: who(entry.actor) });
    case "resolved":
      return t("tl.resolved", { actor: who(entry.actor), outcome: label("outcome", d.outcome) });
    case "repeated":
      return t("tl.repeated", { count: d.count ?? "" });
    default:
      return label("tl", entry.kind);
  }
}

function timeline(detail) {
  const byId = new Map(detail.notifications.map((n) => [n.id, n]));
  const shown = new Set();
  const items = detail.timeline.map((entry) => {
    const ids = entry.detail?.notifications || [];
    const rows = ids.map((id) => byId.get(id)).filter(Boolean);
    rows.forEach((n) => shown.add(n.id));
    const skipped = entry.detail?.skipped || [];
    const minor = PROGRESS.has(entry.kind) ? " minor" : "";
    return h(
      "li",
      { class: `tl-entry kind-${entry.kind}${minor}`, dataset: { kind: entry.kind } },
      h("time", { class: "tl-time", title: dateTime(entry.at) }, clock(entry.at)),
      h(
        "div",
        { class: "tl-body" },
        h("div", { class: "tl-text" }, entryText(entry, byId)),
        entry.kind === "failed" && entry.detail?.error
          ? h("div", { class: "error small" }, entry.detail.error)
          : null,
        entry.detail?.note ? h("div", { class: "note" }, entry.detail.note) : null,
        // which provider message acknowledged: a replayed one is refused by this id
        entry.detail?.provider_message_id
          ? h(
              "div",
              { class: "muted small provider-message" },
              t("tl.provider_message", { id: entry.detail.provider_message_id }),
            )
          : null,
        rows.length ? h("ul", { class: "deliveries" }, rows.map(notificationRow)) : null,
        skipped.map((what) => h("div", { class: "muted small" }, t("tl.skipped", { what }))),
      ),
    );
  });
  // fallbacks and anything else no entry names, at the time they were made
  for (const n of detail.notifications.filter((x) => !shown.has(x.id))) {
    items.push(
      h(
        "li",
        { class: "tl-entry kind-delivery" },
        h("time", { class: "tl-time" }, clock(n.created_at)),
        h("div", { class: "tl-body" }, h("ul", { class: "deliveries" }, notificationRow(n))),
      ),
    );
  }
  return h("ol", { class: "timeline" }, items);
}

function header(alert, elder) {
  const access = elder?.home?.access_notes;
  const device = [
    alert.room,
    alert.device_type ? label("device", alert.device_type) : null,
    alert.device_id,
  ]
    .filter(Boolean)
    .join(" · ");
  return h(
    "section",
    { class: `card alert-head sev-${alert.severity}`, dataset: { status: alert.status } },
    h(
      "div",
      { class: "row" },
      h("span", { class: `chip sev-${alert.severity}` }, label("severity", alert.severity)),
      h("strong", { class: "rule big-text" }, label("rule", alert.rule)),
      h("span", { class: "spacer" }),
      h("span", { class: `chip status status-${alert.status}` }, label("status", alert.status)),
    ),
    h(
      "h1",
      { class: "elder-name" },
      alert.elder_id
        ? h("a", { href: `#/elders/${alert.elder_id}` }, alert.elder_name)
        : alert.elder_name,
    ),
    h("div", { class: "address" }, alert.address || ""),
    access
      ? h("div", { class: "access" }, h("strong", {}, `${t("alert.access")}：`), access)
      : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("alert.opened")),
      h("dd", {}, dateTime(alert.opened_at), " · ", agoElement("span", alert.opened_at)),
      device ? [h("dt", {}, t("alert.device")), h("dd", {}, device)] : null,
    ),
    alert.trigger_count > 1
      ? h("div", { class: "muted" }, t("alert.count", { n: alert.trigger_count }))
      : null,
    alert.condition_cleared_at ? h("div", { class: "ok" }, t("alert.cleared")) : null,
    alert.status === "notified" && alert.next_due_at
      ? h("div", { class: "due" }, t("alert.next"), agoElement("span", alert.next_due_at))
      : null,
    alert.test ? h("div", { class: "chip test" }, t("alert.test")) : null,
  );
}

export async function alertView(main, [id]) {
  const body = h("div", { class: "alert-detail" }, h("p", { class: "muted" }, t("loading")));
  main.append(
    h("a", { class: "back", href: "#/oncall", onclick: backOnce }, `‹ ${t("back")}`),
    body,
  );

  async function load() {
    let detail;
    try {
      detail = await api(`/alerts/${id}`);
    } catch (error) {
      const text =
        error instanceof ApiError && error.status === 404 ? t("error.notfound") : error.message;
      clear(body, h("p", { class: "error not-found" }, text));
      return;
    }
    const { elder } = detail.elder_id ? await elderPeople(detail.elder_id) : { elder: null };
    clear(
      body,
      header(detail, elder),
      actionButtons(detail),
      detail.elder_id && detail.status !== "resolved"
        ? h(
            "section",
            { class: "card" },
            h("h2", {}, t("alert.calls")),
            callLinks(detail.elder_id, { all: true }),
          )
        : null,
      h("section", { class: "card" }, h("h2", {}, t("alert.timeline")), timeline(detail)),
    );
    body.dataset.alertId = String(detail.id);
    body.dataset.status = detail.status;
  }

  const changed = (alert) => {
    if (String(alert.id) === String(id)) load();
  };
  const onLocal = (event) => changed(event.detail);
  window.addEventListener("nuanxin:alert", onLocal);
  const stop = live.on("alert", changed);
  await load();
  return () => {
    stop();
    window.removeEventListener("nuanxin:alert", onLocal);
  };
}

function backOnce(event) {
  if (history.length > 1) {
    event.preventDefault();
    history.back();
  }
}
