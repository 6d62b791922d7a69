"""Read the routable ways of an OSM file (PBF or XML, plain/.gz/.bz2) into flat arrays.

One pass with pyosmium: libosmium keeps every node location in its own index
(C++), and Python only sees ways tagged ``highway``. For each such way the
profiles decide the forward/backward speeds; ways no profile may use are
skipped. The result is a :class:`WayTable` of parallel arrays that
:mod:`routing.build` turns into graphs without touching Python objects again.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium

from routing.errors import DataError
from routing.profiles import (
    ACCESS_EXPLICIT,
    RELEVANT_KEYS,
    get_profile,
    wheelchair_assessment,
)
from routing.restrictions import Restriction, parse_relation

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2", ".o5m")
_WKB = osmium.geom.WKBFactory()
_ALL_NODES = osmium.geom.use_nodes.ALL
_WKB_HEADER = 18  # hex digits of byte order, geometry type and point count


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
    wheelchair_access : ndarray of int8, shape (w,), optional
        Only when the ``wheelchair`` profile was read: the accessibility evidence
        of each way (:data:`routing.profiles.ACCESS_UNKNOWN` / ``_INFERRED`` /
        ``_EXPLICIT``). Ways crossing a raised kerb node are already closed.
    highway_rank : ndarray of int8, shape (w,), optional
        Road class of each way (:data:`HIGHWAY_RANK`: 7 motorway ... 1 service),
        for the cost of yielding where a minor road meets a larger one.
    controls : NodeControls, optional
        Traffic signals, stop and give-way signs, level crossings and barriers.
    restrictions : tuple of Restriction
        Every ``type=restriction*`` relation of the file (see :mod:`routing.restrictions`).
    """

    way_id: np.ndarray
    way_first: np.ndarray
    node_id: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    speed_fwd: dict[str, np.ndarray]
    speed_bwd: dict[str, np.ndarray]
    wheelchair_access: np.ndarray | None = field(default=None)
    highway_rank: np.ndarray | None = field(default=None)
    controls: NodeControls | None = field(default=None)
    restrictions: tuple[Restriction, ...] = ()

    @property
    def n_ways(self) -> int:
        """Number of ways."""
        return int(self.way_id.shape[0])


#: Road class of a highway type (links rank with their road), for "minor meets major".
HIGHWAY_RANK = {
    "motorway": 7, "motorway_link": 7, "trunk": 6, "trunk_link": 6,
    "primary": 5, "primary_link": 5, "secondary": 4, "secondary_link": 4,
    "tertiary": 3, "tertiary_link": 3, "unclassified": 2, "residential": 2, "road": 2,
    "busway": 2, "living_street": 1, "service": 1,
}  # fmt: skip

# Node control kinds (NodeControls.kind).
SIGNAL, STOP, GIVE_WAY, LEVEL_CROSSING = 1, 2, 3, 4
_BLOCKING_ACCESS = frozenset({"no", "private", "agricultural", "forestry", "emergency"})


@dataclass(frozen=True)
class NodeControls:
    """Nodes that slow or stop traffic, read from node tags.

    Attributes
    ----------
    node_id : ndarray of int64
        OSM node ids (sorted).
    kind : ndarray of int8
        :data:`SIGNAL`, :data:`STOP`, :data:`GIVE_WAY` or :data:`LEVEL_CROSSING`.
    direction : ndarray of int8
        1: applies to traffic along the way's node order only
        (``direction``/``traffic_signals:direction=forward``), -1: against it, 0: both.
    barrier_id : ndarray of int64
        OSM ids of barrier nodes.
    barrier_blocks : dict of str to ndarray of bool
        Per profile, whether each barrier stops it (bollards stop cars but
        not bikes; a bus trap lets the shuttle through).
    """

    node_id: np.ndarray
    kind: np.ndarray
    direction: np.ndarray
    barrier_id: np.ndarray
    barrier_blocks: dict[str, np.ndarray]


def _node_control(tags: osmium.osm.TagList) -> tuple[int, int]:
    """(kind, direction) of a node, kind 0 when it controls nothing."""
    highway = tags.get("highway")
    kind = 0
    if highway == "traffic_signals":
        kind = SIGNAL
    elif highway == "stop":
        kind = STOP
    elif highway == "give_way":
        kind = GIVE_WAY
    elif tags.get("railway") == "level_crossing":
        kind = LEVEL_CROSSING
    if kind == 0:
        return 0, 0
    raw = (tags.get("traffic_signals:direction") or tags.get("direction") or "").lower()
    return kind, {"forward": 1, "backward": -1}.get(raw, 0)


