// Every word the app shows, one table per language (strings/*.js). zh-CN is the default;
// a key missing from English falls back to Chinese rather than showing the key.

import en from "./strings/en.js";
import zhCN from "./strings/zh-CN.js";

const STRINGS = { "zh-CN": zhCN, en };

const STORAGE_KEY = "nuanxin.lang";
let current = localStorage.getItem(STORAGE_KEY) === "en" ? "en" : "zh-CN";

export function lang() {
  return current;
}

export function setLang(value) {
  current = value === "en" ? "en" : "zh-CN";
  localStorage.setItem(STORAGE_KEY, current);
  document.documentElement.lang = current;
}

export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// A label from a family of keys ("rule", "emergency_call"), or the raw value when the
// server knows a word this app does not yet.
export function label(family, value) {
  const key = `${family}.${value}`;
  return key in STRINGS["zh-CN"] ? t(key) : String(value ?? "");
}

document.documentElement.lang = current;
