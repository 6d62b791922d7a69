"""Read the routable ways of an OSM file (PBF or XML, plain/.gz/.bz2) into flat arrays.

One pass with pyosmium: libosmium keeps every node location in its own index
(C++), and Python only sees ways tagged ``highway``. For each such way the
profiles decide the forward/backward speeds; ways no profile may use are
skipped. The result is a :class:`WayTable` of parallel arrays that
:mod:`routing.build` turns into graphs without touching Python objects again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium

from routing.errors import DataError
from routing.profiles import RELEVANT_KEYS, get_profile

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2", ".o5m")
_COORD_PRECISION = 10_000_000  # libosmium stores degrees as fixed-point integers
_MAX_X = 180 * _COORD_PRECISION
_MAX_Y = 90 * _COORD_PRECISION


@dataclass(frozen=True)
class WayTable:
    """The routable ways of an OSM file as flat arrays.

    Attributes
    ----------
    way_id : ndarray of int64, shape (w,)
        OSM id of each way.
    way_first : ndarray of int64, shape (w + 1,)
        Offsets: way ``i``'s nodes are ``node_id[way_first[i]:way_first[i + 1]]``.
    node_id : ndarray of int64
        OSM node ids of all way nodes, way after way, in way order.
    lat, lon : ndarray of float64
        Location of each way node (NaN where the file lacks the node).
    speed_fwd, speed_bwd : dict of str to ndarray of float64, shape (w,)
        Per profile, the speed in km/h along and against the way's node order
        (0 = not allowed).
    """

    way_id: np.ndarray
    way_first: np.ndarray
    node_id: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    speed_fwd: dict[str, np.ndarray]
    speed_bwd: dict[str, np.ndarray]

    @property
    def n_ways(self) -> int:
        """Number of ways."""
        return int(self.way_id.shape[0])


def _fix_hint(region: str | None) -> str:
    return f"re-download it with `elster fetch {region or 'REGION'}`"


def check_osm_path(path: Path, *, region: str | None = None) -> Path:
    """Return ``path`` if it names an existing, non-empty OSM file, else raise DataError.

    ``region`` only improves the message (the fetch command to run).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"OSM file {path} does not exist; {_fix_hint(region)}")
    name = path.name.lower()
    if not name.endswith(SUPPORTED_SUFFIXES):
        raise DataError(
            f"OSM file {path} has an unknown format; expected one of "
            f"{', '.join(SUPPORTED_SUFFIXES)}"
        )
    if path.stat().st_size == 0:
        raise DataError(f"OSM file {path} is empty; {_fix_hint(region)}")
    return path


def read_ways(
    path: Path, profiles: Sequence[str] = ("walk", "bike", "car"), *, region: str | None = None
) -> WayTable:
    """Read every way some profile may use, with its node ids, locations and speeds.

    Parameters
    ----------
    path : Path
        An ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2`` file.
    profiles : sequence of str
        Profiles to evaluate (``walk``, ``bike``, ``car``).
    region : str, optional
        Region name, used only in error messages.

    Raises
    ------
    DataError
        The file is missing, empty, truncated or not OSM data.
    """
    path = check_osm_path(path, region=region)
    chosen = [get_profile(name) for name in profiles]
    started = time.perf_counter()
    way_ids: list[int] = []
    counts: list[int] = []
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    speeds: list[list[float]] = [[] for _ in range(2 * len(chosen))]
    relevant = RELEVANT_KEYS
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            tags = {t.k: t.v for t in way.tags if t.k in relevant}
            way_speeds = [profile.speeds(tags) for profile in chosen]
            if not any(f > 0.0 or b > 0.0 for f, b in way_speeds):
                continue
            nodes = way.nodes
            if len(nodes) < 2:
                continue
            way_ids.append(way.id)
            counts.append(len(nodes))
            for node in nodes:
                location = node.location
                refs.append(node.ref)
                xs.append(location.x)
                ys.append(location.y)
            for i, (fwd, bwd) in enumerate(way_speeds):
                speeds[2 * i].append(fwd)
                speeds[2 * i + 1].append(bwd)
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataError(
            f"cannot read OSM file {path}: {exc}; the file is damaged or truncated, "
            f"{_fix_hint(region)}"
        ) from None
    x = np.asarray(xs, dtype=np.int64)
    y = np.asarray(ys, dtype=np.int64)
    valid = (np.abs(x) <= _MAX_X) & (np.abs(y) <= _MAX_Y)
    lat = np.where(valid, y / _COORD_PRECISION, np.nan)
    lon = np.where(valid, x / _COORD_PRECISION, np.nan)
    table = WayTable(
        way_id=np.asarray(way_ids, dtype=np.int64),
        way_first=np.concatenate(([0], np.cumsum(counts, dtype=np.int64))).astype(np.int64),
        node_id=np.asarray(refs, dtype=np.int64),
        lat=lat,
        lon=lon,
        speed_fwd={
            p.name: np.asarray(speeds[2 * i], dtype=np.float64) for i, p in enumerate(chosen)
        },
        speed_bwd={
            p.name: np.asarray(speeds[2 * i + 1], dtype=np.float64) for i, p in enumerate(chosen)
        },
    )
    missing = int((~valid).sum())
    log.info(
        "read %s: %s routable ways, %s way nodes%s in %.1f s",
        path.name,
        f"{table.n_ways:,}",
        f"{len(refs):,}",
        f" ({missing:,} without location)" if missing else "",
        time.perf_counter() - started,
    )
    return table
