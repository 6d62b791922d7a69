/* Elster dispatcher's dashboard: vehicles, bookings, the day's KPIs and alerts.

   Data flows one way: SOURCES are polled into one snapshot (`state.snapshot`), and every panel
   (KPIS, the alerts, the map and the tables) is a pure function of that snapshot. The day's
   figures and the live alerts (stale GPS, vehicles off their plan, silent drivers, delayed
   bookings, stranded passengers) are the server's (`/fleet/kpis`, `/fleet/alerts`): the page
   formats them, it does not recompute them. */
"use strict";

const API = "/api/v1";
const KEY_STORAGE = "elster.operatorKey";  // sessionStorage: gone when the tab closes
const POLL_MS = 10_000;
const OPEN = ["confirmed", "assigned", "arriving", "delayed", "picked_up"];
const FINAL = ["cancelled", "completed", "no_show", "cancelled_by_operator"];
/* The map draws a vehicle's line to this many of its next stops. */
const STOPS_ON_MAP = 3;
/* A vehicle whose stops run at least this late (s) shows as delayed. */
const DELAY_SHOWN_S = 60;

const state = {
  health: null,
  key: null,
  snapshot: null,      // { at, vehicles, requests, kpis, alerts, fleetAvailable }
  lastOk: null,        // Date of the last complete poll
  failedSince: null,   // Date of the first failed poll after the last good one
  timer: null,
  polling: null,       // the poll under way (a refresh joins it)
  polls: 0,            // complete polls shown so far
  map: null,
  layers: null,
  markers: {},
  nextStops: {},       // vehicle id -> [[lat, lon], ...]: its position, then its next stops
  alertsShown: null,   // what the alerts list shows now (redrawn only when it changes)
};
window.elsterDashboard = state;  // for tests and the console

function $(id) { return document.getElementById(id); }
const t = (key, params) => I18N.t(key, params);

/* -- data sources ------------------------------------------------------------------------- */

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function fetchWithKey(url) {
  const response = await fetch(url, { headers: { Accept: "application/json", "X-API-Key": state.key } });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body && body.message) message = body.message + (body.fix ? ` (${body.fix})` : "");
    } catch (e) { /* not JSON */ }
    throw new HttpError(response.status, message);
  }
  return response.json();
}

/* Each source fills one field of the snapshot. 503 from the fleet means "this server runs no
   shuttle fleet": shown as such (with the `unavailable` value), not as an error. */
const SOURCES = {
  vehicles: { load: () => fetchWithKey(`${API}/fleet/vehicles`), unavailable: [] },
  requests: { load: () => fetchWithKey(`${API}/fleet/requests?status=all&limit=2000`) },
  kpis: { load: () => fetchWithKey(`${API}/fleet/kpis`), unavailable: {} },
  alerts: { load: () => fetchWithKey(`${API}/fleet/alerts`), unavailable: [] },
};

/* One poll at a time: a refresh asked for while one runs waits for that one. */
function poll() {
  if (!state.polling) state.polling = pollOnce().finally(() => { state.polling = null; });
  return state.polling;
}

async function pollOnce() {
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
    failure = failure || error;
  });
  if (state.key === null) return false;  // signed out while the poll ran
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

/* What a vehicle is doing, for people: on shift, off shift, out of service, delayed, or (on a
   server that simulates its fleet, whose vehicles have no shifts) simulated. */
function vehicleState(v) {
  if (v.on_shift === undefined) return { id: "simulated" };
  if (v.mode === "out_of_service" || v.broken) return { id: "outOfService" };
  if (!v.on_shift) return { id: "offShift" };
  if ((v.delay_s || 0) >= DELAY_SHOWN_S) return { id: "delayed", min: Math.round(v.delay_s / 60) };
  return { id: "onShift" };
}

function vehicleStateText(v) {
  const s = vehicleState(v);
  return t(`dash.vehicleState.${s.id}`, { min: s.min });
}

/* -- formats (the page's language decides separators and units) --------------------------- */

function number(x, digits) {
  return new Intl.NumberFormat(I18N.locale, { maximumFractionDigits: digits }).format(x);
}
const fmtInt = (n) => number(n, 0);
const fmtPct = (x) => new Intl.NumberFormat(I18N.locale, { style: "percent", maximumFractionDigits: 0 }).format(x);
const fmtMin = (s) => t("unit.minutes", { n: number(s / 60, 1) });
const fmtKm = (km) => t("unit.km", { n: number(km, 1) });
const fmtRatio = (x) => number(x, 2);

/* The day's KPIs, as `GET /fleet/kpis` returns them (`field`); "–" where the server has no
   value (nothing measured yet, or a fleet that is simulated and has no vehicle reports). */
