// The app shell: sign-in, navigation by role, hash routes, the live stream and the alarm
// for new critical alerts (which rings on every page, not only the on-call list).

import * as alarm from "./alarm.js";
import { UNACKED } from "./alerts.js";
import { api, live, session, signOut } from "./api.js";
import { $, clear, h } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { alertView } from "./views/alert.js";
import { elderView } from "./views/elder.js";
import { eldersView } from "./views/elders.js";
import { familyView } from "./views/family.js";
import { installView } from "./views/install.js";
import { loginView } from "./views/login.js";
import { oncallView } from "./views/oncall.js";
import { overviewView } from "./views/overview.js";

const ROUTES = [
  { path: /^#\/login$/, view: loginView, open: true },
  { path: /^#\/oncall$/, view: oncallView },
  { path: /^#\/alerts\/(\d+)$/, view: alertView },
  { path: /^#\/elders$/, view: eldersView },
  { path: /^#\/elders\/(\d+)$/, view: elderView },
  { path: /^#\/install$/, view: installView },
  { path: /^#\/overview$/, view: overviewView },
  { path: /^#\/family$/, view: familyView },
];

// Tabs per role, first is home. Installers handle devices; families their elder.
const TABS = {
  admin: ["oncall", "elders", "install", "overview"],
  operator: ["oncall", "elders", "install", "overview"],
  community_worker: ["oncall", "elders"],
  installer: ["install", "elders"],
  family: ["family"],
};
const READS_ALERTS = new Set(["admin", "operator", "community_worker", "family"]);

let cleanup = null;
const known = new Map(); // alert id → status, to tell a new critical alert from a change

function home() {
  return `#/${TABS[session.user?.role]?.[0] ?? "elders"}`;
}

function renderChrome() {
  $("#brand-name").textContent = t("app.name");
  $("#lang").textContent = t("lang.toggle");
  const signedIn = Boolean(session.user);
  $("#signout").hidden = !signedIn;
  $("#signout").textContent = t("signout");
  $("#live").hidden = !signedIn || !READS_ALERTS.has(session.user?.role);
  $("#live").textContent = t(document.body.dataset.live === "on" ? "live.on" : "live.off");
  const nav = $("#nav");
  nav.hidden = !signedIn;
  clear(nav);
  if (!signedIn) return;
  const current = location.hash.split("/")[1];
  for (const tab of TABS[session.user.role] ?? []) {
    nav.append(
      h(
        "a",
        { href: `#/${tab}`, class: tab === current ? "active" : "", dataset: { tab } },
        t(`nav.${tab}`),
      ),
    );
  }
}

// Views load asynchronously; a view that finishes after the user moved on is cleaned up
// at once and never writes into the page that replaced it.
let generation = 0;

async function route() {
  const mine = ++generation;
  if (cleanup) cleanup();
  cleanup = null;
  const hash = location.hash || "#/";
  const match = ROUTES.map((r) => ({ r, m: hash.match(r.path) })).find((x) => x.m);
  if (!session.user && !match?.r.open) {
    location.replace("#/login");
    return;
  }
  if (!match) {
    location.replace(session.user ? home() : "#/login");
    return;
  }
  renderChrome();
  const main = clear($("#main"));
  main.dataset.view = match.r.view.name;
  try {
    const done = (await match.r.view(main, match.m.slice(1), { home, user: session.user })) || null;
    if (mine === generation) cleanup = done;
    else done?.();
  } catch (error) {
    if (mine === generation) {
      main.append(h("p", { class: "error" }, t("error.generic", { message: error.message })));
    }
  }
  if (mine === generation) main.focus({ preventScroll: true });
}

// --- the live stream and the alarm -------------------------------------------------------

function watch(alert) {
  const before = known.get(alert.id);
  known.set(alert.id, alert.status);
  const wasHandled = before !== undefined && !UNACKED.has(before);
  if (
    alert.severity === "critical" &&
    UNACKED.has(alert.status) &&
    (before === undefined || wasHandled)
  ) {
    alarm.ring(alert);
  } else {
    alarm.settle(alert);
  }
}

async function primeKnown() {
  known.clear();
  if (!READS_ALERTS.has(session.user?.role)) return;
  const open = await api("/alerts?status=active&limit=500");
  for (const alert of open) known.set(alert.id, alert.status);
}

async function startSession() {
  live.start(); // first, so nothing between the list and the stream is missed
  await primeKnown();
}

live.on("alert", watch);
live.on("resync", () => primeKnown());
live.on("state", () => renderChrome());
window.addEventListener("nuanxin:alert", (event) => {
  known.set(event.detail.id, event.detail.status);
  alarm.settle(event.detail);
});
window.addEventListener("nuanxin:signedin", async () => {
  await startSession();
  location.hash = home();
});
window.addEventListener("nuanxin:signedout", () => {
  live.stop();
  alarm.stopAll();
  location.hash = "#/login";
});

$("#lang").addEventListener("click", () => {
  setLang(lang() === "en" ? "zh-CN" : "en");
  alarm.refresh();
  route();
});
$("#signout").addEventListener("click", async () => {
  await signOut();
  window.dispatchEvent(new Event("nuanxin:signedout"));
});
window.addEventListener("hashchange", route);

async function boot() {
  if (session.token) {
    try {
      session.user = await api("/auth/me");
      await startSession();
    } catch {
      session.clear();
    }
  }
  route();
}

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js").catch(() => {
    // without it the app still works; it just does not open offline
  });
}

boot();
