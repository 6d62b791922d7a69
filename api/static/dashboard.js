/* Elster dispatcher's dashboard: vehicles, bookings, the day's KPIs and alerts.

   Data flows one way: SOURCES are polled into one snapshot (`state.snapshot`), and every panel
   (KPIS, ALERTS, the map and the tables) is a pure function of that snapshot. The live vehicle
   events of issue #14 plug in as one more source (e.g. `events`) plus the KPIs and alerts that
   read it; those are listed today with `needs: "events"` and shown as "–". */
"use strict";

const API = "/api/v1";
const KEY_STORAGE = "elster.operatorKey";  // sessionStorage: gone when the tab closes
const POLL_MS = 10_000;
/* The dispatcher's default longest wait after the requested pickup (fleet.online.promises). */
const MAX_WAIT_S = 900;
const OPEN = ["confirmed", "assigned", "picked_up"];
const FINAL = ["cancelled", "completed", "no_show"];

const state = {
  health: null,
  key: null,
  snapshot: null,      // { at, vehicles, requests, metrics, events }
  lastOk: null,        // Date of the last complete poll
  failedSince: null,   // Date of the first failed poll after the last good one
  timer: null,
  map: null,
  layers: null,
  markers: {},
};
window.elsterDashboard = state;  // for tests and the console

function $(id) { return document.getElementById(id); }
const t = (key, params) => I18N.t(key, params);

/* -- data sources ------------------------------------------------------------------------- */

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function fetchWithKey(url, accept = "application/json") {
  const response = await fetch(url, { headers: { Accept: accept, "X-API-Key": state.key } });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body && body.message) message = body.message + (body.fix ? ` (${body.fix})` : "");
    } catch (e) { /* not JSON */ }
    throw new HttpError(response.status, message);
  }
  return accept === "application/json" ? response.json() : response.text();
}

/* Prometheus text exposition -> { "name{labels}": value } (only what the KPIs read). */
function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+([-+0-9.eEinfNa]+)/.exec(line);
    if (m && !line.startsWith("#")) out[m[1]] = Number(m[2]);
  }
  return out;
}

/* Each source fills one field of the snapshot. `optional` ones may fail without an alert.
   503 from the fleet means "this server runs no shuttle fleet": shown, not an error. */
const SOURCES = {
  vehicles: { load: () => fetchWithKey(`${API}/fleet/vehicles`), unavailable: [] },
  requests: { load: () => fetchWithKey(`${API}/fleet/requests?status=all&limit=2000`) },
  metrics: { load: async () => parseMetrics(await fetchWithKey(`${API}/metrics`, "text/plain")), optional: true },
  // events: { load: ... }  -- vehicle positions and stop events (issue #14, live operations)
};

async function poll() {
  const snapshot = { at: new Date(), fleetAvailable: true };
  const results = await Promise.allSettled(Object.values(SOURCES).map((s) => s.load()));
  const names = Object.keys(SOURCES);
  let failure = null;
  results.forEach((result, i) => {
    const name = names[i], source = SOURCES[name];
    if (result.status === "fulfilled") { snapshot[name] = result.value; return; }
    const error = result.reason;
    if (error.status === 401) { failure = failure || error; return; }
    if (error.status === 503 && source.unavailable) {
      snapshot[name] = source.unavailable;
      snapshot.fleetAvailable = false;
      return;
    }
    snapshot[name] = null;
    if (!source.optional) failure = failure || error;
  });
  if (failure && failure.status === 401) { rejectKey(failure.message); return false; }
  if (failure) {
    state.failedSince = state.failedSince || new Date();
    setStatus(t("dash.status.failed", { message: failure.message }), true);
    renderAlerts();
    return false;
  }
  state.snapshot = snapshot;
  state.lastOk = snapshot.at;
  state.failedSince = null;
  render();
  return true;
}

/* -- derived values ----------------------------------------------------------------------- */

