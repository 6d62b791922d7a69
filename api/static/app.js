/* Elster map page: plain Leaflet, no tiles; every layer comes from the API as GeoJSON. */
"use strict";

const API = "/api/v1";
const MODE_COLORS = {
  WALK: "#6b7680", BIKE: "#2e8b57", BICYCLE: "#2e8b57", SCOOTER: "#c25e00", CAR: "#8a4fbf", TRAM: "#c0392b",
  BUS: "#d68910", RAIL: "#1f5fa8", SUBWAY: "#1f5fa8", TRANSIT: "#1f5fa8", SHUTTLE: "#117a8b", ODM: "#117a8b",
};

const state = { health: null, from: null, to: null, markers: {}, itineraries: [], selected: 0, drawn: null, layers: {} };

// keyboard: arrow keys pan, +/- zoom (Leaflet's); Enter sets a trip end (below).
const map = L.map("map", { preferCanvas: true, zoomControl: true, attributionControl: true, keyboard: true });
map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
window.elsterMap = map;  // for tests and the console
window.elsterState = state;

function $(id) { return document.getElementById(id); }

/* The status line; a text from I18N keys is kept as (key, params) so a language switch redraws it. */
let lastStatus = { key: "", params: {}, text: "", isError: false };

function showStatus() {
  const el = $("status");
  el.textContent = lastStatus.key ? I18N.t(lastStatus.key, lastStatus.params) : lastStatus.text;
  el.classList.toggle("error", lastStatus.isError);
}

function setStatus(key, params = {}, isError = false) {
  lastStatus = { key, params, text: "", isError };
  showStatus();
}

/* A text as the server wrote it (its error messages), not translated. */
function setStatusText(text, isError = false) {
  lastStatus = { key: "", params: {}, text, isError };
  showStatus();
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.message ? body.message : `HTTP ${response.status}`;
    const fix = body && body.fix ? ` (${body.fix})` : "";
    const error = new Error(message + fix);
    error.status = response.status;
    throw error;
  }
  return body;
}

/* Decode an encoded polyline with the given precision (6 for MOTIS/OTP legGeometry). */
function decodePolyline(text, precision = 6) {
  const factor = Math.pow(10, precision);
  const points = [];
  let index = 0, lat = 0, lon = 0;
  while (index < text.length) {
    for (const which of [0, 1]) {
      let shift = 0, result = 0, byte;
      do {
        byte = text.charCodeAt(index++) - 63;
        result |= (byte & 0x1f) << shift;
        shift += 5;
      } while (byte >= 0x20);
      const delta = result & 1 ? ~(result >> 1) : result >> 1;
      if (which === 0) lat += delta; else lon += delta;
    }
    points.push([lat / factor, lon / factor]);
  }
  return points;
}

function fmtPlace(p) { return `${p[0].toFixed(5)},${p[1].toFixed(5)}`; }

function parsePlace(text) {
  const parts = text.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v))) return null;
  return parts;
}

function labelIcon(text, cls) {
  return L.divIcon({ className: "", html: `<div class="marker-label ${cls}">${text}</div>`, iconSize: [22, 22], iconAnchor: [11, 11] });
}

function setPoint(which, latlng) {
  state[which] = latlng;
  $(which).value = fmtPlace(latlng);
  if (state.markers[which]) state.markers[which].setLatLng(latlng);
  else {
    // title: the marker is focusable (Leaflet's keyboard markers) and needs a name.
    const title = I18N.t(which === "from" ? "map.from" : "map.to");
    state.markers[which] = L.marker(latlng, { icon: labelIcon(which === "from" ? "A" : "B", which), draggable: true, title, alt: title })
      .on("dragend", (e) => { const p = e.target.getLatLng(); setPoint(which, [p.lat, p.lng]); })
      .addTo(map);
  }
}

function handleMapClick(latlng) {
  const p = [latlng.lat, latlng.lng];
  if (!state.from || (state.from && state.to)) {
    if (state.from && state.to) clearTrip(true);
    setPoint("from", p);
    setStatus("status.originSet");
  } else {
    setPoint("to", p);
    plan();
  }
}

map.on("click", (e) => handleMapClick(e.latlng));

