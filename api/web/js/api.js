// The API client: the session (token and who is signed in), JSON requests, and the live
// alert stream every view listens to.

const BASE = "/api/v1";
const TOKEN_KEY = "nuanxin.token";

export class ApiError extends Error {
  constructor(status, message, fields = []) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

export const session = {
  token: localStorage.getItem(TOKEN_KEY),
  user: null,
  set(token) {
    this.token = token;
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    this.token = null;
    this.user = null;
    localStorage.removeItem(TOKEN_KEY);
  },
};

function message(detail, status) {
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc || []).slice(-1)[0] ?? ""}: ${item.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : `HTTP ${status}`;
}

export async function api(path, { method = "GET", body, form, raw = false } = {}) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let payload;
  if (form) payload = new URLSearchParams(form);
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, { method, headers, body: payload });
  if (response.status === 401 && !form) {
    session.clear();
    window.dispatchEvent(new Event("nuanxin:signedout"));
  }
  if (!response.ok) {
    let detail = null;
    try {
      detail = (await response.json()).detail;
    } catch {
      // not JSON: the status says enough
    }
    const fields = Array.isArray(detail) ? detail.map((d) => (d.loc || []).slice(-1)[0]) : [];
    throw new ApiError(response.status, message(detail, response.status), fields);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export async function signIn(username, password) {
  const token = await api("/auth/token", { method: "POST", form: { username, password } });
  session.set(token.access_token);
  session.user = await api("/auth/me");
  return session.user;
}

export async function signOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    session.clear();
  }
}

// One EventSource for the whole app. Views subscribe with `live.on(type, fn)` and
// unsubscribe with the function it returns. document.body.dataset.live says whether the
// stream is connected ("on") — the header shows it, and so people know the list is live.
export const live = {
  source: null,
  handlers: { alert: new Set(), push: new Set(), resync: new Set(), state: new Set() },

  start() {
    this.stop();
    if (!session.token) return;
    const url = `${BASE}/alerts/stream?token=${encodeURIComponent(session.token)}`;
    const source = new EventSource(url);
    source.onopen = () => this.state("on");
    source.onerror = () => this.state("off"); // EventSource reconnects by itself
    for (const type of ["alert", "push", "resync"]) {
      source.addEventListener(type, (event) => {
        let data = null;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        for (const handler of this.handlers[type]) handler(data);
      });
    }
    this.source = source;
  },

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    this.connectedOnce = false;
    this.state("off");
  },

  state(value) {
    const was = document.body.dataset.live;
    document.body.dataset.live = value;
    if (was !== value) for (const handler of this.handlers.state) handler(value);
    // After a reconnection events may have been missed: views reload as on `resync`.
    if (was === "off" && value === "on" && this.connectedOnce) {
      for (const handler of this.handlers.resync) handler({ reason: "reconnected" });
    }
    if (value === "on") this.connectedOnce = true;
  },

  on(type, handler) {
    this.handlers[type].add(handler);
    return () => this.handlers[type].delete(handler);
  },
};