def _barrier_blocks(tags: osmium.osm.TagList, profiles: Sequence[str]) -> list[bool]:
    """Whether a barrier node stops each profile."""
    from routing.speed_model import PASSABLE_BARRIERS, motor_model

    barrier = (tags.get("barrier") or "").lower()
    out = []
    for name in profiles:
        if name in ("car", "shuttle"):
            model = motor_model(name)
            verdict = None
            for key in model.access_keys:
                value = tags.get(key)
                if value is not None:
                    verdict = value.lower() not in _BLOCKING_ACCESS
                    break
            if verdict is None:
                passable = barrier in PASSABLE_BARRIERS or (
                    name == "shuttle" and barrier == "bus_trap"
                )
                out.append(not passable)
            else:
                out.append(not verdict)
        elif name == "bike":
            value = tags.get("bicycle") or tags.get("vehicle") or tags.get("access")
            out.append(value is not None and value.lower() in _BLOCKING_ACCESS)
        else:
            out.append(False)  # walkers pass every barrier that has a gap
    return out


def _way_coordinates(way: osmium.osm.Way, n_nodes: int) -> str:
    """The way's node coordinates as hex of little-endian float64 (lon, lat) pairs.

    libosmium writes them in C++ (much faster than reading each node from
    Python); a node missing from the file becomes (NaN, NaN).
    """
    try:
        wkb = _WKB.create_linestring(way, use_nodes=_ALL_NODES)
        if wkb.startswith("01") and len(wkb) == _WKB_HEADER + 32 * n_nodes:
            return wkb[_WKB_HEADER:]
    except (RuntimeError, osmium.InvalidLocationError):
        pass
    pairs = []
    for node in way.nodes:
        location = node.location
        valid = location.valid()
        pairs.append(location.lon if valid else math.nan)
        pairs.append(location.lat if valid else math.nan)
    return struct.pack(f"<{len(pairs)}d", *pairs).hex()


def _touches(hex_xy: str, bbox: tuple[float, float, float, float]) -> bool:
    """Whether any of the way's nodes lies inside the bbox."""
    xy = np.frombuffer(bytes.fromhex(hex_xy), dtype="<f8")
    lon, lat = xy[0::2], xy[1::2]
    min_lon, min_lat, max_lon, max_lat = bbox
    return bool(((lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)).any())