function clearTrip(keepStatus = false) {
  for (const which of ["from", "to"]) {
    if (state.markers[which]) { map.removeLayer(state.markers[which]); delete state.markers[which]; }
    state[which] = null;
    $(which).value = "";
  }
  if (state.drawn) { map.removeLayer(state.drawn); state.drawn = null; }
  state.itineraries = [];
  $("itineraries").innerHTML = "";
  if (!keepStatus) setStatus("");
}

function selectedModes() {
  return [...document.querySelectorAll('input[name="mode"]:checked:not(:disabled)')].map((el) => el.value);
}

function syncModeOptions() {
  const ev = document.querySelector('input[name="mode"][value="ev"]');
  $("ev-options").hidden = !(ev && ev.checked);
  // Step-free trips take no bikes: the planner leaves the bike modes out.
  const wheelchair = $("wheelchair").checked;
  for (const mode of ["bike", "bike_ride", "bike_share", "free_floating"]) {
    const box = document.querySelector(`input[name="mode"][value="${mode}"]`);
    if (box && !box.dataset.unavailable) box.disabled = wheelchair;
  }
}

function minutes(seconds) { return I18N.t("unit.minutes", { n: Math.round(seconds / 60) }); }
function clock(iso) { return iso ? escapeHtml(String(iso).slice(11, 16)) : ""; }

/* Feed data (stop, station and route names, headsigns) is text: every string that goes into
   HTML (innerHTML, Leaflet tooltips and popups) passes through escapeHtml. */
