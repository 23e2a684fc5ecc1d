// The service worker keeps the app's shell so it opens without a network (an installer
// in a basement). Network first: a fresh deploy always wins when the network is there.
// The API is never cached: alerts must be live or visibly missing, never stale.

const CACHE = "nuanxin-shell-v1";
const SHELL = [
  "./",
  "index.html",
  "manifest.webmanifest",
  "css/app.css",
  "icons/icon.svg",
  "icons/icon-maskable.svg",
  "js/app.js",
  "js/alarm.js",
  "js/alerts.js",
  "js/api.js",
  "js/charts.js",
  "js/dom.js",
  "js/format.js",
  "js/i18n.js",
  "js/strings/en.js",
  "js/strings/zh-CN.js",
  "js/icons.js",
  "js/scan.js",
  "js/views/alert.js",
  "js/views/elder.js",
  "js/views/elders.js",
  "js/views/family.js",
  "js/views/install.js",
  "js/views/login.js",
  "js/views/oncall.js",
  "js/views/overview.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const shell = url.origin === self.location.origin && url.pathname.startsWith("/app/");
  if (event.request.method !== "GET" || !shell) return; // the browser fetches it as usual
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((hit) => hit || caches.match("index.html"))),
  );
});
