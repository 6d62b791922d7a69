"""Zensus grid loading: real files, and every kind of bad grid file named clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demand.zensus import laea_to_wgs84, load_population_grid, load_weight_grid, wgs84_to_laea
from routing.errors import DataError

GERA_BBOX = (11.95, 50.80, 12.20, 50.95)


@pytest.fixture(scope="module")
def gera_grid_file(mirror_dir: Path) -> Path:
    return mirror_dir / "gera" / "zensus2011_population_1km.csv"


def test_real_gera_grid_loads_in_wgs84(gera_grid_file: Path) -> None:
    grid = load_population_grid(gera_grid_file, bbox=GERA_BBOX)
    assert grid.n_cells == 258
    assert grid.population.sum() == 116_736
    assert grid.cell_size_m == 1000
    assert grid.cell_id[0] == "1kmN3078E4459"
    # Cell centres land in the Gera box (with half a cell of slack).
    assert GERA_BBOX[1] - 0.01 < grid.lat.min()
    assert grid.lat.max() < GERA_BBOX[3] + 0.01
    assert GERA_BBOX[0] - 0.01 < grid.lon.min()
    assert grid.lon.max() < GERA_BBOX[2] + 0.01


def test_projection_round_trip_and_known_point() -> None:
    # Gera Hbf must land in the 1 km cells the Zensus ids name (E44xx, N30xx).
    x, y = wgs84_to_laea(np.array([50.8806]), np.array([12.0833]))
    lat, lon = laea_to_wgs84(x, y)
    assert lat[0] == pytest.approx(50.8806, abs=1e-7)
    assert lon[0] == pytest.approx(12.0833, abs=1e-7)
    assert 4_460_000 < x[0] < 4_480_000
    assert 3_080_000 < y[0] < 3_100_000


def test_weight_grid_is_100m(mirror_dir: Path) -> None:
    wg = load_weight_grid(mirror_dir / "gera" / "zensus2011_residential_buildings_100m.csv")
    assert wg.cell_size_m == 100
    assert wg.weight.sum() == 15_113


def _write(tmp_path: Path, text: str, name: str = "grid.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "Gitter_ID_1km;x_mp_1km;y_mp_1km;Einwohner\n"


def test_lat_lon_coordinates_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;12.08;50.88;100\nb;12.09;50.88;50\n")
    with pytest.raises(DataError, match="WGS84 degrees"):
        load_population_grid(path)


def test_utm_coordinates_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;715500;5640500;100\nb;716500;5640500;50\n")
    with pytest.raises(DataError, match="UTM"):
        load_population_grid(path)


def test_swapped_axes_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;3078500;4459500;100\nb;3078500;4460500;50\n")
    with pytest.raises(DataError, match="swapped"):
        load_population_grid(path, bbox=GERA_BBOX)


def test_grid_of_another_area_is_reported(tmp_path: Path) -> None:
    # Heidelberg cells checked against the Gera box.
    path = _write(tmp_path, HEADER + "a;4222500;2915500;2102\n")
    with pytest.raises(DataError, match="region bbox"):
        load_population_grid(path, bbox=GERA_BBOX)


def test_wrong_separator_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "Gitter_ID_1km,x_mp_1km,y_mp_1km,Einwohner\na,4459500,3078500,3\n")
    with pytest.raises(DataError, match="separated by ','"):
        load_population_grid(path)


def test_missing_column_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "Gitter_ID_1km;x_mp_1km;y_mp_1km\na;4459500;3078500\n")
    with pytest.raises(DataError, match="no population column"):
        load_population_grid(path)
    path = _write(tmp_path, "Gitter_ID_1km;x_mp_1km;Einwohner\na;4459500;3\n")
    with pytest.raises(DataError, match="y \\(north\\)"):
        load_population_grid(path)


def test_non_numeric_value_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;4459500;3078500;3\nb;4460500;3078500;many\n")
    with pytest.raises(DataError, match="line 3: 'Einwohner' is 'many'"):
        load_population_grid(path)


def test_zero_population_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;4459500;3078500;0\nb;4460500;3078500;0\n")
    with pytest.raises(DataError, match="total population is zero"):
        load_population_grid(path)


def test_off_grid_centre_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;4459500;3078500;3\nb;4460000;3078500;5\n")
    with pytest.raises(DataError, match=r"line 3: .* not the centre"):
        load_population_grid(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_population_grid(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="empty file"):
        load_population_grid(_write(tmp_path, ""))


def test_withheld_counts_become_one_person(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "a;4459500;3078500;-1\nb;4460500;3078500;10\n")
    assert load_population_grid(path).population.tolist() == [1.0, 10.0]
