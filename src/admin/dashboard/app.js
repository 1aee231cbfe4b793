// The edgemq dashboard: plain JavaScript, no dependencies, served from the binary (docs/operations.md,
// "Dashboard"). Reads the admin REST API with the bearer token the operator types in (kept for
// the browser tab only, in sessionStorage). Client-supplied strings are only ever set as text.
"use strict";

const HISTORY = 120;  // seconds of rates on the chart
const TOKEN_KEY = "edgemq.adminToken";

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  last: null,  // {t, received, sent}: the previous counter sample
  rates: [],   // [{in, out}], oldest first
  keysNext: null,
};

const $ = (id) => document.getElementById(id);

class HttpError extends Error {
  constructor(status, body) {
    super((body && body.message) || "HTTP " + status);
    this.status = status;
  }
}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const res = await fetch(path, { headers, cache: "no-store" });
  let body = null;
  try { body = await res.json(); } catch (_) { /* an empty or non-JSON body */ }
  if (!res.ok) throw new HttpError(res.status, body);
  return body;
}

function setStatus(ok, text) {
  const s = $("status");
  s.dataset.state = ok ? "ok" : "error";
  s.textContent = text;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}

// ---- token -------------------------------------------------------------------------------------

function askToken(refused) {
  $("panels").hidden = true;
  $("token-form").hidden = false;
  $("token-error").hidden = !refused;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start();
});

// ---- broker counters and the rate chart ---------------------------------------------------------

async function pollBroker() {
  const b = await api("/api/v1/broker");
  const c = b.counters || {};
  $("version").textContent = "v" + b.version + " · up " + formatDuration(b.uptime_seconds);
  $("retained-count").textContent = c["retained/count"] ?? "–";
  $("connected-count").textContent = c["clients/connected"] ?? "–";
  const now = performance.now() / 1000;
  const sample = { t: now, received: c["messages/received"] || 0, sent: c["messages/sent"] || 0 };
  if (state.last && now > state.last.t) {
    const dt = now - state.last.t;
    // A restart of the daemon resets the counters: never plot a negative rate.
    const rin = Math.max(0, sample.received - state.last.received) / dt;
    const rout = Math.max(0, sample.sent - state.last.sent) / dt;
    state.rates.push({ in: rin, out: rout });
    if (state.rates.length > HISTORY) state.rates.shift();
    $("rate-in").textContent = rin.toFixed(1);
    $("rate-out").textContent = rout.toFixed(1);
    const canvas = $("rate-chart");
    canvas.dataset.points = String(state.rates.length);
    canvas.dataset.lastRateIn = rin.toFixed(3);
    canvas.dataset.lastRateOut = rout.toFixed(3);
    drawChart();
  }
  state.last = sample;
}

function drawChart() {
  const canvas = $("rate-chart");
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 48, bottom = h - 20, top = 10, right = w - 10;
  const max = niceMax(Math.max(1, ...state.rates.map((r) => Math.max(r.in, r.out))));
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7480";
  g.strokeStyle = "#e3e6ea";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = bottom - ((bottom - top) * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    g.fillText(formatRate((max * i) / 4), 4, y + 4);
  }
  g.fillText("-" + HISTORY + " s", left, h - 4);
  g.fillText("now", right - 22, h - 4);
  const x = (i) => right - ((state.rates.length - 1 - i) * (right - left)) / (HISTORY - 1);
  const y = (v) => bottom - (v / max) * (bottom - top);
  for (const [key, color] of [["in", "#2f6fdb"], ["out", "#d9822b"]]) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    state.rates.forEach((r, i) => (i ? g.lineTo(x(i), y(r[key])) : g.moveTo(x(i), y(r[key]))));
    g.stroke();
  }
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function formatRate(v) {
  return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k" : v.toFixed(v < 10 && v % 1 ? 1 : 0);
}