const KPIS = [
  { id: "served", field: "served", format: fmtInt },
  { id: "refused", field: "refused", format: fmtInt },
  { id: "onTime", field: "onTimePickupShare", format: fmtPct },
  { id: "waitMean", field: "waitMeanS", format: fmtMin },
  { id: "waitP95", field: "waitP95S", format: fmtMin },
  { id: "occupancy", field: "occupancy", format: fmtRatio },
  { id: "vehicleKm", field: "vehicleKm", format: fmtKm },
  { id: "emptyKm", field: "emptyKm", format: fmtKm },
  { id: "open", field: "open", format: fmtInt },
  { id: "delayed", field: "delayed", format: fmtInt },
  { id: "noShows", field: "noShows", format: fmtInt },
  { id: "cancelledByOperator", field: "cancelledByOperator", format: fmtInt },
  { id: "replans", field: "replans", format: fmtInt },
  { id: "rescues", field: "rescues", format: fmtInt },
];

/* -- alerts ------------------------------------------------------------------------------- */

const ALERT_LEVEL = {
  stranded: "error", delayed_booking: "warning", off_plan: "warning",
  stale_gps: "warning", no_driver_events: "warning",
};

/* One alert of the server in the page's words: { level, kind, text, vehicle, booking }. */
function serverAlert(a, plans, vehicles) {
  const params = {
    vehicle: a.vehicle || "", booking: a.booking ? shortId(a.booking) : "",
    since: a.since ? clock(a.since) : "–", message: a.message,
  };
  if (a.kind === "off_plan") {
    const v = vehicles[a.vehicle];
    params.min = v && v.delay_s != null ? Math.round(v.delay_s / 60) : "?";
  }
  const known = t(`dash.alert.${a.kind}`) !== `dash.alert.${a.kind}`;
  let text = known ? t(`dash.alert.${a.kind}`, params) : a.message;
  const pickup = (plans[a.booking] || {}).pickup;
  if (a.kind === "delayed_booking" && pickup) text += t("dash.alert.newPickup", { eta: clock(pickup.eta) });
  return {
    level: ALERT_LEVEL[a.kind] || "warning",
    kind: a.kind,
    kindText: known ? t(`dash.alertKind.${a.kind}`) : a.kind,
    text,
    vehicle: a.vehicle || null,
    booking: a.booking || null,
  };
}

/* Alerts the page sees in the plans themselves (the server does not list these). */
function planAlerts(s, plans) {
  const out = [];
  if (s.fleetAvailable) {
    for (const r of s.requests || []) {
      if (OPEN.includes(r.status) && !plans[r.id]) {
        out.push({ level: "error", kind: "unplanned", kindText: t("dash.alertKind.unplanned"),
          text: t("dash.alert.unplanned", { id: shortId(r.id) }), booking: r.id, vehicle: null });
      }
    }
  }
  for (const v of s.vehicles || []) {
    if (v.capacity && v.onboard >= v.capacity) {
      out.push({ level: "info", kind: "full", kindText: t("dash.alertKind.full"),
        text: t("dash.alert.full", { id: v.id }), vehicle: v.id, booking: null });
    }
  }
  return out;
}

function currentAlerts() {
  const s = state.snapshot;
  const alerts = [];
  if (state.failedSince) {
    alerts.push({ level: "error", kind: "connection", kindText: t("dash.alertKind.connection"),
      text: t("dash.alert.stale", { since: clock(state.lastOk || state.failedSince) }) });
  }
  if (!s) return alerts;
  if (!s.fleetAvailable) alerts.push({ level: "info", kind: "noFleet", kindText: t("dash.alertKind.noFleet"), text: t("dash.alert.noFleet") });
  const plans = plannedStops(s);
  const vehicles = Object.fromEntries((s.vehicles || []).map((v) => [v.id, v]));
  for (const a of s.alerts || []) alerts.push(serverAlert(a, plans, vehicles));
  return alerts.concat(planAlerts(s, plans));
}

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

/* Redraw `container` with `draw`, keeping the keyboard focus on the element with the same
   `data-focus-key`: the tables and alerts are redrawn on every poll, and a keyboard user's
   place must not jump back to the top of the page. */
function keepingFocus(container, draw) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  draw();
  if (!key) return;
  const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (again) again.focus({ preventScroll: true });
}

