"""Zensus grid CSVs: population per grid cell, cell centres in EPSG:3035 (ETRS89-LAEA).

The national Zensus 2011 grids are ``;``-separated with columns such as
``Gitter_ID_1km;x_mp_1km;y_mp_1km;Einwohner`` (``x`` east, ``y`` north, the
cell centre in metres). A finer *weight grid* (e.g. residential buildings per
100 m cell, ``x,y,res_buildings``) can spread each coarse cell's people over
where they actually live.

Files are checked on load: separator and columns, numeric values (bad rows
named by line), coordinates that really are EPSG:3035 cell centres (degrees,
UTM metres or swapped axes are recognised and reported), and, when the
caller gives the region's bounding box, that the cells lie in it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from routing.errors import DataError

log = logging.getLogger(__name__)

GRID_CRS = "EPSG:3035"
# Extent of EPSG:3035 coordinates over Europe (metres); anything else is another CRS.
_LAEA_X = (1.5e6, 8.0e6)
_LAEA_Y = (0.9e6, 5.5e6)
_X_NAMES = re.compile(r"^(x_mp(_\w+)?|x|x_mp_1km|x_mp_100m)$", re.IGNORECASE)
_Y_NAMES = re.compile(r"^(y_mp(_\w+)?|y)$", re.IGNORECASE)
_POP_NAMES = ("einwohner", "population", "pop")
_SIZE_IN_NAME = re.compile(r"_(\d+)(km|m)$", re.IGNORECASE)


@dataclass(frozen=True)
class PopulationGrid:
    """People per square grid cell.

    Attributes
    ----------
    cell_id : ndarray of str
        Zensus cell ids (``1kmN3078E4459``) or ids built from the centre.
    x, y : ndarray of float64
        Cell centres in EPSG:3035 metres (east, north).
    lat, lon : ndarray of float64
        Cell centres in WGS84 degrees.
    population : ndarray of float64
        Residents per cell.
    cell_size_m : float
        Side length of a cell in metres.
    source : Path
        The file the grid came from.
    """

    cell_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray
    cell_size_m: float
    source: Path

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return int(self.x.shape[0])


@dataclass(frozen=True)
class WeightGrid:
    """A finer grid of non-negative weights (e.g. residential buildings per 100 m cell)."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    cell_size_m: float
    source: Path