def _controls(
    control_rows: list[tuple[int, int, int]],
    barrier_rows: list[tuple[int, list[bool]]],
    profiles: Sequence[str],
) -> NodeControls:
    """Pack the node rows into sorted arrays."""
    rows = sorted(control_rows)
    barriers = sorted(barrier_rows)
    return NodeControls(
        node_id=np.asarray([r[0] for r in rows], dtype=np.int64),
        kind=np.asarray([r[1] for r in rows], dtype=np.int8),
        direction=np.asarray([r[2] for r in rows], dtype=np.int8),
        barrier_id=np.asarray([b[0] for b in barriers], dtype=np.int64),
        barrier_blocks={
            p: np.asarray([b[1][i] for b in barriers], dtype=bool) for i, p in enumerate(profiles)
        },
    )


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
    path: Path,
    profiles: Sequence[str] = ("walk", "bike", "car"),
    *,
    bbox: tuple[float, float, float, float] | None = None,
    region: str | None = None,
) -> WayTable:
    """Read every way some profile may use, with its node ids, locations and speeds.

    Parameters
    ----------
    path : Path
        An ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2`` file.
    profiles : sequence of str
        Profiles to evaluate (``walk``, ``bike``, ``car``, ``wheelchair``).
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Skip ways without any node inside this box (cheap pre-filter for big
        extracts; the exact clipping happens in :mod:`routing.build`).
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
    coords: list[str] = []  # little-endian float64 (lon, lat) pairs as hex, way after way
    speeds: list[list[float]] = [[] for _ in range(2 * len(chosen))]
    relevant = RELEVANT_KEYS
    outside = 0
    wheelchair = "wheelchair" in profiles
    wheelchair_at = [i for i, p in enumerate(chosen) if p.name == "wheelchair"]
    access: list[int] = []
    bad_kerbs: set[int] = set()  # node ids of raised kerbs (wheelchair only)
    ranks: list[int] = []
    control_rows: list[tuple[int, int, int]] = []
    barrier_rows: list[tuple[int, list[bool]]] = []
    relations: list[Restriction] = []
    try:
        # Nodes come before ways and ways before relations in a sorted file.
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway", "kerb", "barrier", "railway", "type"))
        )
        for way in processor:
            if isinstance(way, osmium.osm.Relation):
                if (way.tags.get("type") or "").startswith("restriction"):
                    members = [(m.type, m.ref, m.role) for m in way.members]
                    tags_r = {t.k: t.v for t in way.tags}
                    relations.extend(parse_relation(way.id, tags_r, members))
                continue
            if not isinstance(way, osmium.osm.Way):
                tags_n = way.tags
                if wheelchair:
                    kerb = tags_n.get("kerb")
                    if kerb is not None and kerb.strip().lower() in ("raised", "high", "yes"):
                        bad_kerbs.add(way.id)
                kind, direction = _node_control(tags_n)
                if kind:
                    control_rows.append((way.id, kind, direction))
                if "barrier" in tags_n:
                    blocks = _barrier_blocks(tags_n, profiles)
                    if any(blocks):
                        barrier_rows.append((way.id, blocks))
                continue
            if "highway" not in way.tags:
                continue
            tags = {t.k: t.v for t in way.tags if t.k in relevant}
            way_speeds = [profile.speeds(tags) for profile in chosen]
            evidence = 0
            if wheelchair:
                evidence = wheelchair_assessment(tags)[1]
                # A raised kerb inside the way (not at its ends, where other ways join)
                # blocks it; crossings are mapped so: sidewalk - kerb - street - kerb - sidewalk.
                if bad_kerbs and not bad_kerbs.isdisjoint([n.ref for n in way.nodes][1:-1]):
                    explicit_ok = (tags.get("wheelchair") or "").strip().lower() in (
                        "yes",
                        "designated",
                    )
                    if not explicit_ok:
                        for i in wheelchair_at:
                            way_speeds[i] = (0.0, 0.0)
                        evidence = ACCESS_EXPLICIT
            if not any(f > 0.0 or b > 0.0 for f, b in way_speeds):
                continue
            nodes = way.nodes
            if len(nodes) < 2:
                continue
            hex_xy = _way_coordinates(way, len(nodes))
            if bbox is not None and not _touches(hex_xy, bbox):
                outside += 1
                continue
            way_ids.append(way.id)
            counts.append(len(nodes))
            refs.extend([node.ref for node in nodes])
            coords.append(hex_xy)
            for i, (fwd, bwd) in enumerate(way_speeds):
                speeds[2 * i].append(fwd)
                speeds[2 * i + 1].append(bwd)
            access.append(evidence)
            ranks.append(HIGHWAY_RANK.get(tags.get("highway", ""), 0))
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataError(
            f"cannot read OSM file {path}: {exc}; the file is damaged or truncated, "
            f"{_fix_hint(region)}"
        ) from None
    xy = np.frombuffer(bytes.fromhex("".join(coords)), dtype="<f8").reshape(-1, 2)
    lon = np.ascontiguousarray(xy[:, 0], dtype=np.float64)
    lat = np.ascontiguousarray(xy[:, 1], dtype=np.float64)
    valid = np.isfinite(lat)
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
        wheelchair_access=np.asarray(access, dtype=np.int8) if wheelchair else None,
        highway_rank=np.asarray(ranks, dtype=np.int8),
        controls=_controls(control_rows, barrier_rows, profiles),
        restrictions=tuple(relations),
    )
    missing = int((~valid).sum())
    log.info(
        "read %s: %s restriction records from %s relations, %s controlled nodes, %s barriers",
        path.name,
        f"{len(relations):,}",
        f"{len({r.relation_id for r in relations}):,}",
        f"{len(control_rows):,}",
        f"{len(barrier_rows):,}",
    )
    log.info(
        "read %s: %s routable ways, %s way nodes%s%s in %.1f s",
        path.name,
        f"{table.n_ways:,}",
        f"{len(refs):,}",
        f" ({missing:,} without location)" if missing else "",
        f" ({outside:,} ways outside the bbox skipped)" if outside else "",
        time.perf_counter() - started,
    )
    return table


def read_way_tags(
    path: Path, way_ids: np.ndarray, keys: Sequence[str], *, region: str | None = None
) -> dict[int, dict[str, str]]:
    """The tags ``keys`` of the ways ``way_ids`` (a graph's ``way_id``), from one pass over ways.

    Graphs keep a way's id but not its tags; rules on road classes and signed
    limits (the streets an autonomous shuttle may use) read them here. Node
    locations are not needed, so the pass is cheap.

    Returns
    -------
    dict of int to dict of str to str
        Way id to its tags among ``keys``; ids absent from the file are absent.

    Raises
    ------
    DataError
        The file is missing, empty, truncated or not OSM data.
    """
    path = check_osm_path(path, region=region)
    wanted = set(np.unique(np.asarray(way_ids, dtype=np.int64)).tolist())
    keep = frozenset(keys)
    out: dict[int, dict[str, str]] = {}
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(
            osmium.filter.KeyFilter("highway")
        )
        for way in processor:
            if way.id in wanted:
                out[way.id] = {t.k: t.v for t in way.tags if t.k in keep}
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataError(
            f"cannot read OSM file {path}: {exc}; the file is damaged or truncated, "
            f"{_fix_hint(region)}"
        ) from None
    return out