function renderKpis() {
  const list = $("kpis");
  list.textContent = "";
  const snapshot = state.snapshot;
  const kpis = (snapshot && snapshot.kpis) || {};
  // A live fleet always reports the day's counts; a simulated one has no vehicle reports.
  const live = kpis.served != null;
  for (const kpi of KPIS) {
    const value = kpis[kpi.field];
    const group = document.createElement("div");
    group.className = "kpi";
    group.dataset.kpi = kpi.id;
    group.dataset.value = value == null ? "" : String(value);
    const dt = document.createElement("dt");
    dt.textContent = t(`dash.kpi.${kpi.id}`);
    const dd = document.createElement("dd");
    const shown = document.createElement("span");
    shown.className = "value";
    let why;
    if (value == null) {
      shown.textContent = "–";
      why = !snapshot || !snapshot.fleetAvailable ? t("dash.alert.noFleet")
        : live ? t("dash.kpi.noData") : t("dash.kpi.simulated");
    } else {
      shown.textContent = kpi.format(value);
      const note = t(`dash.kpi.${kpi.id}.note`);
      why = note === `dash.kpi.${kpi.id}.note` ? "" : note;
    }
    dd.appendChild(shown);
    if (why) {  // the tooltip's text, also for keyboard and screen reader users
      shown.title = why;
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ` (${why})`;
      dd.appendChild(hidden);
    }
    group.append(dt, dd);
    list.appendChild(group);
  }
}

function linkButton(text, focusKey, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "alert-link";
  button.textContent = text;
  button.dataset.focusKey = focusKey;
  button.addEventListener("click", action);
  return button;
}

function renderAlerts() {
  const alerts = currentAlerts();
  // Redraw only what changed: the list is a polite live region, read out on every change.
  const shown = JSON.stringify([I18N.lang, alerts.map((a) => [a.level, a.kind, a.text, a.vehicle, a.booking])]);
  if (shown === state.alertsShown) return;
  state.alertsShown = shown;
  const list = $("alerts");
  keepingFocus(list, () => {
    list.textContent = "";
    for (const alert of alerts) {
      const li = document.createElement("li");
      li.className = `alert ${alert.level}`;
      li.dataset.kind = alert.kind;
      if (alert.vehicle) li.dataset.vehicle = alert.vehicle;
      if (alert.booking) li.dataset.booking = alert.booking;
      const kind = document.createElement("strong");
      kind.className = "alert-kind";
      kind.textContent = `${t(`dash.level.${alert.level}`)}: ${alert.kindText}`;
      const text = document.createElement("span");
      text.className = "alert-text";
      text.textContent = ` – ${alert.text} `;
      li.append(kind, text);
      if (alert.vehicle) {
        li.appendChild(linkButton(t("dash.alertShowVehicle", { id: alert.vehicle }),
          `alert:${alert.kind}:vehicle:${alert.vehicle}`, () => showVehicle(alert.vehicle)));
      }
      if (alert.booking) {
        li.appendChild(linkButton(t("dash.alertShowBooking", { id: shortId(alert.booking) }),
          `alert:${alert.kind}:booking:${alert.booking}`, () => showBooking(alert.booking)));
      }
      list.appendChild(li);
    }
    if (!alerts.length) {
      const li = document.createElement("li");
      li.className = "alert none";
      li.textContent = t("dash.alert.none");
      list.appendChild(li);
    }
  });
}

function stopText(stop) {
  return t(`dash.stop.${stop.kind}`, { id: shortId(stop.request), time: clock(stop.eta) });
}

function renderVehicles() {
  const body = $("vehicles-table").querySelector("tbody");
  keepingFocus(body, () => {
    body.textContent = "";
    const vehicles = (state.snapshot && state.snapshot.vehicles) || [];
    for (const v of vehicles) {
      const row = document.createElement("tr");
      row.dataset.vehicleId = v.id;
      row.dataset.state = vehicleState(v).id;
      row.dataset.focusKey = `vehicle:${v.id}`;
      row.tabIndex = -1;  // an alert's link moves the focus here
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = v.id;
      row.appendChild(th);
      cell(row, vehicleStateText(v), { class: `vehicle-state ${vehicleState(v).id}` });
      cell(row, t("dash.occupancy", { onboard: v.onboard ?? 0, capacity: v.capacity ?? "?" }));
      const stops = (v.stops || []).slice(0, 3).map(stopText);
      const more = (v.stops || []).length - stops.length;
      cell(row, stops.length ? stops.join("; ") + (more > 0 ? t("dash.moreStops", { n: more }) : "") : t("dash.idle"),
        { class: "next-stops" });
      cell(row, v.on_shift === undefined ? "–" : clock(v.last_fix_at), { class: "last-fix" });
      const td = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "show-vehicle";
      button.textContent = t("dash.show");
      button.dataset.focusKey = `show:${v.id}`;
      button.setAttribute("aria-label", t("dash.showVehicle", { id: v.id }));
      button.disabled = v.lat == null || v.lon == null;
      button.addEventListener("click", () => focusVehicle(v.id));
      td.appendChild(button);
      row.appendChild(td);
      body.appendChild(row);
    }
    if (!vehicles.length) {
      const row = document.createElement("tr");
      cell(row, t("dash.noVehicles"), { colspan: "6" });
      body.appendChild(row);
    }
  });
}