@lru_cache(maxsize=4)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def laea_to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert EPSG:3035 metres (east, north) to WGS84 ``(lat, lon)`` degrees."""
    lon, lat = _transformer(GRID_CRS, "EPSG:4326").transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    )
    return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)


def wgs84_to_laea(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 ``(lat, lon)`` degrees to EPSG:3035 metres ``(x, y)``."""
    x, y = _transformer("EPSG:4326", GRID_CRS).transform(
        np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    )
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def load_population_grid(
    path: Path | str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> PopulationGrid:
    """Read a Zensus population grid CSV.

    Parameters
    ----------
    path : Path or str
        ``;``-separated file with x/y cell-centre columns (``x_mp_1km``,
        ``y_mp_1km``) in EPSG:3035 and a population column (``Einwohner``).
    bbox : tuple, optional
        ``(min_lon, min_lat, max_lon, max_lat)`` of the region; the cells must
        lie in it (a grid of another area or CRS is reported).

    Returns
    -------
    PopulationGrid

    Raises
    ------
    DataError
        Missing file, wrong separator or columns, non-numeric or negative
        values (with line numbers), coordinates not in EPSG:3035, cells not on
        a regular grid, outside ``bbox``, or no people at all.
    """
    path = Path(path)
    frame = _read_table(path, expected_sep=";", what="Zensus population grid")
    cols = list(frame.columns)
    xcol = _pick(cols, _X_NAMES, path, "x (east) cell centre, e.g. x_mp_1km")
    ycol = _pick(cols, _Y_NAMES, path, "y (north) cell centre, e.g. y_mp_1km")
    pcol = next((c for c in cols if c.lower() in _POP_NAMES), None)
    if pcol is None:
        raise DataError(f"{path}: no population column (expected 'Einwohner'); columns are {cols}")
    x = _numeric(frame[xcol], path, xcol)
    y = _numeric(frame[ycol], path, ycol)
    pop = _numeric(frame[pcol], path, pcol)
    # Zensus marks counts withheld for privacy (1-2 people) with -1.
    secret = pop == -1
    if secret.any():
        log.info("%s: %d cells with withheld counts (-1) taken as 1 person", path, secret.sum())
        pop = np.where(secret, 1.0, pop)
    if (pop < 0).any():
        line = int(np.flatnonzero(pop < 0)[0]) + 2
        raise DataError(f"{path} line {line}: negative population {pop[line - 2]:g} in {pcol!r}")
    if len(pop) == 0:
        raise DataError(f"{path}: the population grid has no rows")
    _check_crs(x, y, path, bbox)
    size = _cell_size(x, y, path, name_hint=xcol)
    if pop.sum() <= 0:
        raise DataError(
            f"{path}: total population is zero ({len(pop)} cells); the demand model needs "
            f"residents: check the {pcol!r} column or use another grid file"
        )
    id_col = next((c for c in cols if c.lower().startswith("gitter_id")), None)
    if id_col is not None:
        ids = frame[id_col].astype(str).to_numpy()
    else:
        ids = np.array([f"E{int(a)}N{int(b)}" for a, b in zip(x, y, strict=False)], dtype=object)
    lat, lon = laea_to_wgs84(x, y)
    grid = PopulationGrid(ids, x, y, lat, lon, pop, size, path)
    log.info(
        "population grid %s: %d cells of %g m, %d people",
        path.name,
        grid.n_cells,
        size,
        round(pop.sum()),
    )
    return grid


def load_weight_grid(path: Path | str) -> WeightGrid:
    """Read a finer weight grid (``x,y,WEIGHT``; ``,`` or ``;``) in EPSG:3035.

    Raises
    ------
    DataError
        As :func:`load_population_grid`, for the weight column.
    """
    path = Path(path)
    frame = _read_table(path, expected_sep=None, what="weight grid")
    cols = list(frame.columns)
    xcol = _pick(cols, _X_NAMES, path, "x (east) cell centre")
    ycol = _pick(cols, _Y_NAMES, path, "y (north) cell centre")
    rest = [c for c in cols if c not in (xcol, ycol) and not c.lower().startswith("gitter_id")]
    if len(rest) != 1:
        raise DataError(
            f"{path}: expected exactly one weight column beside {xcol!r} and {ycol!r}, found {rest}"
        )
    x = _numeric(frame[xcol], path, xcol)
    y = _numeric(frame[ycol], path, ycol)
    w = _numeric(frame[rest[0]], path, rest[0])
    w = np.where(w == -1, 1.0, w)
    if (w < 0).any():
        line = int(np.flatnonzero(w < 0)[0]) + 2
        raise DataError(f"{path} line {line}: negative weight in {rest[0]!r}")
    _check_crs(x, y, path, None)
    size = _cell_size(x, y, path, name_hint=xcol)
    log.info("weight grid %s: %d cells of %g m, total weight %g", path.name, len(x), size, w.sum())
    return WeightGrid(x, y, w, size, path)


def _read_table(path: Path, *, expected_sep: str | None, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist; run `elster fetch REGION` first")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            header = handle.readline().rstrip("\r\n")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; expected a {what} CSV") from None
    if not header:
        raise DataError(f"{path}: empty file; expected a {what} CSV with a header row")
    found = max((";", ",", "\t", "|", " "), key=header.count)
    if header.count(found) == 0:
        raise DataError(
            f"{path}: the header {header[:80]!r} has a single column; expected a "
            f"{expected_sep or ';'}-separated {what} CSV"
        )
    if expected_sep is not None and found != expected_sep:
        raise DataError(
            f"{path}: columns are separated by {found!r}, but a {what} uses {expected_sep!r} "
            f"(the Zensus layout); convert the file or re-download the original"
        )
    try:
        return pd.read_csv(path, sep=found, dtype=str, encoding="utf-8-sig", skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse as a {what} CSV ({exc})") from None


def _pick(cols: list[str], pattern: re.Pattern[str], path: Path, what: str) -> str:
    matches = [c for c in cols if pattern.match(c.strip())]
    if not matches:
        raise DataError(f"{path}: no column for the {what}; columns are {cols}")
    return matches[0]


def _numeric(column: pd.Series, path: Path, name: str) -> np.ndarray:
    values = pd.to_numeric(column.str.strip().str.replace(",", ".", regex=False), errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path} line {first + 2}: {name!r} is {column.iloc[first]!r}, not a number "
            f"({int(bad.sum())} bad rows in total)"
        )
    return values.to_numpy(dtype=float)


def _check_crs(
    x: np.ndarray, y: np.ndarray, path: Path, bbox: tuple[float, float, float, float] | None
) -> None:
    def within(v: np.ndarray, lo: float, hi: float) -> bool:
        return bool(np.all((v >= lo) & (v <= hi)))

    if within(x, -180, 180) and within(y, -90, 90):
        raise DataError(
            f"{path}: coordinates look like WGS84 degrees (x {x.min():g}..{x.max():g}, "
            f"y {y.min():g}..{y.max():g}); Zensus grids use EPSG:3035 metres: convert the "
            f"cell centres to EPSG:3035"
        )
    if within(x, 1e5, 1e6) and within(y, 5.0e6, 6.2e6):
        raise DataError(
            f"{path}: coordinates look like UTM metres (EPSG:25832/25833: x {x.min():.0f}.."
            f"{x.max():.0f}, y {y.min():.0f}..{y.max():.0f}); Zensus grids use EPSG:3035: "
            f"reproject the cell centres"
        )
    if (
        within(y, *_LAEA_X)
        and within(x, *_LAEA_Y)
        and not (within(x, *_LAEA_X) and within(y, *_LAEA_Y))
    ):
        raise DataError(f"{path}: x and y look swapped (x is north, y is east); swap the columns")
    if not (within(x, *_LAEA_X) and within(y, *_LAEA_Y)):
        raise DataError(
            f"{path}: coordinates (x {x.min():.0f}..{x.max():.0f}, y {y.min():.0f}.."
            f"{y.max():.0f}) are not EPSG:3035 metres over Europe; reproject to EPSG:3035"
        )
    if bbox is None:
        return
    lat, lon = laea_to_wgs84(x, y)
    min_lon, min_lat, max_lon, max_lat = bbox
    pad = 0.05
    inside = (
        (lon >= min_lon - pad)
        & (lon <= max_lon + pad)
        & (lat >= min_lat - pad)
        & (lat <= max_lat + pad)
    )
    if inside.mean() < 0.5:
        slat, slon = laea_to_wgs84(y, x)
        sinside = (
            (slon >= min_lon - pad)
            & (slon <= max_lon + pad)
            & (slat >= min_lat - pad)
            & (slat <= max_lat + pad)
        )
        if sinside.mean() >= 0.5:
            raise DataError(
                f"{path}: x and y are swapped (the cells fall in the region only with the "
                f"axes exchanged); swap the x and y columns"
            )
        raise DataError(
            f"{path}: only {inside.sum()} of {len(x)} cells lie in the region bbox {bbox} "
            f"(cells span lat {lat.min():.3f}..{lat.max():.3f}, lon {lon.min():.3f}.."
            f"{lon.max():.3f}); the file is for another area or in another CRS"
        )


def _cell_size(x: np.ndarray, y: np.ndarray, path: Path, *, name_hint: str) -> float:
    match = _SIZE_IN_NAME.search(name_hint)
    if match:
        size = float(match.group(1)) * (1000.0 if match.group(2).lower() == "km" else 1.0)
    else:
        steps = np.diff(np.unique(np.concatenate([x, y])))
        steps = steps[steps > 0]
        size = float(steps.min()) if steps.size else 1000.0
    half = size / 2.0
    off = (np.abs(np.mod(x - half, size)) > 1e-6) | (np.abs(np.mod(y - half, size)) > 1e-6)
    if off.any():
        line = int(np.flatnonzero(off)[0]) + 2
        raise DataError(
            f"{path} line {line}: ({x[line - 2]:.0f}, {y[line - 2]:.0f}) is not the centre of a "
            f"{size:g} m EPSG:3035 grid cell; expected cell centres (corner + {half:g} m)"
        )
    return size