/* The region's calendar day of a Date (YYYY-MM-DD), the day the KPIs count. */
function regionDay(date) {
  const tz = (state.health && state.health.timezone) || undefined;
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

/* Every planned stop by booking id: { pickup: {vehicle, eta}, dropoff: {...} }. */
function plannedStops(snapshot) {
  const out = {};
  for (const v of snapshot.vehicles || []) {
    for (const stop of v.stops || []) {
      const entry = out[stop.request] || (out[stop.request] = {});
      entry[stop.kind] = { vehicle: v.id, eta: stop.eta };
    }
  }
  return out;
}

function todays(snapshot) {
  const today = regionDay(snapshot.at);
  return (snapshot.requests || []).filter((r) => regionDay(new Date(r.pickupAfter)) === today);
}

/* Planned wait (s) of today's bookings not yet picked up: planned pickup minus requested time. */
function plannedWaits(snapshot) {
  const plans = plannedStops(snapshot);
  const waits = [];
  for (const r of todays(snapshot)) {
    const pickup = (plans[r.id] || {}).pickup;
    if (pickup && pickup.eta != null) waits.push(Math.max(0, pickup.eta - Date.parse(r.pickupAfter) / 1000));
  }
  return waits;
}

function quantile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const fmtInt = (n) => Number(n).toLocaleString(I18N.locale);
const fmtPct = (x) => `${(100 * x).toLocaleString(I18N.locale, { maximumFractionDigits: 0 })} %`;
const fmtMin = (s) => t("unit.minutes", { n: Math.round(s / 60) });

/* The day's KPIs. `compute` returns a number or null (no data yet); `needs: "events"` marks
   what only the live vehicle events can tell (shown as "–" until that source exists). */
const KPIS = [
  { id: "served", compute: (s) => todays(s).filter((r) => r.status === "completed").length, format: fmtInt },
  { id: "open", compute: (s) => todays(s).filter((r) => OPEN.includes(r.status)).length, format: fmtInt },
  { id: "cancelled", compute: (s) => todays(s).filter((r) => r.status === "cancelled").length, format: fmtInt },
  {
    id: "refused",
    // Counted by the server since it started (every worker), not per day: the booking store
    // keeps no refused requests.
    compute: (s) => (s.metrics ? s.metrics['elster_shuttle_bookings_total{outcome="rejected"}'] || 0 : null),
    format: fmtInt,
  },
  { id: "onTime", needs: "events" },
  { id: "waitMean", compute: (s) => { const w = plannedWaits(s); return w.length ? w.reduce((a, b) => a + b, 0) / w.length : null; }, format: fmtMin },
  { id: "waitP95", compute: (s) => quantile(plannedWaits(s), 0.95), format: fmtMin },
  {
    id: "occupancy",
    compute: (s) => {
      const vs = s.vehicles || [];
      const seats = vs.reduce((a, v) => a + (v.capacity || 0), 0);
      return seats ? vs.reduce((a, v) => a + (v.onboard || 0), 0) / seats : null;
    },
    format: fmtPct,
  },
  { id: "vehicleKm", needs: "events" },
  { id: "emptyKm", needs: "events" },
];

/* Alerts computable from the plans; each returns a list of { level, text }. */
const ALERTS = [
  function delayed(s) {
    const plans = plannedStops(s);
    return (s.requests || []).filter((r) => r.status === "confirmed" || r.status === "assigned").flatMap((r) => {
      const pickup = (plans[r.id] || {}).pickup;
      if (!pickup || pickup.eta == null) return [];
      const late = pickup.eta - Date.parse(r.pickupAfter) / 1000 - MAX_WAIT_S;
      return late > 0 ? [{ level: "warning", text: t("dash.alert.delayed", { id: shortId(r.id), min: Math.ceil(late / 60) }) }] : [];
    });
  },
  function unplanned(s) {
    if (!s.fleetAvailable) return [];
    const plans = plannedStops(s);
    return (s.requests || []).filter((r) => OPEN.includes(r.status) && !plans[r.id])
      .map((r) => ({ level: "error", text: t("dash.alert.unplanned", { id: shortId(r.id) }) }));
  },
  function full(s) {
    return (s.vehicles || []).filter((v) => v.capacity && v.onboard >= v.capacity)
      .map((v) => ({ level: "info", text: t("dash.alert.full", { id: v.id }) }));
  },
  // Stale GPS, vehicles off their plan and drivers silent for N minutes need the events source.
];

/* -- rendering ---------------------------------------------------------------------------- */

function shortId(id) { return String(id).slice(0, 8); }

function clock(value) {
  if (value == null) return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  const tz = (state.health && state.health.timezone) || undefined;
  return new Intl.DateTimeFormat(I18N.locale, { timeZone: tz, hour: "2-digit", minute: "2-digit" }).format(date);
}

function setStatus(text, isError = false) {
  $("dash-status").textContent = text;
  $("dash-status").classList.toggle("error", isError);
}

function cell(row, text, attrs = {}) {
  const td = document.createElement("td");
  td.textContent = text;
  for (const [k, v] of Object.entries(attrs)) td.setAttribute(k, v);
  row.appendChild(td);
  return td;
}

function renderKpis() {
  const list = $("kpis");
  list.textContent = "";
  for (const kpi of KPIS) {
    const value = kpi.compute && state.snapshot ? kpi.compute(state.snapshot) : null;
    const group = document.createElement("div");
    group.className = "kpi";
    group.dataset.kpi = kpi.id;
    const dt = document.createElement("dt");
    dt.textContent = t(`dash.kpi.${kpi.id}`);
    const dd = document.createElement("dd");
    const shown = document.createElement("span");
    shown.className = "value";
    const why = kpi.needs ? t("dash.kpi.needsEvents") : t(`dash.kpi.${kpi.id}.note`);
    if (value == null) {
      shown.textContent = "–";
      shown.title = kpi.needs ? why : t("dash.kpi.noData");
    } else {
      shown.textContent = kpi.format(value);
      if (why !== `dash.kpi.${kpi.id}.note`) shown.title = why;
    }
    dd.appendChild(shown);
    if (shown.title) {  // the tooltip's text, also for keyboard and screen reader users
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ` (${shown.title})`;
      dd.appendChild(hidden);
    }
    group.append(dt, dd);
    list.appendChild(group);
  }
}

function renderAlerts() {
  const list = $("alerts");
  list.textContent = "";
  const alerts = state.snapshot ? ALERTS.flatMap((check) => check(state.snapshot)) : [];
  if (state.failedSince) alerts.unshift({ level: "error", text: t("dash.alert.stale", { since: clock(state.lastOk || state.failedSince) }) });
  if (state.snapshot && !state.snapshot.fleetAvailable) alerts.unshift({ level: "info", text: t("dash.alert.noFleet") });
  for (const alert of alerts) {
    const li = document.createElement("li");
    li.className = `alert ${alert.level}`;
    const level = document.createElement("strong");
    level.textContent = `${t(`dash.level.${alert.level}`)}: `;
    li.append(level, document.createTextNode(alert.text));
    list.appendChild(li);
  }
  if (!alerts.length) {
    const li = document.createElement("li");
    li.className = "alert none";
    li.textContent = t("dash.alert.none");
    list.appendChild(li);
  }
}

function stopText(stop) {
  return t(`dash.stop.${stop.kind}`, { id: shortId(stop.request), time: clock(stop.eta) });
}

function renderVehicles() {
  const body = $("vehicles-table").querySelector("tbody");
  body.textContent = "";
  const vehicles = (state.snapshot && state.snapshot.vehicles) || [];
  for (const v of vehicles) {
    const row = document.createElement("tr");
    row.dataset.vehicleId = v.id;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = v.id;
    row.appendChild(th);
    cell(row, t("dash.occupancy", { onboard: v.onboard ?? 0, capacity: v.capacity ?? "?" }));
    const stops = (v.stops || []).slice(0, 3).map(stopText);
    const more = (v.stops || []).length - stops.length;
    cell(row, stops.length ? stops.join("; ") + (more > 0 ? t("dash.moreStops", { n: more }) : "") : t("dash.idle"));
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "show-vehicle";
    button.textContent = t("dash.show");
    button.setAttribute("aria-label", t("dash.showVehicle", { id: v.id }));
    button.disabled = v.lat == null || v.lon == null;
    button.addEventListener("click", () => focusVehicle(v.id));
    td.appendChild(button);
    row.appendChild(td);
    body.appendChild(row);
  }
  if (!vehicles.length) {
    const row = document.createElement("tr");
    cell(row, t("dash.noVehicles"), { colspan: "4" });
    body.appendChild(row);
  }
}

function renderBookings() {
  const body = $("bookings-table").querySelector("tbody");
  body.textContent = "";
  const filter = $("bookings-filter").value;
  const plans = state.snapshot ? plannedStops(state.snapshot) : {};
  const shown = ((state.snapshot && state.snapshot.requests) || []).filter((r) =>
    filter === "all" || (filter === "open" ? OPEN : FINAL).includes(r.status));
  for (const r of shown) {
    const row = document.createElement("tr");
    row.dataset.bookingId = r.id;
    row.dataset.status = r.status;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = shortId(r.id);
    th.title = r.id;
    row.appendChild(th);
    cell(row, t(`dash.bookingStatus.${r.status}`) === `dash.bookingStatus.${r.status}` ? r.status : t(`dash.bookingStatus.${r.status}`), { class: `status ${r.status}` });
    cell(row, clock(r.pickupAfter));
    const pickup = (plans[r.id] || {}).pickup;
    cell(row, pickup ? clock(pickup.eta) : "–");
    cell(row, r.wheelchairs ? t("dash.peopleWheelchairs", { n: r.passengers, w: r.wheelchairs }) : String(r.passengers));
    cell(row, r.vehicleId || (pickup && pickup.vehicle) || "–");
    cell(row, clock(r.createdAt));
    body.appendChild(row);
  }
  if (!shown.length) {
    const row = document.createElement("tr");
    cell(row, t("dash.noBookings"), { colspan: "7" });
    body.appendChild(row);
  }
}

/* -- map ---------------------------------------------------------------------------------- */

function ensureMap() {
  if (state.map) { state.map.invalidateSize(); return state.map; }
  const map = L.map("map", { keyboard: true, zoomControl: true, attributionControl: true });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  state.layers = L.layerGroup().addTo(map);
  state.map = map;
  window.elsterMap = map;
  if (state.health) {
    const [minLon, minLat, maxLon, maxLat] = state.health.bbox;
    map.fitBounds([[minLat, minLon], [maxLat, maxLon]]);
  } else {
    map.setView([50.88, 12.08], 12);
  }
  localiseMap();
  return map;
}

function localiseMap() {
  const zoom = { "leaflet-control-zoom-in": "map.zoomIn", "leaflet-control-zoom-out": "map.zoomOut" };
  for (const [cls, key] of Object.entries(zoom)) {
    const el = document.querySelector(`.${cls}`);
    if (el) { el.title = t(key); el.setAttribute("aria-label", t(key)); }
  }
}

function renderMap() {
  const map = ensureMap();
  state.layers.clearLayers();
  state.markers = {};
  for (const v of (state.snapshot && state.snapshot.vehicles) || []) {
    if (v.lat == null || v.lon == null) continue;
    const path = [[v.lat, v.lon]];
    for (const stop of v.stops || []) {
      path.push([stop.lat, stop.lon]);
      L.circleMarker([stop.lat, stop.lon], {
        radius: 5, weight: 2, color: stop.kind === "pickup" ? "#1e6b3f" : "#a3241b", fillColor: "#fff", fillOpacity: 1,
      }).bindTooltip(`${v.id}: ${stopText(stop)}`).addTo(state.layers);
    }
    if (path.length > 1) L.polyline(path, { color: "#117a8b", weight: 3, opacity: 0.8, dashArray: "6 6" }).addTo(state.layers);
    const label = `${v.id}: ${t("dash.occupancy", { onboard: v.onboard ?? 0, capacity: v.capacity ?? "?" })}` +
      ((v.stops || []).length ? ` · ${stopText(v.stops[0])}` : "");
    state.markers[v.id] = L.circleMarker([v.lat, v.lon], {
      radius: 8, weight: 2, color: "#0b4f5a", fillColor: "#5fd3e6", fillOpacity: 1,
    }).bindTooltip(label).addTo(state.layers);
  }
  map.invalidateSize();
}

function focusVehicle(id) {
  const marker = state.markers[id];
  if (!marker) return;
  state.map.setView(marker.getLatLng(), Math.max(state.map.getZoom(), 15));
  marker.openTooltip();
}

/* -- page --------------------------------------------------------------------------------- */

function render() {
  if (!state.snapshot) return;
  $("dashboard-content").hidden = false;
  renderKpis();
  renderAlerts();
  renderVehicles();
  renderBookings();
  renderMap();
  setStatus(t("dash.status.updated", { time: clock(state.lastOk.getTime() / 1000) }));
  document.body.dataset.loaded = "true";
}

function showSignedIn(signedIn) {
  $("logout-button").hidden = !signedIn;
  $("login-button").hidden = signedIn;
  $("operator-key").disabled = signedIn;
  if (!signedIn) $("dashboard-content").hidden = true;
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function rejectKey(message) {
  stopPolling();
  state.key = null;
  state.snapshot = null;
  try { sessionStorage.removeItem(KEY_STORAGE); } catch (e) { /* storage off */ }
  showSignedIn(false);
  delete document.body.dataset.loaded;
  const input = $("operator-key");
  input.setAttribute("aria-invalid", "true");
  $("auth-message").textContent = t("dash.auth.rejected", { message });
  setStatus("");
  input.focus();
}

async function signIn(key) {
  state.key = key;
  $("auth-message").textContent = "";
  setStatus(t("dash.status.loading"));
  const ok = await poll();
  if (state.key === null) return;  // rejected (rejectKey ran)
  try { sessionStorage.setItem(KEY_STORAGE, key); } catch (e) { /* kept for this page only */ }
  $("operator-key").removeAttribute("aria-invalid");
  showSignedIn(true);
  if (ok) $("dashboard-content").hidden = false;
  stopPolling();
  state.timer = setInterval(poll, POLL_MS);
}

function signOut() {
  stopPolling();
  state.key = null;
  state.snapshot = null;
  try { sessionStorage.removeItem(KEY_STORAGE); } catch (e) { /* storage off */ }
  showSignedIn(false);
  $("operator-key").value = "";
  delete document.body.dataset.loaded;
  setStatus(t("dash.status.signedOut"));
  $("operator-key").focus();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("operator-key").value.trim();
  if (!key) { $("auth-message").textContent = t("dash.auth.empty"); $("operator-key").focus(); return; }
  signIn(key);
});
$("logout-button").addEventListener("click", signOut);
$("bookings-filter").addEventListener("change", renderBookings);
I18N.onChange(() => {
  localiseMap();
  if (state.snapshot) render();
});

async function start() {
  await I18N.init();
  try {
    const response = await fetch(`${API}/health`, { headers: { Accept: "application/json" } });
    if (response.ok) {
      state.health = await response.json();
      $("region-title").textContent = state.health.title;
    }
  } catch (e) { /* the fleet calls below report what is wrong */ }
  let saved = null;
  try { saved = sessionStorage.getItem(KEY_STORAGE); } catch (e) { /* storage off */ }
  document.body.dataset.ready = "true";
  if (saved) await signIn(saved);
  else setStatus(t("dash.status.needKey"));
}

start();