function legLabel(leg) {
  const code = leg.mode === "BICYCLE" ? "BIKE" : leg.mode;
  const mode = I18N.t(`legMode.${code}`) === `legMode.${code}` ? code : I18N.t(`legMode.${code}`);
  const name = leg.routeShortName || leg.route_short_name || "";
  return escapeHtml(name ? `${mode} ${name}` : mode);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

/* What a leg adds beyond times: a shuttle's pickup window and price, unknown step-free access. */
function legNote(leg) {
  const parts = [];
  const booking = leg.booking || (leg.extra && leg.extra.booking);
  if (booking && booking.pickupWindow) {
    parts.push(I18N.t("note.pickup", { from: clock(booking.pickupWindow[0]), to: clock(booking.pickupWindow[1]) }) +
      (booking.priceEur != null ? `, ${Number(booking.priceEur).toLocaleString(I18N.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} €` : ""));
  }
  if (leg.availability === "unknown") parts.push(escapeHtml(I18N.t("note.availabilityUnknown")));
  else if (leg.reliesOnRealtime) parts.push(escapeHtml(I18N.t("note.liveAvailability")));
  const access = leg.accessibility;
  if (access && typeof access === "object") {
    if (access.note) parts.push(escapeHtml(access.note));
    else if (access.unknownSegments) parts.push(escapeHtml(I18N.t("note.unknownAccess", { count: Number(access.unknownSegments) })));
  }
  return parts.length ? ` <span class="access">${parts.join("; ")}</span>` : "";
}

function drawItinerary(index) {
  const itinerary = state.itineraries[index];
  if (!itinerary) return;
  if (state.drawn) map.removeLayer(state.drawn);
  const group = L.featureGroup();
  for (const leg of itinerary.legs) {
    const geometry = leg.legGeometry;
    const points = geometry && geometry.points
      ? decodePolyline(geometry.points, geometry.precision || 6)
      : [[leg.from.lat, leg.from.lon], [leg.to.lat, leg.to.lon]];
    const color = MODE_COLORS[leg.mode] || "#1f5fa8";
    const walking = leg.mode === "WALK";
    L.polyline(points, { color, weight: walking ? 4 : 6, opacity: 0.9, dashArray: walking ? "2 8" : null, className: "itinerary-leg" })
      .bindTooltip(`${legLabel(leg)} ${clock(leg.startTime)}–${clock(leg.endTime)}`)
      .addTo(group);
    if (leg.mode !== "WALK" && leg.from.name) {
      L.circleMarker([leg.from.lat, leg.from.lon], { radius: 4, color, fillColor: "#fff", fillOpacity: 1 })
        .bindTooltip(escapeHtml(leg.from.name)).addTo(group);
    }
  }
  state.drawn = group.addTo(map);
  map.fitBounds(group.getBounds(), { padding: [40, 40], maxZoom: 16 });
  state.selected = index;
  document.querySelectorAll("#itineraries li.itinerary").forEach((li, i) => {
    li.classList.toggle("selected", i === index);
    const button = li.querySelector(".itin-select");
    if (button) button.setAttribute("aria-pressed", String(i === index));
  });
}

function renderItineraries() {
  const list = $("itineraries");
  list.innerHTML = "";
  state.itineraries.forEach((it, i) => {
    const li = document.createElement("li");
    li.className = "itinerary";
    const legs = it.legs.map((leg) => `<span class="leg ${escapeHtml(leg.mode)}">${legLabel(leg)}</span>`).join("");
    const details = it.legs.map((leg) =>
      `<li>${clock(leg.startTime)} ${legLabel(leg)}${leg.headsign ? " → " + escapeHtml(leg.headsign) : ""}: ` +
      `${escapeHtml(leg.from.name || I18N.t("place.start"))} → ${escapeHtml(leg.to.name || I18N.t("place.destination"))} (${escapeHtml(minutes(leg.duration))})` +
      `${legNote(leg)}${realtimeNote(leg)}</li>`).join("");
    // The head is a button: keyboard users pick an itinerary as mouse users click it.
    li.innerHTML = `<button type="button" class="itin-select itin-head" aria-pressed="${i === state.selected}">` +
      `<span>${clock(it.startTime)}–${clock(it.endTime)}</span>` +
      `<span>${escapeHtml(minutes(it.duration))}</span></button><div class="legs">${legs}</div>` +
      `<ul class="leg-details">${details}</ul>`;
    li.classList.toggle("selected", i === state.selected);
    li.addEventListener("click", () => drawItinerary(i));
    list.appendChild(li);
  });
}

async function plan(event) {
  if (event) event.preventDefault();
  const from = parsePlace($("from").value), to = parsePlace($("to").value);
  if (!from || !to) { setStatus("status.needPlaces", {}, true); return; }
  setPoint("from", from); setPoint("to", to);
  const modes = selectedModes();
  if (!modes.length) { setStatus("status.needMode", {}, true); return; }
  const params = new URLSearchParams({ fromPlace: fmtPlace(from), toPlace: fmtPlace(to), modes: modes.join(",") });
  if ($("time").value) params.set("time", $("time").value);
  if ($("arrive-by").checked) params.set("arriveBy", "true");
  if ($("wheelchair").checked) params.set("wheelchair", "true");
  if (modes.includes("ev")) {
    params.set("evBatteryPercent", $("ev-battery").value || "60");
    params.set("evCapacityKwh", $("ev-capacity").value || "50");
  }
  setStatus("status.planning");
  try {
    const result = await getJSON(`${API}/plan?${params}`);
    state.itineraries = result.itineraries || [];
    state.selected = 0;
    renderItineraries();
    if (state.itineraries.length) {
      drawItinerary(0);
      setStatus("status.found", { count: state.itineraries.length });
    } else {
      setStatus("status.none", {}, true);
    }
  } catch (error) {
    state.itineraries = []; renderItineraries();
    setStatusText(error.message, true);
  }
}

/* Background and overlay layers ------------------------------------------------------------ */

const LAYER_SOURCES = {
  network: { url: `${API}/map/network?profile=car`, style: { color: "#9aa3ad", weight: 1, opacity: 0.8 }, pane: "network" },
  transit: { url: `${API}/map/transit`, style: (f) => ({ color: f.properties.color || "#1f5fa8", weight: 3, opacity: 0.75 }), pane: "transit" },
  // Live availability: filled = known to have room/bikes, hollow grey = unknown, red = none.
  stations: { url: `${API}/stations?format=geojson`, point: (f) => availabilityStyle(f, "#2e8b57", "#7fd4a0"), pane: "points", refreshSeconds: 60 },
  chargers: { url: `${API}/chargers?format=geojson`, point: (f) => availabilityStyle(f, "#8a4fbf", "#d2b4f0"), pane: "points", refreshSeconds: 60 },
  freeFloating: { url: `${API}/map/free-floating`, point: { radius: 4, color: "#c25e00", fillColor: "#ffb15c", fillOpacity: 1 }, pane: "points", refreshSeconds: 30 },
  geofencing: { url: `${API}/map/geofencing`, style: (f) => zoneStyle(f), pane: "transit" },
  closures: { url: `${API}/operations/closures.geojson`, style: (f) => ({ color: f.properties.kind === "speed" ? "#e08a00" : "#d11a1a", weight: 5, opacity: 0.9 }), point: { radius: 6, color: "#d11a1a", fillColor: "#ff8080", fillOpacity: 0.9 }, pane: "transit" },
  shuttles: { url: `${API}/map/shuttles`, point: { radius: 7, color: "#117a8b", fillColor: "#5fd3e6", fillOpacity: 1 }, pane: "points", refreshSeconds: 15 },
  vehicles: { url: `${API}/map/vehicles`, point: { radius: 6, color: "#7a1f1f", fillColor: "#f0a040", fillOpacity: 1 }, pane: "points", refreshSeconds: 10 },
};

for (const [name, z] of [["network", 250], ["transit", 300], ["points", 450]]) {
  map.createPane(name).style.zIndex = z;
}

/* Realtime state of a transit leg: delay against the schedule, platform change, alerts. */
function realtimeNote(leg) {
  if (!leg.transitLeg) return "";
  const parts = [];
  if (leg.realtime) {
    const late = Math.round((leg.departureDelay || 0) / 60);
    parts.push(late > 0 ? `+${late} min` : late < 0 ? `${late} min` : escapeHtml(I18N.t("note.onTime")));
  }
  if (leg.from && leg.from.scheduledStopId) parts.push(escapeHtml(I18N.t("note.platformChanged")));
  for (const alert of leg.alerts || []) parts.push(`⚠ ${escapeHtml(alert.headerText)}`);
  return parts.length ? ` <span class="realtime">[${parts.join("; ")}]</span>` : "";
}

function availabilityStyle(f, color, fill) {
  const a = (f.properties || {}).availability;
  if (a === "none") return { radius: 5, color: "#b22222", fillColor: "#f08080", fillOpacity: 0.9 };
  if (a === "unknown") return { radius: 5, color: "#777", fillColor: "#fff", fillOpacity: 0.6 };
  return { radius: 5, color, fillColor: fill, fillOpacity: 0.9 };
}

function zoneStyle(f) {
  const rules = (f.properties || {}).rules || [];
  const noRide = rules.some((r) => r.rideThroughAllowed === false);
  const noPark = rules.some((r) => r.rideEndAllowed === false || r.stationParking);
  const color = noRide ? "#d11a1a" : noPark ? "#e08a00" : "#117a8b";
  return { color, weight: 1, fillOpacity: 0.15 };
}

function popupHtml(props) {
  return Object.entries(props || {}).filter(([, v]) => v !== null && v !== "" && typeof v !== "object")
    .map(([k, v]) => `<b>${escapeHtml(k)}</b>: ${escapeHtml(v)}`).join("<br>");
}

async function showLayer(name, visible, reload = false) {
  const source = LAYER_SOURCES[name];
  if (!visible) { if (state.layers[name]) map.removeLayer(state.layers[name]); return; }
  if (reload && state.layers[name]) { map.removeLayer(state.layers[name]); delete state.layers[name]; }
  if (!state.layers[name]) {
    try {
      const data = await getJSON(source.url);
      state.layers[name] = L.geoJSON(data, {
        pane: source.pane,
        style: source.style,
        interactive: name !== "network",
        pointToLayer: (f, latlng) => L.circleMarker(latlng, {
          ...(typeof source.point === "function" ? source.point(f) : source.point || { radius: 3 }),
          pane: source.pane,
        }),
        onEachFeature: (f, layer) => {
          if (name === "network") return;
          if (name === "transit") {
            // Lines and stops name themselves on hover; a click still picks a trip end.
            const p = f.properties;
            layer.bindTooltip(escapeHtml(p.name || `${p.mode || ""} ${p.routeShortName || ""}`.trim()), { sticky: true });
            layer.on("click", (e) => { L.DomEvent.stop(e); handleMapClick(e.latlng); });
          } else {
            layer.bindPopup(popupHtml(f.properties));
          }
        },
      });
    } catch (error) {
      if (error.status !== 503 && error.status !== 404) setStatusText(`${I18N.t(`layer.${name}`)}: ${error.message}`, true);
      const box = document.querySelector(`input[data-layer="${name}"]`);
      if (box) { box.checked = false; box.disabled = true; box.parentElement.title = error.message; }
      return;
    }
  }
  state.layers[name].addTo(map);
}

/* Layers that move (shuttles) are fetched again while they are shown. */
for (const [name, source] of Object.entries(LAYER_SOURCES)) {
  if (!source.refreshSeconds) continue;
  setInterval(() => {
    const box = document.querySelector(`input[data-layer="${name}"]`);
    if (box && box.checked && !box.disabled) showLayer(name, true, true);
  }, source.refreshSeconds * 1000);
}

document.querySelectorAll("#layers input").forEach((box) =>
  box.addEventListener("change", () => showLayer(box.dataset.layer, box.checked)));
$("plan-form").addEventListener("submit", plan);
document.querySelectorAll('input[name="mode"]').forEach((box) => box.addEventListener("change", syncModeOptions));
$("wheelchair").addEventListener("change", syncModeOptions);
$("clear-button").addEventListener("click", () => clearTrip());
$("swap-button").addEventListener("click", () => {
  const a = $("from").value, b = $("to").value;
  $("from").value = b; $("to").value = a;
  if (parsePlace(b) && parsePlace(a)) plan();
});

/* Keyboard: Enter or space on the focused map sets the next trip end at the map's centre
   (arrow keys pan and +/- zoom, Leaflet's own keys), as a click would. */
map.getContainer().addEventListener("keydown", (e) => {
  if (e.target !== map.getContainer() || (e.key !== "Enter" && e.key !== " ")) return;
  e.preventDefault();
  handleMapClick(map.getCenter());
});

/* Texts set from script: translated again whenever the language changes. */
function localise() {
  const zoom = { "leaflet-control-zoom-in": "map.zoomIn", "leaflet-control-zoom-out": "map.zoomOut" };
  for (const [cls, key] of Object.entries(zoom)) {
    const el = document.querySelector(`.${cls}`);
    if (el) { el.title = I18N.t(key); el.setAttribute("aria-label", I18N.t(key)); }
  }
  for (const el of document.querySelectorAll("[data-unavailable-key]")) {
    el.title = I18N.t(el.dataset.unavailableKey, { what: el.dataset.unavailableWhat || "" });
  }
  showStatus();
  renderItineraries();
}
I18N.onChange(localise);

async function start() {
  await I18N.init();
  try {
    state.health = await getJSON(`${API}/health`);
  } catch (error) {
    setStatus("status.notReady", { message: error.message }, true);
    map.setView([49.41, 8.69], 13);
    return;
  }
  const h = state.health;
  $("region-title").textContent = h.title;
  const [minLon, minLat, maxLon, maxLat] = h.bbox;
  map.fitBounds([[minLat, minLon], [maxLat, maxLon]]);
  if (h.default_date) {
    const now = new Date();
    const hhmm = `${String(now.getHours()).padStart(2, "0")}:${String(now.getMinutes()).padStart(2, "0")}`;
    $("time").value = `${h.default_date}T${hhmm < "06:00" || hhmm > "22:00" ? "08:00" : hhmm}`;
  }
  const components = h.components || {};
  const ready = (name) => Boolean(components[name] && components[name].ready);
  // Which modes this server can plan: transit-based ones need the timetable, the shuttle a fleet.
  const needs = { transit: ["transit"], bike_ride: ["transit"], shuttle: ["transit", "shuttle"], ev: ["chargers"], free_floating: ["vehicles"] };
  for (const box of document.querySelectorAll('input[name="mode"]')) {
    const missing = (needs[box.value] || []).filter((c) => !ready(c));
    if (!ready("planner") || missing.length) {
      box.checked = false; box.disabled = true; box.dataset.unavailable = "true";
      box.parentElement.dataset.unavailableKey = "map.unavailable";
      box.parentElement.dataset.unavailableWhat = missing.join(", ") || "planner";
    }
  }
  if (!ready("wheelchair")) {
    $("wheelchair").disabled = true;
    $("wheelchair").parentElement.dataset.unavailableKey = "map.wheelchairUnavailable";
  }
  localise();
  syncModeOptions();
  document.querySelectorAll("#layers input:checked").forEach((box) => showLayer(box.dataset.layer, true));
  document.body.dataset.ready = "true";
}

start();
