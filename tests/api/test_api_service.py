"""The API on Heidelberg: routes against an oracle, errors, limits, auth, layers, metrics."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from routing.geo import haversine_m
from routing.polyline import decode_polyline, encode_polyline
from routing.search import shortest_path_cost
from tests.support.api import OPERATOR_KEY, hd_settings, shared_state

A = (49.4094, 8.6937)  # Bismarckplatz
B = (49.4183, 8.6758)  # Neuenheim


@pytest.fixture(scope="module")
def state(hd_data_dir: Path, cache_dir: Path):
    return shared_state(hd_data_dir, cache_dir)


@pytest.fixture(scope="module")
def client(state, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "b.db"
    settings_ = hd_settings(state.settings.data_dir, state.settings.cache_dir, f"sqlite:///{db}")
    with TestClient(create_app(settings_, state=state)) as c:
        yield c


def place(p):
    return f"{p[0]},{p[1]}"


def decode(text, precision=6):
    lats, lons = decode_polyline(text, precision)
    return list(zip(lats.tolist(), lons.tolist(), strict=True))


def assert_error(response, status, *words):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "message", "fix"}
    text = (body["message"] + " " + body["fix"]).lower()
    for word in words:
        assert word.lower() in text, (word, body)
    return body


def test_health_lists_components(client):
    body = client.get("/api/v1/health").json()
    assert body["region"] == "heidelberg"
    assert body["components"]["road"]["ready"] is True
    assert set(body["components"]) >= {"road", "transit", "stations", "chargers", "shuttle"}
    assert body["components"]["planner"]["ready"] is True


def test_planner_reads_the_live_stores(state):
    """Availability updates through the API are what the planner sees: one set of stores."""
    assert state.planner.stations is state.stations
    assert state.planner.chargers is state.chargers
    assert state.planner.transit is state.transit
    assert state.planner.networks["walk"] is state.networks["walk"]


@pytest.mark.parametrize("profile", ["walk", "bike", "car"])
def test_route_matches_dijkstra_oracle(client, state, profile):
    r = client.get(
        "/api/v1/route", params={"fromPlace": place(A), "toPlace": place(B), "profile": profile}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    graph = state.networks[profile].graph
    a = state.networks[profile].snapper.snap(*A)
    b = state.networks[profile].snapper.snap(*B)
    oracle = min(
        shortest_path_cost(graph, *a.source_seeds(), *b.target_seeds(), method="dijkstra"),
        a.direct_cost_to(b),
    )
    assert body["duration"] == pytest.approx(oracle, abs=0.06)
    points = decode(body["legGeometry"]["points"], body["legGeometry"]["precision"])
    assert body["legGeometry"]["precision"] == 6
    assert len(points) == body["legGeometry"]["length"] >= 2
    assert haversine_m(*points[0], a.lat, a.lon) < 1.0
    assert haversine_m(*points[-1], b.lat, b.lon) < 1.0
    # The drawn line is about as long as the reported distance.
    drawn = sum(float(haversine_m(*p, *q)) for p, q in pairwise(points))
    assert drawn == pytest.approx(body["distance"], rel=0.03)


def test_plan_direct_modes_pareto_and_geojson(client):
    """Walking is dominated by cycling (later, more effort, same price): only its reason stays."""
    params = {"fromPlace": place(A), "toPlace": place(B), "modes": "walk,bike,car"}
    body = client.get("/api/v1/plan", params=params).json()
    modes = {it["legs"][0]["mode"] for it in body["itineraries"]}
    assert modes == {"BICYCLE", "CAR"}
    assert "better" in body["reasons"]["walk"]
    for it in body["itineraries"]:
        leg = it["legs"][0]
        assert it["duration"] == pytest.approx(leg["duration"])
        assert leg["legGeometry"]["precision"] == 6
        assert it["cost"]["currency"] == "EUR"
    durations = {it["legs"][0]["mode"]: it["duration"] for it in body["itineraries"]}
    assert durations["CAR"] < durations["BICYCLE"]
    geo = client.get("/api/v1/plan", params={**params, "format": "geojson"}).json()
    assert geo["type"] == "FeatureCollection"
    assert len(geo["features"]) == 2
    assert "walk" in geo["properties"]["reasons"]
    lon, lat = geo["features"][0]["geometry"]["coordinates"][0]
    assert 8.5 < lon < 8.9
    assert 49.3 < lat < 49.6


def test_plan_arrive_by_arrives_in_time(client):
    params = {
        "fromPlace": place(A),
        "toPlace": "49.3925,8.6890",
        "modes": "walk,transit",
        "time": "2022-09-14T09:00:00",
        "arriveBy": "true",
    }
    body = client.get("/api/v1/plan", params=params).json()
    assert body["arriveBy"] is True
    assert body["itineraries"], body
    for it in body["itineraries"]:
        assert it["endTime"] <= "2022-09-14T09:00:00+02:00"
        assert it["endTime"] >= "2022-09-14T08:00:00+02:00"  # not arriving hours early
    window = client.get("/api/v1/plan", params={**params, "window": 600})
    assert_error(window, 422, "window", "arriveBy")


def test_plan_wheelchair_is_step_free_with_access_notes(client, state):
    assert state.component("wheelchair").ready, state.component("wheelchair").detail
    params = {
        "fromPlace": place(A),
        "toPlace": "49.3925,8.6890",
        "modes": "walk,transit,bike",
        "time": "2022-09-14T08:00:00",
        "wheelchair": "true",
    }
    body = client.get("/api/v1/plan", params=params).json()
    assert body["wheelchair"] is True
    assert body["itineraries"], body
    for it in body["itineraries"]:
        for leg in it["legs"]:
            assert leg["mode"] != "BICYCLE"  # no bike modes for step-free trips
            if leg["mode"] == "WALK":
                assert "accessibility" in leg, leg
            if leg.get("transitLeg"):
                assert set(leg["accessibility"]) >= {"boarding", "alighting", "vehicle"}


def test_plan_offers_the_shuttle_provider(client, state, monkeypatch):
    """The dispatcher's leg provider is registered: /plan asks it, and it quotes real legs.

    The timetable day (2022) lies in the dispatcher's past, so its legs (quoted from
    now on) reach no tram of that day: the plan has no shuttle itinerary and says so.
    """
    provider = state.planner.provider("shuttle")
    assert provider is not None
    answers = []
    ask = provider.stop_legs

    def spy(query):
        answer = ask(query)
        answers.append((query.direction.name, answer))
        return answer

    monkeypatch.setattr(provider, "stop_legs", spy)
    params = {
        "fromPlace": place(A),
        "toPlace": "49.3925,8.6890",
        "modes": "walk,transit,shuttle",
        "time": "2022-09-14T08:00:00",
    }
    r = client.get("/api/v1/plan", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"ACCESS", "EGRESS"} <= {direction for direction, _ in answers}, answers
    quoted = [leg for _, answer in answers for leg in answer.legs]
    assert quoted, [answer.reason for _, answer in answers]  # the dispatcher offered rides
    assert all(leg.booking["provider"] == "shuttle" for leg in quoted)
    shuttle = [it for it in body["itineraries"] if any(leg["mode"] == "ODM" for leg in it["legs"])]
    assert not shuttle
    assert body["reasons"]["shuttle"] == "no transit connection from 08:00 on 2022-09-14"


def test_shuttle_map_layer_is_public_and_has_no_passenger_data(client):
    r = client.get("/api/v1/map/shuttles")
    assert r.status_code == 200, r.text
    layer = r.json()
    assert layer["type"] == "FeatureCollection"
    assert layer["features"]
    for f in layer["features"]:
        assert f["geometry"]["type"] == "Point"
        assert set(f["properties"]) == {"id", "mode", "capacity", "freeSeats", "precisionM"}


def test_plan_ev_parameters_reach_the_planner(client):
    """EV parameters are validated with their query names and reach the planner."""
    base = {"fromPlace": place(A), "toPlace": "49.3800,8.6600", "modes": "ev,car"}
    assert_error(client.get("/api/v1/plan", params=base), 422, "evCapacityKwh")
    full = client.get(
        "/api/v1/plan", params={**base, "evCapacityKwh": 50, "evBatteryPercent": 80}
    ).json()
    ev = [it for it in full["itineraries"] if it["mode"] == "ev"]
    # 80 % of 50 kWh covers this 3 km trip: an EV itinerary, driven without a charging stop.
    assert ev, full["reasons"]
    assert "ev" not in full["reasons"]
    assert all(it["legs"] and {leg["mode"] for leg in it["legs"]} == {"CAR"} for it in ev)
    empty = client.get(
        "/api/v1/plan", params={**base, "evCapacityKwh": 50, "evBatteryKwh": 0}
    ).json()
    assert "ev" in empty["reasons"]
    assert not [it for it in empty["itineraries"] if it["mode"] == "ev"]
    plug = {**base, "evCapacityKwh": 50, "evBatteryPercent": 50, "evConnectors": "PLUG_X"}
    assert_error(client.get("/api/v1/plan", params=plug), 422, "evConnectors")
    both = {**base, "evCapacityKwh": 50, "evBatteryPercent": 50, "evBatteryKwh": 10}
    assert_error(client.get("/api/v1/plan", params=both), 422, "evBatteryKwh", "evBatteryPercent")


def test_plan_modes_without_result_give_reasons(client):
    params = {
        "fromPlace": place(A),
        "toPlace": "49.3925,8.6890",
        "time": "2022-09-14T08:00:00",
        "modes": "shuttle,bike_share,walk",
    }
    r = client.get("/api/v1/plan", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reasons"]["shuttle"]  # the provider answered, with its reason
    assert "not registered" not in body["reasons"]["shuttle"]
    assert body["reasons"]["bike_share"]
    assert [it["mode"] for it in body["itineraries"]] == ["walk"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"modes": "walk,teleport"}, ["unknown mode", "teleport", "walk, transit, bike"]),
        ({"modes": "walk", "maxWalkTime": "0"}, ["maxWalkTime"]),
        ({"modes": "bike_ride", "parkedBikeAt": "nowhere"}, ["parkedBikeAt", "nowhere"]),
        ({"toPlace": "49.4094,8.6937"}, ["same place"]),
        ({"fromPlace": "52.52,13.40"}, ["outside region", "latitude"]),
        ({"fromPlace": "8.6937,49.4094"}, ["swapped"]),
        ({"fromPlace": "Bismarckplatz"}, ["not 'lat,lon'"]),
        ({"time": "1970-01-01T08:00:00", "modes": "walk"}, ["outside", "choose a time"]),
        ({"time": "2200-01-01T08:00:00", "modes": "car"}, ["outside", "choose a time"]),
        ({"time": "next tuesday"}, ["time"]),
        ({"numItineraries": "0"}, ["numItineraries"]),
    ],
)
def test_plan_bad_input_is_4xx_with_fix(client, params, words):
    query = {"fromPlace": place(A), "toPlace": place(B), "modes": "walk", **params}
    assert_error(client.get("/api/v1/plan", params=query), 422, *words)


def test_missing_parameter_is_named(client):
    body = assert_error(
        client.get("/api/v1/plan", params={"toPlace": place(B)}), 422, "fromPlace", "required"
    )
    assert body["error"] == "invalid_request"


def test_malformed_json_and_oversized_body(client):
    bad = client.post(
        "/api/v1/shuttle/quote",
        content=b'{"from": {"lat": 49.4,',
        headers={"Content-Type": "application/json"},
    )
    assert_error(bad, 422, "not valid json")
    big = client.post(
        "/api/v1/shuttle/quote",
        content=b"{" + b" " * 100_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_error(big, 413, "exceeds the limit")


def test_unknown_path_and_method_are_json(client):
    assert_error(client.get("/api/v1/nowhere"), 404, "/docs")
    assert_error(client.delete("/api/v1/plan"), 405, "methods")


def test_map_network_layer(client, state):
    r = client.get("/api/v1/map/network", params={"profile": "car"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    feature = r.json()["features"][0]
    lines = feature["geometry"]["coordinates"]
    graph = state.networks["car"].graph
    # Each road once (a two-way road is one line), whatever the turns onto it.
    segments = np.unique(np.asarray(graph.road_edge)).size
    assert segments / 2 <= len(lines) <= segments
    coords = np.array([c for line in lines for c in line])
    from routing.build import buffered_bbox

    min_lon, min_lat, max_lon, max_lat = buffered_bbox(state.region.bbox)
    assert coords[:, 0].min() >= min_lon - 0.01
    assert coords[:, 0].max() <= max_lon + 0.01
    assert coords[:, 1].min() >= min_lat - 0.01
    assert coords[:, 1].max() <= max_lat + 0.01


def test_operator_endpoints_need_key(client):
    assert_error(client.get("/api/v1/fleet/requests"), 401, "X-API-Key")
    assert_error(
        client.get("/api/v1/fleet/requests", headers={"X-API-Key": "wrong"}), 401, "not valid"
    )
    ok = client.get("/api/v1/fleet/requests", headers={"X-API-Key": OPERATOR_KEY})
    assert ok.status_code == 200
    assert isinstance(ok.json(), list)


def test_stations_and_live_update(client, state):
    if not state.component("stations").ready:
        pytest.fail(f"stations not loaded: {state.component('stations').detail}")
    body = client.get("/api/v1/stations").json()
    assert len(body["stations"]) == len(state.stations)
    first = body["stations"][0]
    near = client.get(
        "/api/v1/stations", params={"lat": first["lat"], "lon": first["lon"], "radius": 50}
    ).json()
    assert near["stations"][0]["id"] == first["id"]
    assert near["stations"][0]["distance_m"] < 1
    url = f"/api/v1/stations/{first['id']}/availability"
    update = {"bikesAvailable": 3, "docksAvailable": 7}
    assert_error(client.put(url, json=update), 401, "X-API-Key")
    r = client.put(url, json=update, headers={"X-API-Key": OPERATOR_KEY})
    assert r.status_code == 200
    assert r.json()["applied"] == 1
    after = client.get(f"/api/v1/stations/{first['id']}").json()
    assert after["bikes_available"] == 3
    assert after["docks_available"] == 7
    assert after["realtime"]
    bad = client.put(url, json={"bikesAvailable": -1}, headers={"X-API-Key": OPERATOR_KEY})
    assert_error(bad, 422, "bikesAvailable")
    missing = client.put(
        "/api/v1/stations/nope/availability", json=update, headers={"X-API-Key": OPERATOR_KEY}
    )
    assert_error(missing, 404, "nope")
    geo = client.get("/api/v1/stations", params={"format": "geojson"}).json()
    assert geo["type"] == "FeatureCollection"


def test_chargers_and_status_update(client, state):
    body = client.get("/api/v1/chargers").json()
    assert len(body["chargers"]) == len(state.chargers) > 0
    charger = body["chargers"][0]
    evse = charger["evses"][0]["uid"]
    url = f"/api/v1/chargers/{charger['id']}/evses/{evse}/status"
    r = client.put(url, json={"status": "AVAILABLE"}, headers={"X-API-Key": OPERATOR_KEY})
    assert r.status_code == 200, r.text
    available = client.get("/api/v1/chargers", params={"availableOnly": "true"}).json()["chargers"]
    assert [c["id"] for c in available] == [charger["id"]]
    future = client.put(
        url,
        json={"status": "CHARGING", "lastUpdated": "2999-01-01T00:00:00Z"},
        headers={"X-API-Key": OPERATOR_KEY},
    )
    assert_error(future, 422, "future")
    assert_error(
        client.put(url, json={"status": "EXPLODED"}, headers={"X-API-Key": OPERATOR_KEY}),
        422,
        "status",
    )
    client.put(url, json={"status": "UNKNOWN"}, headers={"X-API-Key": OPERATOR_KEY})


def test_metrics_count_requests(client):
    client.get("/api/v1/health")
    text = client.get("/api/v1/metrics", headers={"X-API-Key": OPERATOR_KEY}).text
    assert "elster_http_requests_total" in text
    assert 'route="/api/v1/health"' in text or 'route="/health"' in text
    assert "elster_http_request_duration_seconds_bucket" in text


def test_map_page_assets_served(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "leaflet.js" in page.text
    for asset in ("/static/app.js", "/static/style.css", "/static/vendor/leaflet/leaflet.js"):
        assert client.get(asset).status_code == 200, asset
    assert "cdn" not in page.text.lower()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9)), min_size=1, max_size=30)
)
def test_polyline_round_trip(points):
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    decoded = decode(encode_polyline(lats, lons, 6), 6)
    assert len(decoded) == len(points)
    for (lat, lon), (dlat, dlon) in zip(points, decoded, strict=True):
        assert math.isclose(lat, dlat, abs_tol=1e-6)
        assert math.isclose(lon, dlon, abs_tol=1e-6)


def test_polyline_reference_vector():
    # Google's documented example at precision 5.
    assert (
        encode_polyline([38.5, 40.7, 43.252], [-120.2, -120.95, -126.453], 5)
        == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    )


def test_plan_walk_and_transit(client, state):
    """A transit itinerary whose legs chain in time and whose ride is on the departure board."""
    if not state.component("transit").ready:
        pytest.fail(f"transit not loaded: {state.component('transit').detail}")
    params = {
        "fromPlace": "49.4094,8.6937",
        "toPlace": "49.3925,8.6890",
        "time": "2022-09-14T08:00:00",
        "modes": "walk,transit",
    }
    body = client.get("/api/v1/plan", params=params).json()
    rides = [it for it in body["itineraries"] if any(leg.get("transitLeg") for leg in it["legs"])]
    assert rides, body
    walk_only = [it for it in body["itineraries"] if len(it["legs"]) == 1]
    for it in rides:
        legs = it["legs"]
        assert legs[0]["from"]["lat"] == pytest.approx(49.4094)
        assert legs[-1]["to"]["lat"] == pytest.approx(49.3925)
        for a, b in pairwise(legs):
            assert a["endTime"] <= b["startTime"]
        assert it["startTime"] >= "2022-09-14T08:00"
        if walk_only:
            assert it["duration"] < walk_only[0]["duration"]
    ride = next(leg for leg in rides[0]["legs"] if leg.get("transitLeg"))
    assert ride["routeShortName"]
    assert ride["tripId"]
    board = client.get(
        "/api/v1/departures",
        params={"stopId": ride["from"]["stopId"], "time": ride["startTime"], "limit": 20},
    ).json()
    assert any(
        d["tripId"] == ride["tripId"] and d["time"] == ride["startTime"]
        for d in board["departures"]
    )


def test_stops_departures_and_transit_layer(client):
    stops = client.get(
        "/api/v1/stops", params={"lat": 49.4094, "lon": 8.6937, "radius": 300}
    ).json()
    assert stops
    assert all(s["distance"] <= 300 for s in stops)
    assert [s["distance"] for s in stops] == sorted(s["distance"] for s in stops)
    named = client.get("/api/v1/stops", params={"name": "bismarck"}).json()
    assert named
    assert all("bismarck" in s["name"].lower() for s in named)
    board = client.get(
        "/api/v1/departures", params={"stopId": stops[0]["id"], "time": "2022-09-14T08:00:00"}
    ).json()
    times = [d["time"] for d in board["departures"]]
    assert times == sorted(times)
    assert all(t >= "2022-09-14T08:00" for t in times)
    assert_error(client.get("/api/v1/departures", params={"stopId": "nope"}), 404, "nope")
    assert_error(
        client.get(
            "/api/v1/departures", params={"stopId": stops[0]["id"], "time": "2030-01-01T08:00"}
        ),
        422,
        "timetable",
    )
    layer = client.get("/api/v1/map/transit").json()
    kinds = {f["geometry"]["type"] for f in layer["features"]}
    assert kinds == {"LineString", "Point"}


def test_matrix_matches_single_routes(client, state):
    points = [
        {"lat": 49.4094, "lon": 8.6937},
        {"lat": 49.4183, "lon": 8.6758},
        {"lat": 49.3925, "lon": 8.6890},
    ]
    r = client.post("/api/v1/matrix", json={"profile": "car", "sources": points, "targets": points})
    assert r.status_code == 200, r.text
    body = r.json()
    graph = state.networks["car"].graph
    nodes, _ = state.networks["car"].snapper.snap_many(
        [p["lat"] for p in points], [p["lon"] for p in points]
    )
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            oracle = shortest_path_cost(graph, [a], None, [b], None, method="dijkstra")
            assert body["durations"][i][j] == pytest.approx(oracle, abs=0.06)
        assert body["durations"][i][i] == 0
    bad = client.post(
        "/api/v1/matrix", json={"profile": "car", "sources": points * 40, "targets": points}
    )
    assert_error(bad, 422, "sources")
    far = client.post(
        "/api/v1/matrix", json={"sources": [{"lat": 10, "lon": 10}], "targets": points}
    )
    assert_error(far, 422, "outside region")


def test_isochrone_grows_with_budget(client):
    small = client.get("/api/v1/isochrone", params={"place": "49.4094,8.6937", "minutes": 3}).json()
    large = client.get("/api/v1/isochrone", params={"place": "49.4094,8.6937", "minutes": 8}).json()
    n_small = small["features"][0]["properties"]["edges"]
    n_large = large["features"][0]["properties"]["edges"]
    assert 0 < n_small < n_large
    geometry = small["features"][0]["geometry"]
    assert geometry["type"] == "MultiPolygon"
    slack = 2 * small["features"][0]["properties"]["cellM"] * 1.5  # a cell's diagonal, twice
    for polygon in geometry["coordinates"]:
        for ring in polygon:
            for lon, lat in ring:
                assert (
                    float(haversine_m(lat, lon, 49.4094, 8.6937)) < 3 * 60 * 2.0 + slack
                )  # under 2 m/s walking
