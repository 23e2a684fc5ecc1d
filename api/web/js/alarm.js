// The alarm for a new critical alert: a banner nobody can miss, a beep made with WebAudio
// (no sound file), vibration, and a flashing title. It rings until the alert is
// acknowledged or resolved, or the person opens it or silences it.

import { acknowledge } from "./alerts.js";
import { $, clear, h, toast } from "./dom.js";
import { label, t } from "./i18n.js";
import { icon } from "./icons.js";

const REPEAT_MS = 4000;
const ringing = new Map(); // alert id → alert, newest last
let silenced = false;
let timer = 0;
let context = null;
const baseTitle = document.title;

// Browsers start audio only after a gesture; the sign-in tap (or any tap) unlocks it.
function audio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  if (!context) context = new Context();
  if (context.state === "suspended") context.resume();
  return context;
}

for (const type of ["pointerdown", "keydown", "touchstart"]) {
  window.addEventListener(type, () => audio(), { capture: true, passive: true });
}

export function beep() {
  const ctx = audio();
  navigator.vibrate?.([400, 150, 400, 150, 400]);
  if (!ctx) return false;
  const start = ctx.currentTime + 0.01;
  for (let i = 0; i < 3; i += 1) {
    const at = start + i * 0.38;
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = i % 2 ? 660 : 988;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.6, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.32);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.34);
  }
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  return ctx.state === "running";
}

function render() {
  const banner = $("#alarm");
  const alerts = [...ringing.values()];
  if (!alerts.length) {
    banner.hidden = true;
    clear(banner);
    delete document.body.dataset.alarm;
    document.title = baseTitle;
    clearInterval(timer);
    timer = 0;
    return;
  }
  const alert = alerts[alerts.length - 1];
  banner.dataset.alertId = alert.id;
  document.body.dataset.alarm = "ringing";
  clear(
    banner,
    h(
      "div",
      { class: "alarm-inner" },
      h(
        "div",
        { class: "alarm-head" },
        icon("alert", 22),
        h("span", {}, `${t("alarm.title")} · ${label("rule", alert.rule)}`),
      ),
      h("div", { class: "alarm-elder" }, alert.elder_name || ""),
      h("div", { class: "alarm-address" }, alert.address || ""),
      alerts.length > 1
        ? h("div", { class: "alarm-more" }, t("alarm.more", { n: alerts.length - 1 }))
        : null,
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            type: "button",
            class: "alarm-ack",
            dataset: { action: "alarm-ack" },
            onclick: async (event) => {
              event.currentTarget.disabled = true;
              try {
                settle(await acknowledge(alert));
              } catch (error) {
                toast(t("error.generic", { message: error.message }), "error");
                event.currentTarget.disabled = false;
              }
            },
          },
          t("alarm.ack"),
        ),
        h(
          "a",
          {
            class: "alarm-view",
            href: `#/alerts/${alert.id}`,
            onclick: () => dismiss(alert.id),
          },
          t("alarm.view"),
        ),
        h(
          "button",
          {
            type: "button",
            class: "alarm-silence",
            hidden: silenced,
            onclick: () => {
              silenced = true;
              render();
            },
          },
          t("alarm.silence"),
        ),
      ),
    ),
  );
  banner.hidden = false;
  document.title = `【${t("alarm.title")}】${alert.elder_name || ""}`;
}

export function ring(alert) {
  const isNew = !ringing.has(alert.id);
  ringing.delete(alert.id);
  ringing.set(alert.id, alert);
  if (isNew) silenced = false;
  render();
  if (isNew && !silenced) beep();
  if (!timer) {
    timer = setInterval(() => {
      if (!silenced && ringing.size) beep();
    }, REPEAT_MS);
  }
}

// An alert changed: it stops ringing once someone has it.
export function settle(alert) {
  if (ringing.has(alert.id) && !["open", "notified"].includes(alert.status)) dismiss(alert.id);
}

export function dismiss(alertId) {
  ringing.delete(Number(alertId));
  render();
}

export function stopAll() {
  ringing.clear();
  render();
}

export function refresh() {
  if (ringing.size) render();
}