function statusText(status) {
  const text = t(`dash.bookingStatus.${status}`);
  return text === `dash.bookingStatus.${status}` ? status : text;
}

function renderBookings() {
  const body = $("bookings-table").querySelector("tbody");
  keepingFocus(body, () => {
    body.textContent = "";
    const filter = $("bookings-filter").value;
    const plans = state.snapshot ? plannedStops(state.snapshot) : {};
    const shown = ((state.snapshot && state.snapshot.requests) || []).filter((r) =>
      filter === "all" || (filter === "open" ? OPEN : FINAL).includes(r.status));
    for (const r of shown) {
      const row = document.createElement("tr");
      row.dataset.bookingId = r.id;
      row.dataset.status = r.status;
      row.dataset.focusKey = `booking:${r.id}`;
      row.tabIndex = -1;  // an alert's link moves the focus here
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = shortId(r.id);
      th.title = r.id;
      row.appendChild(th);
      cell(row, statusText(r.status), { class: `status ${r.status}` });
      cell(row, clock(r.pickupAfter));
      const plan = plans[r.id] || {};
      cell(row, plan.pickup ? clock(plan.pickup.eta) : "–");
      cell(row, r.wheelchairs ? t("dash.peopleWheelchairs", { n: r.passengers, w: r.wheelchairs }) : String(r.passengers));
      // The vehicle of the plan: a booking moved after a delay or breakdown has a new one.
      const planned = plan.pickup || plan.dropoff;
      cell(row, (planned && planned.vehicle) || r.vehicleId || "–");
      cell(row, clock(r.createdAt));
      body.appendChild(row);
    }
    if (!shown.length) {
      const row = document.createElement("tr");
      cell(row, t("dash.noBookings"), { colspan: "7" });
      body.appendChild(row);
    }
  });
}

/* An alert's link: the vehicle's row gets the focus and the map shows the vehicle. */
function showVehicle(id) {
  focusVehicle(id);
  const row = document.querySelector(`#vehicles-table tr[data-vehicle-id="${CSS.escape(id)}"]`);
  if (row) row.focus();
}

/* An alert's link: the booking's row gets the focus (the list shows all bookings if needed). */
function showBooking(id) {
  const find = () => document.querySelector(`#bookings-table tr[data-booking-id="${CSS.escape(id)}"]`);
  if (!find()) {
    $("bookings-filter").value = "all";
    renderBookings();
  }
  const row = find();
  if (row) row.focus();
}

/* -- map ---------------------------------------------------------------------------------- */

/* Marker colours by vehicle state (border on fill: the border carries the contrast). */
const VEHICLE_STYLE = {
  onShift: { color: "#0b4f5a", fillColor: "#5fd3e6" },
  simulated: { color: "#0b4f5a", fillColor: "#5fd3e6" },
  delayed: { color: "#8f5600", fillColor: "#f3b13c" },
  offShift: { color: "#5f6a74", fillColor: "#d5dae0" },
  outOfService: { color: "#a3241b", fillColor: "#f08c82" },
};

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
  state.nextStops = {};
  for (const v of (state.snapshot && state.snapshot.vehicles) || []) {
    if (v.lat == null || v.lon == null) continue;
    const next = (v.stops || []).slice(0, STOPS_ON_MAP);
    const path = [[v.lat, v.lon], ...next.map((stop) => [stop.lat, stop.lon])];
    state.nextStops[v.id] = path;
    if (path.length > 1) L.polyline(path, { color: "#117a8b", weight: 3, opacity: 0.8, dashArray: "6 6" }).addTo(state.layers);
    for (const stop of next) {
      L.circleMarker([stop.lat, stop.lon], {
        radius: 5, weight: 2, color: stop.kind === "pickup" ? "#1e6b3f" : "#a3241b", fillColor: "#fff", fillOpacity: 1,
      }).bindTooltip(`${v.id}: ${stopText(stop)}`).addTo(state.layers);
    }
    const label = `${v.id} (${vehicleStateText(v)}): ${t("dash.occupancy", { onboard: v.onboard ?? 0, capacity: v.capacity ?? "?" })}` +
      (next.length ? ` · ${stopText(next[0])}` : "");
    state.markers[v.id] = L.circleMarker([v.lat, v.lon], {
      radius: 8, weight: 2, fillOpacity: 1, ...VEHICLE_STYLE[vehicleState(v).id],
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
  document.body.dataset.polls = String(++state.polls);  // tests wait for the next one
}

function showSignedIn(signedIn) {
  $("logout-button").hidden = !signedIn;
  $("refresh-button").hidden = !signedIn;
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
  state.alertsShown = null;
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
  state.alertsShown = null;
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
$("refresh-button").addEventListener("click", () => { setStatus(t("dash.status.loading")); poll(); });
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
