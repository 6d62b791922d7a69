"""Build per-profile road graphs from an OSM file, and cache them by content.

The OSM file is parsed once (:func:`routing.osm.read_ways`); each profile's
graph is then assembled with numpy only:

1. keep the ways the profile may use and the way segments inside the bbox;
2. routing nodes are junctions (a node used twice or more), way ends and the
   ends of clipped parts; every other way node becomes edge geometry;
3. a chain that starts and ends at the same node (a loop), and every curved
   chain that joins the same two nodes as another chain, is split at a middle
   shape point (which becomes a node), so no road is lost and there are
   neither self loops nor parallel edges with different geometry (straight
   duplicates between the same two nodes keep the fastest edge);
4. only the largest strongly connected component is kept;
5. edges are sorted by tail (then head) into the CSR arrays of :class:`RoadGraph`.

:func:`road_graph` is the entry point for a region: it loads a memory-mapped
cache entry keyed on the OSM file's content, the profile, the bbox and
:data:`FORMAT_VERSION`, or builds and caches every profile at once.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routing.cache import cache_key, file_digest, load_arrays, save_arrays
from routing.errors import DataError
from routing.geo import haversine_m
from routing.graph import PROFILES, RoadGraph
from routing.osm import WayTable, check_osm_path, read_ways
from routing.profiles import get_profile
from routing.regions import Region, default_cache_dir, load_region
from routing.restrictions import resolve_restrictions
from routing.speed_model import TURN_PROFILES
from routing.turns import JunctionInfo, build_turn_graph

log = logging.getLogger(__name__)

FORMAT_VERSION = 4
"""Bump when the graph layout or the import rules change (invalidates caches)."""

BBox = tuple[float, float, float, float]
_DIGESTS_FILE = "file-digests.json"
#: What the last build of each profile kept, dropped and applied (restrictions,
#: turns); also stored in the cache entry's metadata.
BUILD_REPORTS: dict[str, dict[str, Any]] = {}
_MAX_SPLIT_ROUNDS = 8
#: Ways are kept this far beyond the region's bbox, so that roads leaving the box
#: and coming back (and the junctions just outside it) stay connected.
CLIP_BUFFER_M = 3000.0


def buffered_bbox(bbox: BBox, buffer_m: float = CLIP_BUFFER_M) -> BBox:
    """``bbox`` grown by ``buffer_m`` metres on every side."""
    import math

    min_lon, min_lat, max_lon, max_lat = bbox
    # 111,320 m per degree (not geo.M_PER_DEG_LAT): the clip box, and so every built
    # graph and cache, stays exactly as before; the buffer is only a margin.
    dlat = buffer_m / 111_320.0
    dlon = dlat / max(math.cos(math.radians(0.5 * (min_lat + max_lat))), 1e-6)
    return (min_lon - dlon, min_lat - dlat, max_lon + dlon, max_lat + dlat)


# --------------------------------------------------------------------------- assembly


def _select_positions(table: WayTable, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the node positions of the usable ways and the (usable-way) index of each."""
    counts = np.diff(table.way_first)
    way_of_pos = np.repeat(np.arange(table.n_ways, dtype=np.int64), counts)
    positions = np.flatnonzero(usable[way_of_pos])
    return positions, way_of_pos[positions]


def _inside(lat: np.ndarray, lon: np.ndarray, bbox: BBox | None) -> np.ndarray:
    ok: np.ndarray = np.isfinite(lat) & np.isfinite(lon)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        ok &= (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)
    return ok


