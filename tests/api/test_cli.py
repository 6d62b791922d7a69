"""The elster CLI: real verbs on Heidelberg, and exit code 2 with one clear line on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_elster


def test_route_prints_distance_time_and_geojson(
    hd_data_dir: Path, cache_dir: Path, hd_networks: dict
) -> None:
    done = run_elster(
        "route", "heidelberg", "--from", "49.4094,8.6937", "--to", "49.3925,8.6890",
        "--profile", "bike",
        data_dir=hd_data_dir, cache_dir=cache_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary, line = done.stdout.strip().splitlines()
    assert summary.startswith("bike") and " km, " in summary and summary.endswith(" min")
    feature = json.loads(line)
    coords = feature["geometry"]["coordinates"]
    assert feature["geometry"]["type"] == "LineString" and len(coords) > 10
    assert all(8.58 <= x <= 8.84 and 49.34 <= y <= 49.51 for x, y in coords)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["route", "atlantis", "--from", "1,1", "--to", "2,2"], "unknown region 'atlantis'"),
        (["route", "heidelberg", "--from", "49.40", "--to", "49.39,8.68"], "is not LAT,LON"),
        (["route", "heidelberg", "--from", "50.88,12.08", "--to", "49.39,8.68"], "outside region"),
        (["route", "heidelberg", "--from", "8.69,49.40", "--to", "49.39,8.68"], "outside region"),
        (["route", "heidelberg", "--from", "49.4,8.69"], "give both --from"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, hd_data_dir: Path, cache_dir: Path
) -> None:
    done = run_elster(*args, data_dir=hd_data_dir, cache_dir=cache_dir)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_build_on_a_corrupt_osm_file_exits_2_and_writes_no_cache(tmp_path: Path) -> None:
    region_file = tmp_path / "broken.toml"
    (tmp_path / "data" / "b").mkdir(parents=True)
    (tmp_path / "data" / "b" / "map.osm.pbf").write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    region_file.write_text(
        'name = "broken"\ntimezone = "Europe/Berlin"\nbbox = [8.6, 49.3, 8.8, 49.5]\n'
        '[sources.osm]\nkind = "osm"\npath = "b/map.osm.pbf"\n'
    )
    cache = tmp_path / "cache"
    done = run_elster("build", str(region_file), data_dir=tmp_path / "data", cache_dir=cache)
    assert done.returncode == 2, done.stderr
    assert "map.osm.pbf" in done.stderr and "Traceback" not in done.stderr
    assert not any(p.name.startswith("graph-") for p in cache.glob("*")) if cache.exists() else True
