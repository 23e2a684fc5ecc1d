// Times as people in Ordos read them: Asia/Shanghai wall-clock time, "3 minutes ago".

import { lang, t } from "./i18n.js";

export const ZONE = "Asia/Shanghai";

function parts(date, options) {
  return new Intl.DateTimeFormat(lang(), { timeZone: ZONE, hour12: false, ...options }).format(
    date,
  );
}

export function dateTime(value) {
  if (!value) return "";
  return parts(new Date(value), {
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function clock(value) {
  if (!value) return "";
  return parts(new Date(value), { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function shortDate(value) {
  return parts(new Date(value), { month: "2-digit", day: "2-digit" });
}

export function ago(value, now = Date.now()) {
  if (!value) return "";
  const seconds = Math.round((now - new Date(value).getTime()) / 1000);
  if (seconds < 0) {
    const ahead = -seconds;
    return ahead < 60 ? t("in.s", { n: ahead }) : t("in.m", { n: Math.round(ahead / 60) });
  }
  if (seconds < 10) return t("ago.now");
  if (seconds < 60) return t("ago.s", { n: seconds });
  if (seconds < 3600) return t("ago.m", { n: Math.floor(seconds / 60) });
  if (seconds < 86400) return t("ago.h", { n: Math.floor(seconds / 3600) });
  return t("ago.d", { n: Math.floor(seconds / 86400) });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.round(seconds);
  if (total < 60) return t("dur.s", { n: total });
  if (total < 3600) return t("dur.ms", { m: Math.floor(total / 60), s: total % 60 });
  return t("dur.hm", { h: Math.floor(total / 3600), m: Math.floor((total % 3600) / 60) });
}

// The month people mean by "this month", in the local zone: "2026-11".
export function currentMonth() {
  const formatted = new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE,
    year: "numeric",
    month: "2-digit",
  }).format(new Date());
  return formatted.slice(0, 7);
}

// Elements showing "… ago" carry data-ago with their instant and refresh themselves.
export function agoElement(tag, value, props = {}) {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.dataset.ago = value || "";
  element.textContent = ago(value);
  element.title = dateTime(value);
  return element;
}

setInterval(() => {
  for (const element of document.querySelectorAll("[data-ago]")) {
    element.textContent = ago(element.dataset.ago);
  }
}, 15000);