def _chunks(breaks: np.ndarray, seg_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of consecutive break positions joined by valid segments (one chain each)."""
    where = np.flatnonzero(breaks)
    if where.shape[0] < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    start, end = where[:-1], where[1:]
    keep = seg_valid[start]
    return start[keep], end[keep]


def _split_problem_chunks(
    start: np.ndarray, end: np.ndarray, node: np.ndarray, breaks: np.ndarray
) -> bool:
    """Mark a middle shape point of loops and of duplicate node pairs as a break.

    Returns whether any break was added (then the chunks must be recomputed).
    """
    u, v = node[start], node[end]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((hi, lo))
    duplicate = np.zeros(start.shape[0], dtype=bool)
    same = (lo[order][1:] == lo[order][:-1]) & (hi[order][1:] == hi[order][:-1])
    # Split every curved chain that shares its end nodes with another chain: what is
    # left between the same two nodes is then straight, so duplicates are identical.
    duplicate[order[1:][same]] = True
    duplicate[order[:-1][same]] = True
    problem = (u == v) | duplicate
    problem &= (end - start) >= 2  # has an interior shape point to split at
    if not problem.any():
        return False
    breaks[(start[problem] + end[problem]) // 2] = True
    return True


def assemble_graph(
    table: WayTable, profile: str, *, bbox: BBox | None = None, source: str = "OSM data"
) -> tuple[RoadGraph, dict[str, int]]:
    """Assemble one profile's node-based :class:`RoadGraph` (see :func:`assemble_parts`)."""
    graph, stats, _ = assemble_parts(table, profile, bbox=bbox, source=source)
    return graph, stats


def _node_delays(
    table: WayTable, profile: str, node: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per way position: delay (s) for traffic along / against the way, and a signal flag."""
    zero = np.zeros(node.shape[0])
    controls = table.controls
    if controls is None or profile not in ("car", "shuttle") or controls.node_id.size == 0:
        return zero, zero, np.zeros(node.shape[0], dtype=bool)
    from routing.osm import GIVE_WAY, LEVEL_CROSSING, SIGNAL, STOP
    from routing.speed_model import motor_model

    model = motor_model(profile)
    seconds = np.zeros(5)
    seconds[SIGNAL], seconds[STOP] = model.signal_s, model.stop_s
    seconds[GIVE_WAY], seconds[LEVEL_CROSSING] = model.give_way_s, model.level_crossing_s
    pos = np.clip(np.searchsorted(controls.node_id, node), 0, controls.node_id.size - 1)
    hit = controls.node_id[pos] == node
    kind = np.where(hit, controls.kind[pos], 0)
    direction = np.where(hit, controls.direction[pos], 0)
    delay = seconds[kind]
    along = np.where(direction >= 0, delay, 0.0)
    against = np.where(direction <= 0, delay, 0.0)
    return along, against, kind == SIGNAL


def assemble_parts(
    table: WayTable, profile: str, *, bbox: BBox | None = None, source: str = "OSM data"
) -> tuple[RoadGraph, dict[str, int], JunctionInfo]:
    """Assemble one profile's :class:`RoadGraph` from parsed ways.

    Parameters
    ----------
    table : WayTable
        Output of :func:`routing.osm.read_ways` (must include ``profile``).
    profile : str
        ``walk``, ``bike`` or ``car``.
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Drop way segments with an end outside this box.
    source : str
        Name of the input, for error messages.

    Returns
    -------
    graph : RoadGraph
        Travel times include the delays of signals, stop and give-way signs and
        level crossings passed on the way to each edge's head (car and shuttle).
    stats : dict
        ``nodes``/``edges`` kept and ``dropped_nodes``/``dropped_edges`` outside the
        largest strongly connected component.
    info : JunctionInfo
        Barrier and signal nodes and the road class of every edge, for the turn graph.

    Raises
    ------
    DataError
        The profile has no routable way (inside the bbox).
    """
    # scipy.sparse is imported here, not at module level: loading a cached graph
    # should not pay for it.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    get_profile(profile)
    fwd_speed, bwd_speed = table.speed_fwd[profile], table.speed_bwd[profile]
    usable = (fwd_speed > 0.0) | (bwd_speed > 0.0)
    positions, way_of = _select_positions(table, usable)
    node = table.node_id[positions]
    lat, lon = table.lat[positions], table.lon[positions]
    n_pos = positions.shape[0]

    # seg_valid[p]: the segment p -> p+1 is routable (same way, both ends inside, not degenerate)
    seg_valid = np.zeros(n_pos, dtype=bool)
    if n_pos >= 2:
        inside = _inside(lat, lon, bbox)
        seg_valid[:-1] = (
            (way_of[1:] == way_of[:-1]) & inside[1:] & inside[:-1] & (node[1:] != node[:-1])
        )
    prev_valid = np.zeros(n_pos, dtype=bool)
    prev_valid[1:] = seg_valid[:-1]
    used = seg_valid | prev_valid
    if not used.any():
        where = " inside the region's bbox" if bbox is not None else ""
        raise DataError(
            f"{source} has no way usable by the {profile} profile{where}; the file is "
            f"incomplete or covers another area: re-download it with `elster fetch REGION`"
        )

    _, inverse, counts = np.unique(node[used], return_inverse=True, return_counts=True)
    junction = np.zeros(n_pos, dtype=bool)
    junction[used] = counts[inverse] >= 2
    breaks = used & (junction | ~prev_valid | ~seg_valid)
    barrier = np.zeros(n_pos, dtype=bool)
    controls = table.controls
    if controls is not None and controls.barrier_id.size and profile in controls.barrier_blocks:
        blocking = controls.barrier_id[controls.barrier_blocks[profile]]
        barrier = np.isin(node, blocking) & used
        breaks |= barrier  # a barrier must be a node, so turns can be refused there

    for _ in range(_MAX_SPLIT_ROUNDS):
        start, end = _chunks(breaks, seg_valid)
        if not _split_problem_chunks(start, end, node, breaks):
            break
    else:  # pragma: no cover - splitting converges in two or three rounds
        start, end = _chunks(breaks, seg_valid)

    # Lengths along the ways (haversine per segment, summed with a cumulative sum).
    seg_len = np.zeros(n_pos, dtype=np.float64)
    valid_idx = np.flatnonzero(seg_valid)
    seg_len[valid_idx] = haversine_m(
        lat[valid_idx], lon[valid_idx], lat[valid_idx + 1], lon[valid_idx + 1]
    )
    cum = np.concatenate(([0.0], np.cumsum(seg_len)))
    chunk_len = cum[end] - cum[start]
    chunk_way = way_of[start]
    # Node delays met driving each chunk: interior nodes and the node arrived at.
    along, against, signal_pos = _node_delays(table, profile, node)
    cum_along = np.concatenate(([0.0], np.cumsum(along)))
    cum_against = np.concatenate(([0.0], np.cumsum(against)))
    delay_fwd = cum_along[end + 1] - cum_along[start + 1]  # positions start+1 .. end
    delay_bwd = cum_against[end] - cum_against[start]  # positions start .. end-1

    # Routing nodes: sorted OSM ids of the break positions.
    break_pos = np.flatnonzero(breaks)
    osm_ids, first = np.unique(node[break_pos], return_index=True)
    node_lat, node_lon = lat[break_pos[first]], lon[break_pos[first]]
    u = np.searchsorted(osm_ids, node[start]).astype(np.int64)
    v = np.searchsorted(osm_ids, node[end]).astype(np.int64)

    # Directed edges: chains in way order (forward) and against it (backward).
    f_kmh, b_kmh = fwd_speed[chunk_way], bwd_speed[chunk_way]
    fw, bw = np.flatnonzero(f_kmh > 0.0), np.flatnonzero(b_kmh > 0.0)
    tail = np.concatenate((u[fw], v[bw]))
    head = np.concatenate((v[fw], u[bw]))
    chunk = np.concatenate((fw, bw))
    reverse = np.concatenate((np.zeros(fw.shape[0], bool), np.ones(bw.shape[0], bool)))
    kmh = np.concatenate((f_kmh[fw], b_kmh[bw]))
    length = chunk_len[chunk]
    travel_time = length / (kmh / 3.6) + np.concatenate((delay_fwd[fw], delay_bwd[bw]))

    # Straight duplicates between the same nodes: keep the fastest.
    order = np.lexsort((travel_time, head, tail))
    keep = np.ones(order.shape[0], dtype=bool)
    keep[1:] = (tail[order][1:] != tail[order][:-1]) | (head[order][1:] != head[order][:-1])
    sel = order[keep]
    tail, head, chunk, reverse, length, travel_time = (
        a[sel] for a in (tail, head, chunk, reverse, length, travel_time)
    )

    # Largest strongly connected component.
    n_all, m_all = osm_ids.shape[0], tail.shape[0]
    adjacency = csr_matrix((np.ones(m_all, dtype=np.int8), (tail, head)), shape=(n_all, n_all))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    largest = np.argmax(np.bincount(labels))
    keep_node = labels == largest
    new_index = np.full(n_all, -1, dtype=np.int64)
    new_index[keep_node] = np.arange(int(keep_node.sum()))
    keep_edge = keep_node[tail] & keep_node[head]
    tail, head = new_index[tail[keep_edge]], new_index[head[keep_edge]]
    chunk, reverse = chunk[keep_edge], reverse[keep_edge]
    length, travel_time = length[keep_edge], travel_time[keep_edge]
    n, m = int(keep_node.sum()), int(keep_edge.sum())
    if m == 0:
        raise DataError(
            f"{source} has no connected {profile} road network (only one-way fragments); "
            "the file is incomplete: re-download it with `elster fetch REGION`"
        )

    # CSR order (edges already sorted by (tail, head) and renumbering keeps order).
    first_out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=first_out[1:])

    # Geometry: the interior positions of each edge's chain, reversed for backward edges.
    c_start, c_end = start[chunk], end[chunk]
    n_inner = c_end - c_start - 1
    geom_first = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(n_inner, out=geom_first[1:])
    rank = np.arange(int(geom_first[-1]), dtype=np.int64) - np.repeat(geom_first[:-1], n_inner)
    rev = np.repeat(reverse, n_inner)
    pos = np.where(
        rev, np.repeat(c_end, n_inner) - 1 - rank, np.repeat(c_start, n_inner) + 1 + rank
    )

    graph = RoadGraph(
        profile=profile,
        first_out=first_out,
        head=head.astype(np.int32),
        travel_time=travel_time.astype(np.float64),
        length_m=length.astype(np.float64),
        lat=node_lat[keep_node].astype(np.float64),
        lon=node_lon[keep_node].astype(np.float64),
        osm_node_id=osm_ids[keep_node].astype(np.int64),
        way_id=table.way_id[chunk_way[chunk]].astype(np.int64),
        geom_first=geom_first,
        geom_lat=lat[pos].astype(np.float64),
        geom_lon=lon[pos].astype(np.float64),
    )
    stats = {
        "nodes": n,
        "edges": m,
        "dropped_nodes": n_all - n,
        "dropped_edges": m_all - m,
    }
    kept_osm = graph.osm_node_id
    blocked_ids = np.unique(node[barrier])
    signal_ids = np.unique(node[signal_pos])
    ranks = table.highway_rank if table.highway_rank is not None else np.zeros(table.n_ways)
    info = JunctionInfo(
        blocked=np.isin(kept_osm, blocked_ids),
        signal=np.isin(kept_osm, signal_ids),
        edge_rank=np.asarray(ranks, dtype=np.int8)[chunk_way[chunk]],
    )
    return graph, stats, info


def build_road_graphs(
    osm_path: Path | str,
    profiles: Sequence[str] = PROFILES,
    *,
    bbox: BBox | None = None,
    region: str | None = None,
    turns: bool = True,
    buffer_m: float = CLIP_BUFFER_M,
) -> dict[str, RoadGraph]:
    """Parse an OSM file once and build a road graph for each profile.

    Parameters
    ----------
    osm_path : Path or str
        ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2`` file.
    profiles : sequence of str
        Any of ``walk``, ``bike``, ``car``.
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Clip the ways to this box (parts outside are dropped).
    region : str, optional
        Region name, only used in error messages.
    turns : bool
        Expand the ``bike``, ``car`` and ``shuttle`` graphs into turn graphs
        (:mod:`routing.turns`); False gives the node-based graphs they start from.
    buffer_m : float
        Ways are kept this far outside ``bbox`` (:data:`CLIP_BUFFER_M`), so that
        every road inside it stays connected as it is in reality.

    Returns
    -------
    dict of str to RoadGraph

    Raises
    ------
    DataError
        The file is missing, damaged, or has no routable way for a profile.
    """
    osm_path = Path(osm_path)
    clip = buffered_bbox(bbox, buffer_m) if bbox is not None else None
    table = read_ways(osm_path, profiles, bbox=clip, region=region)
    graphs = {}
    for profile in profiles:
        started = time.perf_counter()
        try:
            graph, stats, info = assemble_parts(
                table, profile, bbox=clip, source=f"OSM file {osm_path}"
            )
        except DataError as exc:
            raise DataError(str(exc).replace("REGION", region or "REGION")) from None
        log.info(
            "built %s graph: %s nodes, %s edges in %.1f s "
            "(dropped %s nodes, %s edges outside the largest SCC: private, "
            "disconnected or one-way fragments)",
            profile,
            f"{stats['nodes']:,}",
            f"{stats['edges']:,}",
            time.perf_counter() - started,
            f"{stats['dropped_nodes']:,}",
            f"{stats['dropped_edges']:,}",
        )
        model = TURN_PROFILES.get(profile) if turns else None
        if model is not None:
            resolved = resolve_restrictions(
                graph,
                table.restrictions,
                restriction_keys=model.restriction_keys,
                exceptions=model.exceptions,
            )
            log.info("restrictions for %s: %s", profile, json.dumps(resolved.report))
            graph, turn_report = build_turn_graph(graph, model, resolved, info)
            BUILD_REPORTS[profile] = {
                **stats,
                "restrictions": resolved.report,
                "turns": turn_report.as_dict(),
            }
        else:
            BUILD_REPORTS[profile] = dict(stats)
        graphs[profile] = graph
    return graphs


# --------------------------------------------------------------------------- cache


def graph_from_arrays(profile: str, arrays: dict[str, np.ndarray]) -> RoadGraph:
    """Rebuild a :class:`RoadGraph` from :meth:`RoadGraph.array_fields` output.

    Raises
    ------
    DataError
        The arrays are missing fields or are inconsistent with each other.
    """
    expected = set(RoadGraph.__dataclass_fields__) - {"profile"}
    if set(arrays) != expected:
        raise DataError(f"graph arrays have fields {sorted(arrays)}, expected {sorted(expected)}")
    graph = RoadGraph(profile=profile, **arrays)
    check_graph_shapes(graph)
    return graph


def check_graph_shapes(graph: RoadGraph) -> None:
    """Cheap O(1) consistency checks of a graph's array sizes (catches stale or torn caches).

    Raises
    ------
    DataError
        Describing the first inconsistency found.
    """
    n, m = graph.n_nodes, graph.n_edges
    problems = []
    if n < 0 or graph.first_out.shape[0] < 1 or int(graph.first_out[0]) != 0:
        problems.append("first_out must start at 0")
    elif int(graph.first_out[-1]) != m:
        problems.append(f"first_out ends at {int(graph.first_out[-1])}, not at {m} edges")
    for name in ("lat", "lon", "osm_node_id"):
        if getattr(graph, name).shape != (n,):
            problems.append(f"{name} has shape {getattr(graph, name).shape}, expected ({n},)")
    for name in ("travel_time", "length_m", "way_id"):
        if getattr(graph, name).shape != (m,):
            problems.append(f"{name} has shape {getattr(graph, name).shape}, expected ({m},)")
    if graph.geom_first.shape != (m + 1,):
        problems.append(f"geom_first has shape {graph.geom_first.shape}, expected ({m + 1},)")
    elif not (int(graph.geom_first[-1]) == graph.geom_lat.shape[0] == graph.geom_lon.shape[0]):
        problems.append("geom_first does not match geom_lat/geom_lon")
    if problems:
        raise DataError(f"inconsistent {graph.profile} graph: " + "; ".join(problems))


def _digest_cached(path: Path, cache_dir: Path) -> str:
    """sha256 of ``path``, remembered by (path, size, mtime) in a sidecar JSON file."""
    stat = path.stat()
    record_key = str(path.resolve())
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar = cache_dir / _DIGESTS_FILE
    try:
        known = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    entry = known.get(record_key)
    if isinstance(entry, dict) and all(entry.get(k) == v for k, v in stamp.items()):
        digest = entry.get("sha256")
        if isinstance(digest, str) and len(digest) == 64:
            return digest
    digest = file_digest(path)
    known[record_key] = {**stamp, "sha256": digest}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".digests-", dir=cache_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle)
        os.replace(tmp, sidecar)
    except OSError as exc:  # a read-only cache only costs re-hashing next time
        log.warning("could not record the digest of %s in %s: %s", path, sidecar, exc)
    return digest


def _graph_key(digest: str, profile: str, bbox: BBox | None) -> str:
    return cache_key(digest, profile, list(bbox) if bbox else None, FORMAT_VERSION)


def save_graph(
    graph: RoadGraph, cache_dir: Path, key: str, meta: dict[str, Any] | None = None
) -> Path:
    """Store ``graph`` atomically in the cache as entry ``graph-PROFILE-KEY``."""
    return save_arrays(
        cache_dir,
        f"graph-{graph.profile}",
        key,
        graph.array_fields(),
        {"profile": graph.profile, "format": FORMAT_VERSION, **(meta or {})},
    )


def load_graph(cache_dir: Path, profile: str, key: str) -> RoadGraph | None:
    """Load a cached graph memory-mapped, or return ``None`` if absent, stale or damaged."""
    hit = load_arrays(cache_dir, f"graph-{profile}", key)
    if hit is None:
        return None
    arrays, _meta = hit
    try:
        return graph_from_arrays(profile, arrays)
    except DataError as exc:
        log.warning("cached %s graph %s is unusable (%s); rebuilding it", profile, key, exc)
        return None


def _region_osm(region: Region | str, data_dir: Path | None) -> tuple[Region, Path, BBox | None]:
    region = load_region(region) if isinstance(region, str) else region
    source = region.source("osm")
    osm_path = check_osm_path(region.source_file("osm", data_dir), region=region.name)
    clip = source.options.get("clip_to_bbox", True)
    return region, osm_path, (region.bbox if clip else None)


def road_graphs(
    region: Region | str,
    profiles: Sequence[str] = PROFILES,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, RoadGraph]:
    """Return the region's road graphs for ``profiles``, from the cache or freshly built.

    On any miss, the OSM file is parsed once and every profile in :data:`PROFILES`
    is built and cached, so later calls for other profiles are hits.

    Parameters
    ----------
    region : Region or str
        The region (or its name); its ``osm`` source is the input, clipped to
        its bbox unless the source sets ``clip_to_bbox = false``.
    profiles : sequence of str
        Profiles wanted.
    data_dir, cache_dir : Path, optional
        Defaults: :func:`routing.regions.default_data_dir` / ``default_cache_dir``.

    Raises
    ------
    DataError
        The OSM file is missing or unusable (the message names the fetch command).
    """
    for profile in profiles:
        get_profile(profile)
    region, osm_path, bbox = _region_osm(region, data_dir)
    cache_dir = cache_dir or default_cache_dir()
    digest = _digest_cached(osm_path, cache_dir)
    keys = {p: _graph_key(digest, p, bbox) for p in PROFILES}
    found = {p: load_graph(cache_dir, p, keys[p]) for p in profiles}
    if all(g is not None for g in found.values()):
        return {p: g for p, g in found.items() if g is not None}
    log.info("building road graphs of %s from %s", region.name, osm_path)
    started = time.perf_counter()
    built = build_road_graphs(osm_path, PROFILES, bbox=bbox, region=region.name)
    meta = {"region": region.name, "osm": str(osm_path), "bbox": list(bbox) if bbox else None}
    for profile, graph in built.items():
        save_graph(graph, cache_dir, keys[profile], {**meta, "report": BUILD_REPORTS.get(profile)})
    log.info(
        "built and cached %s road graphs of %s in %.1f s",
        len(built),
        region.name,
        time.perf_counter() - started,
    )
    return {p: built[p] for p in profiles}


def road_graph(
    region: Region | str,
    profile: str,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> RoadGraph:
    """Return one road graph of a region (cached, memory-mapped; built on a miss).

    See :func:`road_graphs` for the parameters and errors.
    """
    return road_graphs(region, (profile,), data_dir=data_dir, cache_dir=cache_dir)[profile]


# --------------------------------------------------------------------------- wheelchair

WHEELCHAIR_FORMAT_VERSION = 1
"""Bump when the wheelchair rules or the accessibility array change (own cache entries)."""


def way_values_per_edge(table: WayTable, values: np.ndarray, graph: RoadGraph) -> np.ndarray:
    """Spread a per-way array of ``table`` onto the edges of ``graph`` (by ``way_id``)."""
    order = np.argsort(table.way_id, kind="stable")
    pos = np.searchsorted(table.way_id[order], graph.way_id)
    pos = np.clip(pos, 0, max(order.shape[0] - 1, 0))
    idx = order[pos]
    if not np.array_equal(table.way_id[idx], graph.way_id):
        raise DataError("graph edges refer to ways missing from the way table; rebuild the graph")
    return np.asarray(values)[idx]


def build_wheelchair_graph(
    osm_path: Path | str, *, bbox: BBox | None = None, region: str | None = None
) -> tuple[RoadGraph, np.ndarray]:
    """Build the step-free walking graph and each edge's accessibility evidence.

    Returns
    -------
    graph : RoadGraph
        Profile ``wheelchair`` (no steps, raised kerbs, steep or rough ways).
    access : ndarray of int8, shape (m,)
        Per edge: :data:`routing.profiles.ACCESS_UNKNOWN` (0, nothing tagged),
        ``ACCESS_INFERRED`` (1) or ``ACCESS_EXPLICIT`` (2).

    Raises
    ------
    DataError
        The file is missing, damaged, or has no step-free way.
    """
    osm_path = Path(osm_path)
    started = time.perf_counter()
    table = read_ways(osm_path, ("wheelchair",), bbox=bbox, region=region)
    try:
        graph, stats = assemble_graph(table, "wheelchair", bbox=bbox, source=f"OSM file {osm_path}")
    except DataError as exc:
        raise DataError(str(exc).replace("REGION", region or "REGION")) from None
    assert table.wheelchair_access is not None
    access = way_values_per_edge(table, table.wheelchair_access, graph).astype(np.int8)
    log.info(
        "built wheelchair graph: %s nodes, %s edges (%s of unknown accessibility) in %.1f s",
        f"{stats['nodes']:,}",
        f"{stats['edges']:,}",
        f"{int((access == 0).sum()):,}",
        time.perf_counter() - started,
    )
    return graph, access


def wheelchair_graph(
    region: Region | str, *, data_dir: Path | None = None, cache_dir: Path | None = None
) -> tuple[RoadGraph, np.ndarray]:
    """The region's step-free graph and per-edge accessibility, cached like :func:`road_graph`.

    See :func:`build_wheelchair_graph` for the result and :func:`road_graphs`
    for the parameters and errors.
    """
    region, osm_path, bbox = _region_osm(region, data_dir)
    cache_dir = cache_dir or default_cache_dir()
    digest = _digest_cached(osm_path, cache_dir)
    key = cache_key(_graph_key(digest, "wheelchair", bbox), WHEELCHAIR_FORMAT_VERSION)
    graph = load_graph(cache_dir, "wheelchair", key)
    hit = load_arrays(cache_dir, "wheelchair-access", key)
    if graph is not None and hit is not None:
        access = hit[0].get("access")
        if access is not None and access.shape == (graph.n_edges,):
            return graph, access
    graph, access = build_wheelchair_graph(osm_path, bbox=bbox, region=region.name)
    meta = {"region": region.name, "osm": str(osm_path), "bbox": list(bbox) if bbox else None}
    save_graph(graph, cache_dir, key, meta)
    save_arrays(cache_dir, "wheelchair-access", key, {"access": access}, meta)
    return graph, access
