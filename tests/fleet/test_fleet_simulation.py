"""Simulator and KPIs: hand-computed KPIs, determinism, batteries, Heidelberg roads, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleet.online.charging import ChargingSite
from fleet.online.promises import Trip
from fleet.online.travel import EuclideanTravel, RoadTravel
from fleet.simulation import SimulationConfig, run_simulation
from fleet.simulation.audit import audit
from fleet.simulation.events import TripStream
from fleet.simulation.kpis import compute_kpis, shared_flags


def stream(trips):
    return TripStream(trips, 0.0, "UTC", [""] * len(trips))


def test_kpis_by_hand_on_a_line():
    """One vehicle at x=0, 10 m/s, 30 s boarding and alighting.

    A (t=0): 0 -> 1000 m: boards 0-30, rides 100 s, alights at 130.
    B (t=200): 2000 -> 1000 m: the vehicle (free at 1000 from 160) drives 1000 m
    empty, boards B at 300-330, alights at 430.
    """
    tr = EuclideanTravel(speed_mps=10.0)
    x0, x1, x2 = tr.add_point(0, 0), tr.add_point(1000, 0), tr.add_point(2000, 0)
    trips = [
        Trip(id="A", origin=(0, 0), destination=(0, 0), request_time=0.0, earliest_pickup=0.0,
             origin_loc=x0, destination_loc=x1),
        Trip(id="B", origin=(0, 0), destination=(0, 0), request_time=200.0,
             earliest_pickup=200.0, origin_loc=x2, destination_loc=x1),
    ]  # fmt: skip
    cfg = SimulationConfig(n_vehicles=1, depots=(tr.coords(x0),), reoptimise_every_s=0.0,
                           rebalancing=False, shift_end_s=3600.0)  # fmt: skip
    res = run_simulation(stream(trips), config=cfg, travel=tr)
    assert audit(res, tr).ok
    k = res.kpis
    expect = {
        "requests": 2, "served": 2, "rejected": 0, "served_share": 1.0,
        "wait_mean_s": 50.0, "wait_median_s": 50.0, "wait_p90_s": 90.0,
        "ride_mean_s": 100.0, "ride_median_s": 100.0, "direct_mean_s": 100.0,
        "detour_mean_s": 0.0, "detour_rel_mean": 0.0,
        "vehicle_km": 3.0, "passenger_km": 2.0, "occupancy": 2 / 3,
        "empty_km": 1.0, "empty_km_share": 1 / 3, "shared_ride_share": 0.0,
        "vehicle_hours": 430 / 3600, "vehicle_hours_driving": 300 / 3600,
        "vehicle_hours_occupied": 200 / 3600, "pooling_efficiency": 2 / 3,
        "vehicle_km_per_served": 1.5,
    }  # fmt: skip
    for name, value in expect.items():
        assert k[name] == pytest.approx(value, abs=1e-9), name
    stops = res.stops
    assert stops.service_start.tolist() == pytest.approx([0.0, 130.0, 300.0, 430.0])


def test_kpi_formulas_on_hand_made_tables():
    requests = pd.DataFrame({
        "status": ["done", "done", "rejected", "done"],
        "vehicle": [0, 0, -1, 1],
        "passengers": [1, 2, 1, 0],
        "wheelchairs": [0, 0, 0, 1],
        "earliest_pickup": [0.0, 0.0, 0.0, 100.0],
        "pickup_time": [60.0, 120.0, math.nan, 100.0],
        "pickup_depart": [90.0, 150.0, math.nan, 130.0],
        "dropoff_time": [390.0, 450.0, math.nan, 330.0],
        "direct_s": [200.0, 300.0, 100.0, 200.0],
        "direct_m": [2000.0, 3000.0, 1000.0, 2000.0],
    })  # fmt: skip
    legs = pd.DataFrame({
        "kind": ["service", "service", "reposition", "service"],
        "depart": [0.0, 100.0, 500.0, 0.0],
        "arrive": [100.0, 400.0, 600.0, 200.0],
        "metres": [1000.0, 4000.0, 1000.0, 2000.0],
        "persons": [0, 3, 0, 1],
    })  # fmt: skip
    k = compute_kpis(requests, legs, n_vehicles=2)
    assert k["served_share"] == 0.75 and k["rejected"] == 1
    assert k["wait_mean_s"] == pytest.approx((60 + 120 + 0) / 3)
    assert k["ride_mean_s"] == pytest.approx((300 + 300 + 200) / 3)
    assert k["detour_mean_s"] == pytest.approx((100 + 0 + 0) / 3)
    assert k["detour_rel_mean"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert k["vehicle_km"] == 8.0 and k["passenger_km"] == pytest.approx(14.0)
    assert k["occupancy"] == pytest.approx(14 / 8)
    assert k["empty_km_share"] == pytest.approx(2 / 8)
    assert k["shared_ride_share"] == pytest.approx(2 / 3)  # the two rides of vehicle 0 overlap
    assert k["passengers_served"] == 4 and k["wheelchair_requests_served"] == 1
    assert shared_flags(np.array([0, 0, 1]), np.array([0, 10, 0.0]),
                        np.array([10, 20, 5.0])).tolist() == [False, False, False]  # fmt: skip


def euclid_day(seed: int, n: int = 120):
    rng = np.random.default_rng(seed)
    tr = EuclideanTravel(speed_mps=8.0, ref_lat=50.88)
    locs = [tr.add_point(x, y) for x, y in rng.uniform(0, 7000, (200, 2))]
    depot = tr.add_point(3500, 3500)
    t = 6 * 3600.0
    trips = []
    for i in range(n):
        t += float(rng.exponential(60.0))
        o, d = rng.choice(200, 2, replace=False)
        trips.append(Trip(id=f"T{i}", origin=(0, 0), destination=(0, 0), request_time=t,
                          earliest_pickup=t + float(rng.choice([0, 0, 900])),
                          passengers=int(rng.choice([1, 1, 2])), origin_loc=locs[o],
                          destination_loc=locs[d]))  # fmt: skip
    return tr, depot, trips


def test_same_seed_same_kpis():
    tr, depot, trips = euclid_day(11)
    cfg = SimulationConfig(n_vehicles=4, depots=(tr.coords(depot),), reoptimise_every_s=180.0,
                           seed=5)  # fmt: skip
    a = run_simulation(stream(trips), config=cfg, travel=tr)
    b = run_simulation(stream(trips), config=cfg, travel=tr)
    assert a.kpis == b.kpis
    assert json.loads(a.to_json())["kpis"] == json.loads(b.to_json())["kpis"]
    pd.testing.assert_frame_equal(a.requests, b.requests)


def test_battery_never_below_zero_and_charging_happens():
    tr, depot, trips = euclid_day(12, n=150)
    sites = [
        ChargingSite("c1", "North", *tr.coords(tr.add_point(1000, 6000)), 1, 22.0),
        ChargingSite("c2", "South", *tr.coords(tr.add_point(6000, 1000)), 2, 50.0),
    ]
    cfg = SimulationConfig(n_vehicles=3, depots=(tr.coords(depot),), battery_kwh=10.0,
                           consumption_kwh_per_km=0.25, reoptimise_every_s=300.0)  # fmt: skip
    res = run_simulation(stream(trips), config=cfg, travel=tr, charging_sites=sites)
    rep = audit(res, tr)
    assert rep.ok, rep.violations[:5]
    assert res.kpis["charging_sessions"] > 0 and res.kpis["energy_charged_kwh"] > 0
    assert res.soc["kwh"].min() >= 0.0 and rep.min_soc_kwh >= 0.0
    # a charging point holds one vehicle at a time
    for _, g in res.charges.groupby("site"):
        if len(g) > 1 and g.site.iat[0] == 0:
            s = g.sort_values("start")
            assert (s.start.to_numpy()[1:] >= s.end.to_numpy()[:-1] - 1e-6).all()


# ------------------------------------------------------------------ Heidelberg roads


@pytest.fixture(scope="module")
def hd_car(hd_region, hd_data_dir, cache_dir):
    from routing.road import load_road_networks

    return load_road_networks(hd_region, ("car",), data_dir=hd_data_dir, cache_dir=cache_dir)["car"]


@pytest.fixture(scope="module")
def hd_travel(hd_car):
    return RoadTravel.from_network(hd_car)


def test_road_travel_matches_the_bucket_matrix(hd_car, hd_travel):
    from routing.matrix import travel_matrices

    rng = np.random.default_rng(3)
    nodes = rng.choice(hd_travel.usable, 60, replace=False)
    sec, met = hd_travel.matrix(nodes[:25], nodes)
    want_s, want_m = travel_matrices(hd_car.hierarchy, nodes[:25], nodes)
    np.testing.assert_allclose(sec, want_s, rtol=1e-12)
    np.testing.assert_allclose(met, want_m, rtol=1e-12)
    sec2, _ = hd_travel.matrix(nodes, nodes[:3])  # the other loop orientation
    np.testing.assert_allclose(sec2, travel_matrices(hd_car.hierarchy, nodes, nodes[:3])[0])
    path = hd_travel.path(int(nodes[0]), int(nodes[1]))
    assert path.seconds[-1] == pytest.approx(sec[0, 1])
    assert path.locations[0] == nodes[0] and path.locations[-1] == nodes[1]


def hd_requests(n: int = 120, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2022-09-14 07:00", tz="Europe/Berlin")
    req = t0 + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 3600, n)), unit="s")
    lead = pd.to_timedelta(rng.choice([0, 0, 0, 1800], n), unit="s")
    lat = rng.uniform(49.395, 49.420, (n, 2))
    lon = rng.uniform(8.660, 8.710, (n, 2))
    return pd.DataFrame({
        "request_id": [f"H{i:03d}" for i in range(n)],
        "request_time": req,
        "origin_lat": lat[:, 0], "origin_lon": lon[:, 0],
        "destination_lat": lat[:, 1], "destination_lon": lon[:, 1],
        "passengers": rng.choice([1, 1, 2], n),
        "wheelchair": rng.random(n) < 0.05,
        "earliest_pickup": req + lead,
        "latest_arrival": req + lead + pd.Timedelta(hours=1),
        "purpose": "work",
    })  # fmt: skip


def test_heidelberg_day_with_e_shuttles_is_audited(hd_region, hd_data_dir, hd_travel):
    from fleet.online.charging import sites_from_chargers
    from routing.stations.loader import load_chargers

    sites = sites_from_chargers(load_chargers(hd_region, hd_data_dir))
    assert sites
    cfg = SimulationConfig(n_vehicles=4, capacity=6, battery_kwh=15.0, reoptimise_every_s=300.0,
                           rebalance_every_s=600.0, seed=2)  # fmt: skip
    res = run_simulation(hd_requests(), config=cfg, travel=hd_travel, charging_sites=sites)
    rep = audit(res, hd_travel)
    assert rep.ok, rep.violations[:5]
    assert res.kpis["served"] > 40 and res.kpis["vehicle_km"] > 0
    assert res.timing["decision_p95_ms"] > 0
    assert res.origin_unix == pd.Timestamp("2022-09-14", tz="Europe/Berlin").timestamp()
    assert 7 * 3600 <= res.requests.request_time.min() < 8 * 3600


def test_cli_simulate_prints_kpis_and_writes_files(tmp_path: Path, hd_data_dir, cache_dir):
    from typer.testing import CliRunner

    from api.cli import app
    from demand.requests import write_requests

    path = write_requests(hd_requests(60, seed=9), tmp_path / "requests.csv")
    out = tmp_path / "sim"
    args = ["simulate", "heidelberg", "--requests", str(path), "--vehicles", "3",
            "--capacity", "4", "--out", str(out), "--data-dir", str(hd_data_dir),
            "--cache-dir", str(cache_dir)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "served share" in result.output and "audit     OK" in result.output
    kpis = json.loads((out / "kpis.json").read_text())["kpis"]
    assert kpis["requests"] == 60
    for png in ("waits.png", "fleet_state.png", "requests_per_hour.png"):
        assert (out / png).stat().st_size > 5_000
    bad = CliRunner().invoke(app, ["simulate", "heidelberg", "--requests",
                                   str(tmp_path / "missing.csv")])  # fmt: skip
    assert bad.exit_code != 0
