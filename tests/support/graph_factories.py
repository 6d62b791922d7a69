"""Synthetic :class:`RoadGraph` builders and oracle converters for tests.

Graphs are small, seeded and realistic enough for routing: nodes scattered in
a box around Heidelberg, edges to near neighbours with lengths at least the
straight-line distance (so A*'s haversine bound holds), mixed speeds, one-way
streets, parallel edges and optional zero-time edges. Other test modules may
reuse these builders.
"""

from __future__ import annotations

import functools
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from routing.geo import haversine_m
from routing.graph import RoadGraph

CENTRE = (49.41, 8.69)  # Heidelberg


def graph_from_edges(
    n: int,
    tails,
    heads,
    travel_time,
    length_m=None,
    *,
    lat=None,
    lon=None,
    profile: str = "car",
    shape_points: bool = False,
    seed: int = 0,
) -> RoadGraph:
    """Build a :class:`RoadGraph` from an edge list (edges are sorted into CSR order).

    Without coordinates, nodes sit on a small circle around :data:`CENTRE`.
    Without lengths, each edge's length is its straight-line length. With
    ``shape_points`` every other edge gets one intermediate shape point.
    """
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    travel_time = np.asarray(travel_time, dtype=np.float64)
    if lat is None or lon is None:
        angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
        lat = CENTRE[0] + 0.01 * np.sin(angle)
        lon = CENTRE[1] + 0.015 * np.cos(angle)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    straight = haversine_m(lat[tails], lon[tails], lat[heads], lon[heads])
    length_m = straight.copy() if length_m is None else np.asarray(length_m, dtype=np.float64)
    order = np.lexsort((heads, tails))
    tails, heads = tails[order], heads[order]
    travel_time, length_m = travel_time[order], length_m[order]
    m = tails.size
    first_out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=first_out[1:])
    counts = np.zeros(m, dtype=np.int64)
    if shape_points:
        counts[::2] = 1
    geom_first = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts, out=geom_first[1:])
    with_shape = np.flatnonzero(counts)
    # The shape point sits at the midpoint, so the polyline stays straight-ish.
    geom_lat = (lat[tails[with_shape]] + lat[heads[with_shape]]) / 2
    geom_lon = (lon[tails[with_shape]] + lon[heads[with_shape]]) / 2
    return RoadGraph(
        profile=profile,
        first_out=first_out,
        head=heads.astype(np.int32),
        travel_time=travel_time,
        length_m=length_m,
        lat=lat,
        lon=lon,
        osm_node_id=np.arange(1000, 1000 + n, dtype=np.int64),
        way_id=np.arange(m, dtype=np.int64) // 3 + 1,
        geom_first=geom_first,
        geom_lat=geom_lat.astype(np.float64),
        geom_lon=geom_lon.astype(np.float64),
    )


def random_geometric_graph(
    n: int,
    *,
    seed: int = 0,
    k: int = 4,
    oneway_share: float = 0.2,
    parallel_share: float = 0.05,
    zero_share: float = 0.0,
    integer_times: bool = False,
    profile: str = "car",
    extent_deg: float = 0.05,
) -> RoadGraph:
    """A road-like random graph: each node linked to its ``k`` nearest neighbours.

    Most links are two-way; ``oneway_share`` of them only one way (so some
    pairs are unreachable). ``parallel_share`` adds slower duplicate edges,
    ``zero_share`` sets some travel times to zero, and ``integer_times`` rounds
    times to whole seconds (many equal-cost ties).
    """
    rng = np.random.default_rng(seed)
    lat = CENTRE[0] + rng.uniform(-extent_deg, extent_deg, n) * 0.66
    lon = CENTRE[1] + rng.uniform(-extent_deg, extent_deg, n)
    x = np.column_stack((lat * 111_000.0, lon * 72_000.0))
    _, near = cKDTree(x).query(x, k + 1)
    pairs = {(min(a, b), max(a, b)) for a in range(n) for b in near[a, 1:].tolist()}
    tails, heads = [], []
    for a, b in sorted(pairs):
        r = rng.random()
        if r < oneway_share / 2:
            tails.append(a)
            heads.append(b)
        elif r < oneway_share:
            tails.append(b)
            heads.append(a)
        else:
            tails += [a, b]
            heads += [b, a]
    tails_a, heads_a = np.array(tails), np.array(heads)
    extra = rng.random(tails_a.size) < parallel_share
    tails_a = np.concatenate((tails_a, tails_a[extra]))
    heads_a = np.concatenate((heads_a, heads_a[extra]))
    straight = haversine_m(lat[tails_a], lon[tails_a], lat[heads_a], lon[heads_a])
    length = straight * rng.uniform(1.0, 1.4, straight.size)
    speed = rng.choice([5.0, 8.3, 13.9, 22.2], straight.size)  # m/s
    time = length / speed
    n_extra = int(extra.sum())
    if n_extra:
        time[time.size - n_extra :] *= 1.5  # duplicates are slower service roads
    if integer_times:
        time = np.ceil(time)
    if zero_share:
        time[rng.random(time.size) < zero_share] = 0.0
    return graph_from_edges(
        n, tails_a, heads_a, time, length, lat=lat, lon=lon, profile=profile, shape_points=True
    )


