"""The region pipeline on real data: Heidelberg with its road graphs, Gera without a map,
bad inputs, config errors, and the `elster demand` verb."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from demand.config import load_config
from demand.model import DemandModel, build_demand_model
from demand.requests import generate_requests, read_requests
from routing.errors import DataError
from routing.regions import load_region


@pytest.fixture(scope="module")
def hd_model(hd_data_dir: Path, cache_dir: Path) -> DemandModel:
    return build_demand_model("heidelberg", data_dir=hd_data_dir, cache_dir=cache_dir)


def test_heidelberg_model_uses_road_times_and_attractors(hd_model: DemandModel) -> None:
    assert hd_model.travel_times.startswith("road (car graph")
    assert hd_model.attractors.startswith("OSM")
    assert 200 < hd_model.zones.size < 320
    assert hd_model.zones.attractors.sum() > 1000
    target = hd_model.config.gravity.target_mean_minutes
    for purpose in hd_model.purposes.values():
        assert purpose.mean_minutes == pytest.approx(target, rel=0.01)
        assert purpose.max_error <= hd_model.config.gravity.balance_tolerance
    c = hd_model.cost_minutes
    assert np.isfinite(c).mean() > 0.99
    assert (c >= 1.0).all()


def test_heidelberg_points_on_walk_graph(
    hd_model: DemandModel, hd_data_dir: Path, cache_dir: Path
) -> None:
    from routing.build import road_graph

    walk = road_graph("heidelberg", "walk", data_dir=hd_data_dir, cache_dir=cache_dir)
    req, stats = generate_requests(hd_model, day=date(2022, 9, 14), n_requests=2000, seed=7)
    assert stats.snapped
    nodes = {(round(a, 7), round(b, 7)) for a, b in zip(walk.lat, walk.lon, strict=False)}
    for end in ("origin", "destination"):
        lat, lon = req[f"{end}_lat"].to_numpy(), req[f"{end}_lon"].to_numpy()
        assert all((a, b) in nodes for a, b in zip(lat, lon, strict=False))
        assert hd_model.area.contains(lat, lon).all()


def test_gera_falls_back_to_population_and_crowfly(mirror_dir: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        model = build_demand_model("gera", data_dir=mirror_dir)
    assert "attractors fall back to population only" in caplog.text
    assert "crow-fly estimate" in caplog.text
    assert model.travel_times.startswith("crow-fly")
    assert model.walk_snapper is None
    assert 150 < model.zones.size <= 258
    # Zones are clipped to the VMT area: every centroid is inside it.
    assert model.area.contains(model.zones.lat, model.zones.lon).all()
    with pytest.raises(DataError, match="no OSM extract"):
        build_demand_model("gera", data_dir=mirror_dir, travel_times="road")


def _region_copy(
    tmp_path: Path, mirror_dir: Path, grid_text: str | None = None, poly_text: str | None = None
) -> Path:
    """A Gera-like region in tmp_path with optionally replaced grid or area files."""
    data = tmp_path / "data"
    (data / "gera").mkdir(parents=True)
    src = mirror_dir / "gera"
    grid = (
        grid_text if grid_text is not None else (src / "zensus2011_population_1km.csv").read_text()
    )
    (data / "gera" / "zensus2011_population_1km.csv").write_text(grid)
    poly = poly_text if poly_text is not None else (src / "DE-TH-VMT.poly").read_text()
    (data / "gera" / "DE-TH-VMT.poly").write_text(poly)
    (data / "gera" / "zensus2011_residential_buildings_100m.csv").write_text(
        (src / "zensus2011_residential_buildings_100m.csv").read_text()
    )
    return data


def test_zero_population_in_area_is_an_error(tmp_path: Path, mirror_dir: Path) -> None:
    lines = (mirror_dir / "gera" / "zensus2011_population_1km.csv").read_text().splitlines()
    zeroed = [lines[0]] + [";".join([*ln.split(";")[:3], "0"]) for ln in lines[1:]]
    data = _region_copy(tmp_path, mirror_dir, grid_text="\n".join(zeroed) + "\n")
    with pytest.raises(DataError, match="total population is zero"):
        build_demand_model("gera", data_dir=data)


def test_area_missing_the_grid_is_an_error(tmp_path: Path, mirror_dir: Path) -> None:
    # A tiny polygon in a corner of the Gera box, too small to hold any part of a cell.
    poly = "far\n1\n 11.95 50.80\n 11.9501 50.80\n 11.9501 50.8001\n 11.95 50.8001\nEND\nEND\n"
    data = _region_copy(tmp_path, mirror_dir, poly_text=poly)
    with pytest.raises(DataError, match=r"no grid cell|no residents"):
        build_demand_model("gera", data_dir=data)
    poly = "away\n1\n 8.6 49.4\n 8.7 49.4\n 8.7 49.5\n 8.6 49.5\nEND\nEND\n"
    data = _region_copy(tmp_path / "b", mirror_dir, poly_text=poly)
    with pytest.raises(DataError, match="does not overlap"):
        build_demand_model("gera", data_dir=data)


def test_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[gravity]\ndeterence = 'power'\n")
    with pytest.raises(DataError, match=r"c\.toml: unknown key \[gravity\] deterence .did you"):
        load_config(path)
    path.write_text("[gravity]\ndeterrence = 'linear'\n")
    with pytest.raises(DataError, match=r"\[gravity\] deterrence: must be one of"):
        load_config(path)
    path.write_text("[profiles.weekday]\nhourly = [1, 2]\n")
    with pytest.raises(DataError, match="list of 24"):
        load_config(path)
    path.write_text("[purposes.work]\nproduction = { people = 1 }\nattraction = { work = 1 }\n")
    with pytest.raises(DataError, match="unknown category 'people'"):
        load_config(path)
    path.write_text("[gravity]\ndeterrence = 'power'\nalpha = 1.5\ncalibrate = false\n")
    cfg = load_config(path)
    assert cfg.gravity.deterrence == "power"
    assert not cfg.gravity.calibrate
    assert cfg.requests.shuttle_share == 0.01  # defaults kept


def test_cli_writes_requests_and_charts(
    tmp_path: Path, mirror_dir: Path, cache_dir: Path, monkeypatch
) -> None:
    from api.cli import app

    monkeypatch.setenv("ELSTER_DATA_DIR", str(mirror_dir))
    out = tmp_path / "gera" / "requests.parquet"
    result = CliRunner().invoke(
        app,
        [
            "demand",
            "gera",
            "--date",
            "2022-09-17",
            "--requests",
            "400",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "crow-fly estimate" in result.output
    assert "weekend" in result.output
    back = read_requests(out).requests
    assert len(back) == 400
    assert (out.parent / "requests_heatmap.png").stat().st_size > 10_000
    assert (out.parent / "requests_hourly.png").stat().st_size > 5_000
    again = tmp_path / "again.parquet"
    CliRunner().invoke(
        app,
        [
            "demand",
            "gera",
            "--date",
            "2022-09-17",
            "--requests",
            "400",
            "--seed",
            "5",
            "--out",
            str(again),
            "--no-plots",
        ],
    )
    pd.testing.assert_frame_equal(read_requests(again).requests, back)


def test_cli_bad_date_is_a_clear_error(mirror_dir: Path, monkeypatch) -> None:
    from api.cli import app

    monkeypatch.setenv("ELSTER_DATA_DIR", str(mirror_dir))
    result = CliRunner().invoke(app, ["demand", "gera", "--date", "2022-13-01"])
    assert result.exit_code != 0
    assert "is not a date" in str(result.exception)


def test_region_has_the_sources_demand_needs() -> None:
    gera = load_region("gera")
    assert gera.source("population").kind == "zensus"
    assert gera.source("service_area").kind == "poly"
