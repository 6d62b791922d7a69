"""Request streams on a small real-data model: reproducible, inside the area, on the graph,
round trips through CSV and Parquet, and booking-log validation with line numbers."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from demand.area import load_service_area
from demand.config import load_config
from demand.model import DemandModel, zone_model
from demand.network import NodeSnapper, crowfly_travel_times
from demand.requests import (
    REQUEST_COLUMNS,
    generate_requests,
    read_requests,
    write_requests,
)
from demand.zensus import load_population_grid, load_weight_grid
from demand.zones import build_zones
from routing.errors import DataError, RequestError

GERA_BBOX = (11.95, 50.80, 12.20, 50.95)


def lattice_test_snapper(area, spacing_deg: float = 0.002) -> NodeSnapper:
    """Test-only stand-in for a walk graph: lattice 'nodes' (~150 m) inside the area."""
    lon, lat = np.meshgrid(
        np.arange(GERA_BBOX[0], GERA_BBOX[2], spacing_deg * 1.5),
        np.arange(GERA_BBOX[1], GERA_BBOX[3], spacing_deg),
    )
    lat, lon = lat.ravel(), lon.ravel()
    keep = area.contains(lat, lon)
    return NodeSnapper(lat[keep], lon[keep])


@pytest.fixture(scope="module")
def gera_model(mirror_dir: Path) -> DemandModel:
    """Real Gera zones (Zensus 1 km + 100 m weights, VMT area) with a haversine test matrix."""
    area = load_service_area(mirror_dir / "gera" / "DE-TH-VMT.poly").clipped(GERA_BBOX)
    grid = load_population_grid(
        mirror_dir / "gera" / "zensus2011_population_1km.csv", bbox=GERA_BBOX
    )
    weights = load_weight_grid(mirror_dir / "gera" / "zensus2011_residential_buildings_100m.csv")
    zones = build_zones(grid, area, weight_grid=weights)
    seconds = crowfly_travel_times(zones.lat, zones.lon, speed_kmh=30.0, detour=1.3)
    return zone_model(
        zones,
        seconds,
        load_config(),
        area=area,
        region="gera",
        travel_times="haversine test matrix",
        walk_snapper=lattice_test_snapper(area),
    )


DAY = date(2022, 9, 14)


def test_same_seed_same_stream_other_seed_other_stream(gera_model: DemandModel) -> None:
    a, _ = generate_requests(gera_model, day=DAY, n_requests=500, seed=42)
    b, _ = generate_requests(gera_model, day=DAY, n_requests=500, seed=42)
    c, _ = generate_requests(gera_model, day=DAY, n_requests=500, seed=43)
    pd.testing.assert_frame_equal(a, b)
    assert len(c) == 500
    assert not a[["origin_lat", "origin_lon"]].equals(c[["origin_lat", "origin_lon"]])
    assert not a["request_time"].equals(c["request_time"])


def test_schema_and_time_rules(gera_model: DemandModel) -> None:
    req, stats = generate_requests(gera_model, day=DAY, n_requests=2000, seed=1)
    assert tuple(req.columns) == REQUEST_COLUMNS
    assert stats.requests == len(req) == 2000
    assert req["request_id"].is_unique
    assert req["request_time"].is_monotonic_increasing
    assert str(req["request_time"].dt.tz) == "Europe/Berlin"
    assert (req["request_time"].dt.date == DAY).all()
    assert (req["earliest_pickup"] >= req["request_time"]).all()
    assert (req["latest_arrival"] > req["earliest_pickup"]).all()
    assert req["passengers"].between(1, 4).all()
    assert set(req["purpose"]) <= set(gera_model.purposes)


def test_points_inside_area_and_on_graph(gera_model: DemandModel) -> None:
    req, _ = generate_requests(gera_model, day=DAY, n_requests=3000, seed=5)
    snap = gera_model.walk_snapper
    assert snap is not None
    nodes = set(zip(np.round(snap.lat, 7), np.round(snap.lon, 7), strict=False))
    for end in ("origin", "destination"):
        lat, lon = req[f"{end}_lat"].to_numpy(), req[f"{end}_lon"].to_numpy()
        assert gera_model.area.contains(lat, lon).all()
        assert all((a, b) in nodes for a, b in zip(lat, lon, strict=False))
    assert (
        (req["origin_lat"] != req["destination_lat"])
        | (req["origin_lon"] != req["destination_lon"])
    ).all()


def test_arrivals_follow_profile_and_od_matrix(gera_model: DemandModel) -> None:
    n = 40_000
    req, _ = generate_requests(gera_model, day=DAY, n_requests=n, seed=9)
    shares = np.asarray(gera_model.config.profiles["weekday"].hourly)
    counts = np.bincount(req["request_time"].dt.hour, minlength=24)
    # Multinomial counts: each hour within 5 standard deviations of its expectation.
    sd = np.sqrt(n * shares * (1 - shares))
    assert (np.abs(counts - n * shares) <= 5 * sd + 1).all()
    mix = gera_model.config.profiles["weekday"].purpose_mix
    got = req["purpose"].value_counts(normalize=True)
    for name, share in mix.items():
        assert got.get(name, 0.0) == pytest.approx(share, abs=0.015)


def test_poisson_total_is_random_but_seeded(gera_model: DemandModel) -> None:
    from dataclasses import replace

    cfg = gera_model.config
    model = replace(
        gera_model, config=replace(cfg, requests=replace(cfg.requests, exact_total=False))
    )
    totals = [
        generate_requests(model, day=DAY, n_requests=1000, seed=s)[1].requests for s in range(8)
    ]
    assert len(set(totals)) > 1
    assert all(800 < t < 1200 for t in totals)
    assert generate_requests(model, day=DAY, n_requests=1000, seed=3)[1].requests == totals[3]


def test_window_and_clock_change_day(gera_model: DemandModel) -> None:
    req, stats = generate_requests(
        gera_model, day=date(2022, 10, 30), n_requests=500, seed=2, window=(time(1, 30), time(4, 0))
    )
    assert stats.day_type == "weekend"
    local = req["request_time"].dt.tz_convert("Europe/Berlin")
    assert (local.dt.hour >= 1).all()
    assert (local.dt.hour < 4).all()
    # 25-hour day: 02:xx happens twice, in summer time (+02) and winter time (+01).
    two = local[local.dt.hour == 2]
    assert {t.utcoffset().total_seconds() for t in two} == {3600.0, 7200.0}
    with pytest.raises(RequestError, match="empty"):
        generate_requests(gera_model, day=DAY, window=(time(9), time(8)))


def test_default_volume_from_population(gera_model: DemandModel) -> None:
    _, stats = generate_requests(gera_model, day=DAY, seed=0)
    rc = gera_model.config.requests
    assert stats.expected == pytest.approx(
        gera_model.zones.population.sum() * rc.trips_per_person * rc.shuttle_share
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_round_trip(gera_model: DemandModel, tmp_path: Path, suffix: str) -> None:
    req, _ = generate_requests(gera_model, day=DAY, n_requests=300, seed=4)
    path = write_requests(req, tmp_path / f"r.{suffix}")
    back = read_requests(path, area=gera_model.area)
    assert back.problems == []
    assert back.rows_read == 300
    pd.testing.assert_frame_equal(
        back.requests.reset_index(drop=True), req.reset_index(drop=True), check_dtype=False
    )


def test_booking_log_bad_rows_report_line_numbers(gera_model: DemandModel, tmp_path: Path) -> None:
    req, _ = generate_requests(gera_model, day=DAY, n_requests=10, seed=4)
    path = write_requests(req, tmp_path / "log.csv")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")

    def spoil(line_no: int, column: str, value: str) -> None:
        fields = lines[line_no - 1].split(",")
        fields[header.index(column)] = value
        lines[line_no - 1] = ",".join(fields)

    spoil(3, "origin_lat", "north")
    spoil(5, "request_time", "2022-09-14 08:00")  # no UTC offset
    spoil(6, "passengers", "0")
    spoil(8, "wheelchair", "maybe")
    spoil(9, "latest_arrival", "2022-09-13T08:00:00+02:00")  # before the pickup
    spoil(10, "request_id", "R000001")  # duplicate
    spoil(11, "destination_lon", "8.69")  # Heidelberg: outside the Gera area
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(DataError, match="7 bad values in 10 rows: line 3: origin_lat"):
        read_requests(path, area=gera_model.area)
    result = read_requests(path, area=gera_model.area, on_error="drop")
    assert [(p.line, p.column) for p in result.problems] == [
        (3, "origin_lat"),
        (5, "request_time"),
        (6, "passengers"),
        (8, "wheelchair"),
        (9, "latest_arrival"),
        (10, "request_id"),
        (11, "destination_lat"),
    ]
    assert "outside the service area" in str(result.problems[-1])
    assert len(result.requests) == 3


def test_booking_log_layout_errors(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("request_id;request_time\nA;2022-09-14T08:00:00+02:00\n")
    with pytest.raises(DataError, match="missing columns"):
        read_requests(path)
    with pytest.raises(DataError, match="does not exist"):
        read_requests(tmp_path / "none.csv")
    with pytest.raises(DataError, match=r"\.csv or \.parquet"):
        read_requests(path.rename(tmp_path / "log.txt"))