def dead_end_graph() -> RoadGraph:
    """Seven nodes: a two-way ring 0-1-2-3 plus a one-way spur 3 -> 4 -> 5 and isolated 6.

    From 4 or 5 nothing but 5 is reachable; nothing reaches 6.
    """
    ring = [(0, 1), (1, 2), (2, 3), (3, 0)]
    tails = [a for a, b in ring] + [b for a, b in ring] + [3, 4]
    heads = [b for a, b in ring] + [a for a, b in ring] + [4, 5]
    times = [10.0, 20.0, 30.0, 40.0, 10.0, 20.0, 30.0, 40.0, 5.0, 7.0]
    return graph_from_edges(7, tails, heads, times)


def to_networkx(graph: RoadGraph, weight: str = "travel_time") -> nx.DiGraph:
    """A networkx DiGraph of ``graph`` keeping the minimum weight of parallel edges."""
    tails = graph.tail()
    values = getattr(graph, weight)
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    for u, v, w in zip(tails.tolist(), graph.head.tolist(), values.tolist(), strict=True):
        if u == v:
            continue
        if g.has_edge(u, v) and g[u][v]["weight"] <= w:
            continue
        g.add_edge(u, v, weight=w)
    return g


def to_scipy(graph: RoadGraph, *, reverse: bool = False) -> sp.csr_array:
    """A scipy sparse matrix of ``graph`` with the minimum weight of parallel edges.

    Zero weights are raised to 1e-300 so scipy does not drop them as non-edges.
    """
    tails = graph.tail().astype(np.int64)
    heads = graph.head.astype(np.int64)
    w = np.maximum(graph.travel_time, 1e-300)
    if reverse:
        tails, heads = heads, tails
    keep = tails != heads
    tails, heads, w = tails[keep], heads[keep], w[keep]
    order = np.lexsort((w, heads, tails))
    tails, heads, w = tails[order], heads[order], w[order]
    first = np.ones(tails.size, dtype=bool)
    first[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
    n = graph.n_nodes
    return sp.csr_array((w[first], (tails[first], heads[first])), shape=(n, n))


# ------------------------------------------------------------- Heidelberg helpers


@functools.cache
def heidelberg_graphs(data_dir: Path, cache_dir: Path) -> dict[str, RoadGraph]:
    """The real Heidelberg road graphs (built once, then from the content-keyed cache)."""
    from routing.build import road_graphs

    return road_graphs("heidelberg", data_dir=data_dir, cache_dir=cache_dir)


@functools.cache
def heidelberg_ch(profile: str, data_dir: Path, cache_dir: Path):
    """The customized hierarchy of a Heidelberg graph (structure cached on disk)."""
    from routing.ch import customized_hierarchy

    graph = heidelberg_graphs(data_dir, cache_dir)[profile]
    return customized_hierarchy(graph, cache_dir=cache_dir)