function formatDuration(s) {
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

// ---- clients ------------------------------------------------------------------------------------

async function pollClients() {
  const page = await api("/api/v1/clients?limit=1000");
  const tbody = $("clients").tBodies[0];
  const rows = document.createDocumentFragment();
  for (const c of page.clients) {
    const tr = document.createElement("tr");
    tr.dataset.clientId = c.client_id;
    cell(tr, c.client_id);
    cell(tr, c.username ?? "");
    cell(tr, c.listener);
    cell(tr, c.protocol_version);
    cell(tr, new Date(c.connected_at_ms).toLocaleTimeString());
    cell(tr, c.subscriptions);
    cell(tr, c.queued);
    cell(tr, c.inflight);
    rows.appendChild(tr);
  }
  tbody.replaceChildren(rows);
  $("clients").dataset.count = String(page.clients.length);
  $("clients-note").textContent = page.next ? "(the first " + page.clients.length + ")" : "(" + page.clients.length + ")";
}

// ---- state store browser ------------------------------------------------------------------------

async function browseKeys(more) {
  const prefix = $("keys-prefix").value;
  const tbody = $("keys").tBodies[0];
  let path = "/api/v1/statestore/keys?limit=100&prefix=" + encodeURIComponent(prefix);
  if (more && state.keysNext !== null) path += "&after=" + encodeURIComponent(state.keysNext);
  else tbody.replaceChildren();
  try {
    const page = await api(path);
    for (const item of page.items) {
      const tr = document.createElement("tr");
      cell(tr, item.key);
      cell(tr, item.value);
      cell(tr, item.encoding);
      cell(tr, item.version);
      tbody.appendChild(tr);
    }
    state.keysNext = page.next ?? null;
    $("keys-more").hidden = state.keysNext === null;
    const n = tbody.rows.length;
    $("keys-note").textContent = n ? n + " key" + (n === 1 ? "" : "s") + (state.keysNext !== null ? " so far" : "") : "No keys with this prefix.";
    $("keys").dataset.state = "ok";
    $("keys").hidden = false;
  } catch (e) {
    $("keys-more").hidden = true;
    $("keys").hidden = true;
    $("keys").dataset.state = e.status === 404 ? "unavailable" : "error";
    $("keys-note").textContent = e.status === 404
      ? "The state store keys API is not available on this broker (404): this version does not serve it, or the state store is off."
      : "Could not list keys: " + e.message;
  }
}

$("keys-form").addEventListener("submit", (e) => { e.preventDefault(); browseKeys(false); });
$("keys-more").addEventListener("click", () => browseKeys(true));

// ---- polling ------------------------------------------------------------------------------------

let timers = [];

function every(ms, fn) {
  let running = false;
  const tick = async () => {
    if (running) return;  // a slow answer: skip a beat instead of piling requests up
    running = true;
    try {
      await fn();
      setStatus(true, "live");
    } catch (e) {
      if (e.status === 401) return stop(true);
      setStatus(false, e.message || "unreachable");
    } finally {
      running = false;
    }
  };
  tick();
  timers.push(setInterval(tick, ms));
}

function stop(refused) {
  timers.forEach(clearInterval);
  timers = [];
  state.last = null;
  askToken(refused);
}

async function start() {
  timers.forEach(clearInterval);
  timers = [];
  try {
    await api("/api/v1/broker");  // checks the token once before anything polls
  } catch (e) {
    if (e.status === 401) return askToken(Boolean(state.token));
    setStatus(false, e.message || "unreachable");
  }
  $("token-form").hidden = true;
  $("panels").hidden = false;
  every(1000, pollBroker);
  every(2000, pollClients);
  browseKeys(false);
}

async function boot() {
  // Whether a token is configured: asked without one, so that the page asks for it only when needed.
  let cfg;
  try {
    cfg = await fetch("/dashboard/config.json", { cache: "no-store" }).then((r) => r.json());
  } catch (e) {
    setStatus(false, "admin server unreachable");
    return setTimeout(boot, 5000);
  }
  if (cfg.token_required && !state.token) return askToken(false);
  start();
}

window.addEventListener("resize", drawChart);
boot();
