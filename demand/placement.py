"""Where to put new charging points or eBox stations: the maximal covering location problem.

Given candidate sites and demand points, choose ``k`` sites so that as much
demand as possible lies within a walking (or cycling) time of a chosen site.

* **Candidates**: OSM car parks (``amenity=parking``), transit stops, or a
  CSV (``id,name,lat,lon``) / GeoJSON file of points.
* **Demand**: the Zensus population grid spread evenly over the walk-graph
  nodes of each cell (a 1 km cell is far larger than a 5-minute walk), or the
  origins and destinations of a trip-request CSV.
* **Coverage**: a bounded Dijkstra on the reverse walk/bike graph from each
  candidate's snapped node (so the time is *from* the demand point *to* the
  site); demand points are snapped to their nearest node.
* **Solver**: exact with OR-Tools (SCIP MIP; CP-SAT if SCIP is missing) for
  city sizes (demand points with the same covering sites are merged first),
  lazy greedy for large inputs;
  the exact answer is never worse than greedy (greedy seeds the solver and
  the better of the two is kept).

The result reports the covered demand, the gain of each chosen site (in
greedy order among the chosen) and can draw a map PNG.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from routing.errors import DataError, RequestError
from routing.graph import RoadGraph

log = logging.getLogger(__name__)

#: Largest model (coverage pairs after merging) solved exactly by default.
EXACT_MAX_PAIRS = 300_000
#: Demand points farther than this from the graph are left out (and counted).
MAX_SNAP_M = 400.0


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Sites:
    """Candidate sites: parallel arrays of id, name, lat, lon."""

    ids: list[str]
    names: list[str]
    lat: np.ndarray
    lon: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Demand:
    """Demand points with weights (people, trips)."""

    lat: np.ndarray
    lon: np.ndarray
    weight: np.ndarray
    source: str = ""

    @property
    def total(self) -> float:
        """Sum of the weights."""
        return float(self.weight.sum())


def read_sites(path: Path | str) -> Sites:
    """Candidate sites from a CSV (``id,name,lat,lon``; id/name optional) or GeoJSON of points.

    Raises
    ------
    DataError
        Missing file, missing columns, or coordinates that are not WGS84.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"candidate file {path} does not exist; give a CSV or GeoJSON of points")
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path} is not valid JSON: {exc}") from None
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            raise DataError(f"{path}: expected a GeoJSON FeatureCollection of Point features")
        ids, names, lats, lons = [], [], [], []
        for i, feature in enumerate(features):
            geometry = (feature or {}).get("geometry") or {}
            coords = geometry.get("coordinates")
            if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
                raise DataError(f"{path}: feature {i} is not a Point; only points can be sites")
            props = feature.get("properties") or {}
            ids.append(str(props.get("id", feature.get("id", i))))
            names.append(str(props.get("name", "")))
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        lat, lon = np.asarray(lats, float), np.asarray(lons, float)
    else:
        try:
            frame = pd.read_csv(path, sep=None, engine="python", dtype=str)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read candidate CSV {path}: {exc}") from None
        frame.columns = [c.strip().lower() for c in frame.columns]
        if not {"lat", "lon"} <= set(frame.columns):
            raise DataError(f"{path}: needs columns lat and lon (and optionally id, name)")
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(float)
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(float)
        ids = frame["id"].tolist() if "id" in frame.columns else [str(i) for i in range(len(frame))]
        names = frame["name"].fillna("").tolist() if "name" in frame.columns else [""] * len(frame)
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: site {row + 1} has no valid lat/lon (WGS84 degrees)")
    if not len(ids):
        raise DataError(f"{path} lists no sites")
    return Sites([str(i) for i in ids], [str(n) for n in names], lat, lon, str(path))


def osm_parking_sites(
    osm_path: Path | str, *, bbox: tuple[float, float, float, float] | None = None
) -> Sites:
    """Public car parks (``amenity=parking``, not private) from an OSM file, as points.

    Ways (the usual mapping) are placed at the mean of their nodes.
    """
    import osmium

    ids, names, lats, lons = [], [], [], []
    wanted = osmium.filter.TagFilter(("amenity", "parking"))
    try:
        processor = osmium.FileProcessor(str(osm_path)).with_locations().with_filter(wanted)
        for obj in processor:
            if obj.tags.get("access") in ("private", "no", "customers"):
                continue
            if isinstance(obj, osmium.osm.Node):
                lat, lon = obj.location.lat, obj.location.lon
                kind = "n"
            elif isinstance(obj, osmium.osm.Way):
                points = [(n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
                if not points:
                    continue
                lat, lon = (float(v) for v in np.mean(points, axis=0))
                kind = "w"
            else:
                continue
            ids.append(f"osm:{kind}{obj.id}")
            names.append(obj.tags.get("name", "") or "parking")
            lats.append(lat)
            lons.append(lon)
    except (RuntimeError, OSError) as exc:
        raise DataError(f"cannot read OSM file {osm_path}: {exc}") from None
    site_lat, site_lon = np.asarray(lats, float), np.asarray(lons, float)
    keep = _in_bbox(site_lat, site_lon, bbox)
    sites = Sites(
        [i for i, k in zip(ids, keep, strict=True) if k],
        [n for n, k in zip(names, keep, strict=True) if k],
        site_lat[keep],
        site_lon[keep],
        f"{osm_path} (amenity=parking)",
    )
    if not len(sites):
        raise DataError(
            f"{osm_path} has no public amenity=parking in the region; give --candidates"
        )
    return sites


def stop_sites(
    gtfs_path: Path | str, *, bbox: tuple[float, float, float, float] | None = None
) -> Sites:
    """Transit stops of a GTFS feed as candidate sites (one per parent station or stop)."""
    from routing.transit.gtfs import read_gtfs

    feed = read_gtfs(gtfs_path, bbox=bbox)
    stops = feed.stops.copy()
    stops["key"] = [p or s for p, s in zip(stops["parent_station"], stops["stop_id"], strict=True)]
    grouped = stops.groupby("key", sort=True).agg(
        name=("station_name", "first"), lat=("lat", "mean"), lon=("lon", "mean")
    )
    return Sites(
        [f"stop:{k}" for k in grouped.index],
        grouped["name"].astype(str).tolist(),
        grouped["lat"].to_numpy(float),
        grouped["lon"].to_numpy(float),
        f"{gtfs_path} (stops)",
    )


def population_demand(grid: Any, graph: RoadGraph) -> Demand:
    """Spread each Zensus cell's population evenly over the graph nodes inside the cell.

    Cells without a node put their people on the node nearest the cell centre.
    """
    from demand.zensus import wgs84_to_laea

    size = float(grid.cell_size_m)
    x, y = wgs84_to_laea(np.asarray(graph.lat), np.asarray(graph.lon))
    node_cell = np.floor(x / size).astype(np.int64) * 1_000_000 + np.floor(y / size).astype(
        np.int64
    )
    cx = np.floor(np.asarray(grid.x) / size).astype(np.int64)
    cy = np.floor(np.asarray(grid.y) / size).astype(np.int64)
    cell_key = cx * 1_000_000 + cy
    order = np.argsort(node_cell, kind="stable")
    sorted_cells = node_cell[order]
    lats, lons, weights = [], [], []
    population = np.asarray(grid.population, dtype=float)
    for key, people, clat, clon in zip(cell_key, population, grid.lat, grid.lon, strict=True):
        if people <= 0:
            continue
        lo, hi = np.searchsorted(sorted_cells, key), np.searchsorted(sorted_cells, key, "right")
        nodes = order[lo:hi]
        if nodes.size == 0:
            lats.append([float(clat)])
            lons.append([float(clon)])
            weights.append([float(people)])
            continue
        lats.append(graph.lat[nodes].tolist())
        lons.append(graph.lon[nodes].tolist())
        weights.append([float(people) / nodes.size] * nodes.size)
    flat = lambda parts: np.asarray([v for p in parts for v in p], dtype=float)  # noqa: E731
    return Demand(flat(lats), flat(lons), flat(weights), str(getattr(grid, "source", "zensus")))


def request_demand(path: Path | str) -> Demand:
    """Origins and destinations of a trip-request CSV (``origin_lat``... columns) as demand.

    Each endpoint counts ``passengers`` (1 when the column is absent).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"request file {path} does not exist")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read request CSV {path}: {exc}") from None
    need = {"origin_lat", "origin_lon", "destination_lat", "destination_lon"}
    if not need <= set(frame.columns):
        raise DataError(f"{path}: needs columns {', '.join(sorted(need))} (the request schema)")
    weight = (
        pd.to_numeric(frame["passengers"], errors="coerce").fillna(1).to_numpy(float)
        if "passengers" in frame.columns
        else np.ones(len(frame))
    )
    lat = np.concatenate([frame["origin_lat"], frame["destination_lat"]]).astype(float)
    lon = np.concatenate([frame["origin_lon"], frame["destination_lon"]]).astype(float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        raise DataError(f"{path} has no request with valid coordinates")
    return Demand(lat[ok], lon[ok], np.concatenate([weight, weight])[ok], str(path))


def _in_bbox(lat, lon, bbox) -> np.ndarray:
    if bbox is None:
        return np.ones(np.shape(lat), dtype=bool)
    min_lon, min_lat, max_lon, max_lat = bbox
    return (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Coverage:
    """Which demand nodes each candidate covers.

    Attributes
    ----------
    matrix : csr_matrix of bool, shape (n_sites, n_demand)
        ``matrix[s, d]``: demand node ``d`` reaches site ``s`` within the radius.
    demand_nodes : ndarray of int
        Graph node of each demand column.
    weights : ndarray of float
        Demand weight per column (points snapped to the same node are summed).
    site_nodes : ndarray of int
        Snapped graph node of each site (-1 = too far from the graph; covers nothing).
    dropped_weight : float
        Demand farther than :data:`MAX_SNAP_M` from the graph (never coverable).
    """

    matrix: csr_matrix
    demand_nodes: np.ndarray
    weights: np.ndarray
    site_nodes: np.ndarray
    dropped_weight: float


def coverage(
    graph: RoadGraph, sites: Sites, demand: Demand, radius_s: float, *, snapper: Any = None
) -> Coverage:
    """Build the coverage matrix with one bounded reverse Dijkstra per candidate site."""
    from routing.search import dijkstra_bounded
    from routing.snap import Snapper

    if radius_s <= 0:
        raise RequestError(f"the radius must be positive, got {radius_s} s")
    snapper = snapper or Snapper(graph)
    d_nodes, _d_dist = snapper.snap_many(demand.lat, demand.lon, max_distance_m=MAX_SNAP_M)
    ok = d_nodes >= 0
    dropped = float(demand.weight[~ok].sum())
    per_node = np.bincount(d_nodes[ok], weights=demand.weight[ok], minlength=graph.n_nodes)
    demand_nodes = np.flatnonzero(per_node > 0)
    column = np.full(graph.n_nodes, -1, dtype=np.int64)
    column[demand_nodes] = np.arange(demand_nodes.size)
    s_nodes, _ = snapper.snap_many(sites.lat, sites.lon, max_distance_m=MAX_SNAP_M)
    rows, cols = [], []
    for s, node in enumerate(s_nodes.tolist()):
        if node < 0:
            continue
        dist = dijkstra_bounded(graph, [node], None, radius_s, reverse=True)
        reached = column[np.flatnonzero(np.isfinite(dist))]
        reached = reached[reached >= 0]
        rows.append(np.full(reached.size, s, dtype=np.int64))
        cols.append(reached)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    matrix = csr_matrix(
        (np.ones(r.size, dtype=bool), (r, c)), shape=(len(sites), demand_nodes.size)
    )
    log.info(
        "coverage: %d sites, %d demand nodes, %d pairs within %.0f s (%.0f demand too far)",
        len(sites), demand_nodes.size, r.size, radius_s, dropped,
    )  # fmt: skip
    return Coverage(matrix, demand_nodes, per_node[demand_nodes], s_nodes, dropped)


def covered_weight(matrix: csr_matrix, weights: np.ndarray, chosen) -> float:
    """Demand weight covered by the ``chosen`` sites (rows)."""
    chosen = np.asarray(list(chosen), dtype=np.int64)
    if chosen.size == 0:
        return 0.0
    hit = np.asarray(matrix[chosen].sum(axis=0)).ravel() > 0
    return float(weights[hit].sum())


# --------------------------------------------------------------------------- solvers


@dataclass(frozen=True)
class PlacementSolution:
    """Chosen sites and what they cover.

    Attributes
    ----------
    chosen : list of int
        Site indices in greedy order among the chosen (largest gain first).
    gains : list of float
        Demand each chosen site adds to those before it (sums to ``covered``).
    covered : float
        Total covered demand weight.
    method : str
        ``"mip-scip"`` or ``"cp-sat"`` (optimal when ``optimal``), ``"greedy"``.
    optimal : bool
        Proven optimal.
    seconds : float
        Solver time.
    """

    chosen: list[int]
    gains: list[float]
    covered: float
    method: str
    optimal: bool
    seconds: float = 0.0
    greedy_covered: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def greedy_mclp(matrix: csr_matrix, weights: np.ndarray, k: int) -> list[int]:
    """Lazy greedy: repeatedly add the site with the largest marginal gain (ties: lowest index)."""
    matrix = csr_matrix(matrix)
    covered = np.zeros(matrix.shape[1], dtype=bool)
    heap = [(-float(weights[matrix.indices[matrix.indptr[s] : matrix.indptr[s + 1]]].sum()), s)
            for s in range(matrix.shape[0])]  # fmt: skip
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < k:
        _neg, s = heapq.heappop(heap)
        cols = matrix.indices[matrix.indptr[s] : matrix.indptr[s + 1]]
        gain = float(weights[cols[~covered[cols]]].sum())
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, s))  # stale bound: re-queue with the true gain
            continue
        chosen.append(s)
        covered[cols] = True
    return chosen


def order_by_gain(
    matrix: csr_matrix, weights: np.ndarray, chosen: list[int]
) -> tuple[list[int], list[float]]:
    """Order ``chosen`` greedily by marginal gain and return (order, gains)."""
    sub = csr_matrix(matrix)[chosen]
    order_local = greedy_mclp(sub, weights, len(chosen))
    rest = [i for i in range(len(chosen)) if i not in order_local]
    order = [chosen[i] for i in order_local + rest]
    covered = np.zeros(matrix.shape[1], dtype=bool)
    gains = []
    m = csr_matrix(matrix)
    for s in order:
        cols = m.indices[m.indptr[s] : m.indptr[s + 1]]
        gains.append(float(weights[cols[~covered[cols]]].sum()))
        covered[cols] = True
    return order, gains


def _merge_columns(matrix: csr_matrix, weights: np.ndarray) -> tuple[csr_matrix, np.ndarray]:
    """Drop uncovered demand and merge demand columns covered by the same set of sites."""
    csc = matrix.tocsc()
    keys: dict[bytes, int] = {}
    merged_w: list[float] = []
    rows, cols = [], []
    for d in range(csc.shape[1]):
        sites = csc.indices[csc.indptr[d] : csc.indptr[d + 1]]
        if sites.size == 0:
            continue
        key = np.sort(sites).astype(np.int64).tobytes()
        j = keys.get(key)
        if j is None:
            j = keys[key] = len(merged_w)
            merged_w.append(0.0)
            rows.append(sites)
            cols.append(np.full(sites.size, j, dtype=np.int64))
        merged_w[j] += float(weights[d])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    out = csr_matrix((np.ones(r.size, bool), (r, c)), shape=(matrix.shape[0], len(merged_w)))
    return out, np.asarray(merged_w)


def cp_sat_mclp(
    matrix: csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    hint: list[int] | None = None,
    time_limit_s: float = 60.0,
    scale: float | None = None,
) -> tuple[list[int], bool]:
    """Solve the MCLP with CP-SAT: max sum w_d y_d, y_d <= sum_{s covers d} x_s, sum x_s <= k.

    Weights are scaled to integers (CP-SAT needs them); the scale keeps at least
    six significant digits. Returns (chosen sites, proven optimal).
    """
    from ortools.sat.python import cp_model

    n_sites, n_dem = matrix.shape
    if scale is None:
        top = float(weights.max()) if weights.size else 1.0
        scale = (
            1.0 if np.allclose(weights, np.round(weights)) and top < 1e9 else 1e6 / max(top, 1e-9)
        )
    w = np.round(np.asarray(weights) * scale).astype(np.int64)
    model = cp_model.CpModel()
    x = [model.NewBoolVar(f"x{s}") for s in range(n_sites)]
    y = [model.NewBoolVar(f"y{d}") for d in range(n_dem)]
    csc = matrix.tocsc()
    for d in range(n_dem):
        sites = csc.indices[csc.indptr[d] : csc.indptr[d + 1]]
        model.Add(y[d] <= sum(x[int(s)] for s in sites))
    model.Add(sum(x) <= k)
    model.Maximize(sum(int(w[d]) * y[d] for d in range(n_dem)))
    if hint:
        chosen_hint = set(hint)
        for s in range(n_sites):
            model.AddHint(x[s], int(s in chosen_hint))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = 2
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return list(hint or []), False
    chosen = [s for s in range(n_sites) if solver.Value(x[s])]
    return chosen, status == cp_model.OPTIMAL


def mip_mclp(
    matrix: csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    hint: list[int] | None = None,
    time_limit_s: float = 60.0,
) -> tuple[list[int], bool] | None:
    """Solve the MCLP as a MIP with SCIP (OR-Tools' linear solver): x binary, y in [0, 1].

    With binary x an optimal y is integral, so the LP-based branch and bound
    is exact on the float weights. Returns ``None`` if SCIP is unavailable.
    """
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        return None
    n_sites, n_dem = matrix.shape
    x = [solver.BoolVar(f"x{s}") for s in range(n_sites)]
    y = [solver.NumVar(0.0, 1.0, f"y{d}") for d in range(n_dem)]
    csc = matrix.tocsc()
    for d in range(n_dem):
        sites = csc.indices[csc.indptr[d] : csc.indptr[d + 1]]
        solver.Add(y[d] <= solver.Sum([x[int(s)] for s in sites]))
    solver.Add(solver.Sum(x) <= k)
    solver.Maximize(solver.Sum([float(weights[d]) * y[d] for d in range(n_dem)]))
    if hint:
        chosen_hint = set(hint)
        solver.SetHint(x, [1.0 if s in chosen_hint else 0.0 for s in range(n_sites)])
    solver.SetTimeLimit(int(time_limit_s * 1000))
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return list(hint or []), False
    chosen = [s for s in range(n_sites) if x[s].solution_value() > 0.5]
    return chosen, status == pywraplp.Solver.OPTIMAL


def solve_mclp(
    matrix: csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    time_limit_s: float = 60.0,
) -> PlacementSolution:
    """Choose up to ``k`` sites maximising covered demand.

    Parameters
    ----------
    matrix : csr_matrix of bool, shape (n_sites, n_demand)
    weights : ndarray, shape (n_demand,)
    k : int
    method : {"auto", "exact", "greedy"}
        ``auto`` = exact (SCIP MIP) when the merged model has at most
        :data:`EXACT_MAX_PAIRS` coverage pairs, else greedy.
    time_limit_s : float
        CP-SAT time limit (the best solution found so far is used after it).

    Raises
    ------
    RequestError
        ``k < 1`` or an unknown method.
    """
    if k < 1:
        raise RequestError(f"k must be at least 1, got {k}")
    if method not in ("auto", "exact", "greedy"):
        raise RequestError(f"unknown method {method!r}; use auto, exact or greedy")
    started = time.perf_counter()
    weights = np.asarray(weights, dtype=float)
    greedy = greedy_mclp(matrix, weights, k)
    greedy_cov = covered_weight(matrix, weights, greedy)
    merged, merged_w = _merge_columns(matrix, weights)
    exact = method == "exact" or (method == "auto" and merged.nnz <= EXACT_MAX_PAIRS)
    chosen, optimal, used = greedy, False, "greedy"
    if exact and merged.shape[1]:
        answer = mip_mclp(merged, merged_w, k, hint=greedy, time_limit_s=time_limit_s)
        solver = "mip-scip"
        if answer is None:
            answer = cp_sat_mclp(merged, merged_w, k, hint=greedy, time_limit_s=time_limit_s)
            solver = "cp-sat"
        found, optimal = answer
        if covered_weight(matrix, weights, found) >= greedy_cov - 1e-9 * max(greedy_cov, 1.0):
            chosen, used = found, solver
        else:  # only possible through weight rounding or a time limit
            optimal = False
    elif exact:
        optimal = True  # nothing coverable: any choice is optimal
    order, gains = order_by_gain(matrix, weights, chosen)
    total = covered_weight(matrix, weights, order)
    return PlacementSolution(
        order,
        gains,
        total,
        used,
        bool(optimal),
        time.perf_counter() - started,
        greedy_cov,
        {"merged_demand": int(merged.shape[1]), "pairs": int(merged.nnz)},
    )


def brute_force_mclp(matrix: csr_matrix, weights: np.ndarray, k: int) -> float:
    """Best coverage over every set of exactly ``min(k, n_sites)`` sites (tiny instances only)."""
    from itertools import combinations

    n = matrix.shape[0]
    return max(
        (covered_weight(matrix, weights, combo) for combo in combinations(range(n), min(k, n))),
        default=0.0,
    )


# --------------------------------------------------------------------------- report


@dataclass
class PlacementResult:
    """Everything a placement run produced (see :func:`place`)."""

    kind: str
    k: int
    radius_min: float
    mode: str
    sites: Sites
    demand: Demand
    coverage: Coverage
    solution: PlacementSolution

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: chosen sites with their gains, totals, solver info."""
        total = self.demand.total
        sol = self.solution
        chosen = [
            {
                "rank": i + 1,
                "id": self.sites.ids[s],
                "name": self.sites.names[s],
                "lat": round(float(self.sites.lat[s]), 6),
                "lon": round(float(self.sites.lon[s]), 6),
                "gain": round(g, 3),
                "gain_share": round(g / total, 5) if total else 0.0,
            }
            for i, (s, g) in enumerate(zip(sol.chosen, sol.gains, strict=True))
        ]
        return {
            "kind": self.kind,
            "k": self.k,
            "radius_min": self.radius_min,
            "mode": self.mode,
            "candidates": len(self.sites),
            "candidates_source": self.sites.source,
            "demand_source": self.demand.source,
            "demand_total": round(total, 3),
            "demand_unreachable": round(self.coverage.dropped_weight, 3),
            "covered": round(sol.covered, 3),
            "covered_share": round(sol.covered / total, 5) if total else 0.0,
            "greedy_covered": round(sol.greedy_covered, 3),
            "method": sol.method,
            "optimal": sol.optimal,
            "solve_seconds": round(sol.seconds, 3),
            "chosen": chosen,
            **sol.info,
        }

    def geojson(self) -> dict[str, Any]:
        """Chosen sites as GeoJSON points (lon, lat) with rank and gain."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]},
                    "properties": c,
                }
                for c in self.summary()["chosen"]
            ],
        }

    def plot(self, path: Path | str, graph: RoadGraph) -> Path:
        """Draw demand (covered in colour), candidates and the chosen sites to a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cov = self.coverage
        hit = np.asarray(cov.matrix[self.solution.chosen].sum(axis=0)).ravel() > 0
        fig, ax = plt.subplots(figsize=(9, 9), dpi=110)
        from matplotlib.collections import LineCollection

        tails = graph.tail()
        segments = np.stack(
            (np.column_stack((graph.lon[tails], graph.lat[tails])),
             np.column_stack((graph.lon[graph.head], graph.lat[graph.head]))), axis=1,
        )  # fmt: skip
        lines = LineCollection(list(segments), colors="#dddddd", linewidths=0.3, zorder=0)
        ax.add_collection(lines)
        lat, lon = graph.lat[cov.demand_nodes], graph.lon[cov.demand_nodes]
        size = 2 + 30 * cov.weights / max(float(cov.weights.max(initial=1.0)), 1e-9)
        ax.scatter(lon[~hit], lat[~hit], s=size[~hit], c="#9e9e9e", alpha=0.5, label="demand")
        ax.scatter(lon[hit], lat[hit], s=size[hit], c="#1e88e5", alpha=0.7, label="covered")
        ax.scatter(self.sites.lon, self.sites.lat, s=8, marker="x", c="#555555", label="candidates")
        chosen = self.solution.chosen
        ax.scatter(self.sites.lon[chosen], self.sites.lat[chosen], s=160, marker="*",
                   c="#e53935", edgecolors="black", zorder=5, label="chosen")  # fmt: skip
        for rank, s in enumerate(chosen, start=1):
            ax.annotate(str(rank), (self.sites.lon[s], self.sites.lat[s]), fontsize=8,
                        xytext=(4, 4), textcoords="offset points", zorder=6)  # fmt: skip
        total = self.demand.total
        ax.set_title(
            f"{self.k} {self.kind} sites within {self.radius_min:g} min ({self.mode}): "
            f"{self.solution.covered / total:.1%} of demand covered ({self.solution.method})"
            if total
            else f"{self.k} {self.kind} sites"
        )
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_aspect(1 / math.cos(math.radians(float(np.mean(self.sites.lat)))))
        ax.legend(loc="lower left", fontsize=8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def place(
    graph: RoadGraph,
    sites: Sites,
    demand: Demand,
    *,
    kind: str,
    k: int,
    radius_min: float,
    method: str = "auto",
    time_limit_s: float = 60.0,
    snapper: Any = None,
) -> PlacementResult:
    """Coverage plus solver in one call (the graph decides walking or cycling)."""
    if radius_min <= 0 or not math.isfinite(radius_min):
        raise RequestError(f"--radius-min must be a positive number of minutes, got {radius_min}")
    cov = coverage(graph, sites, demand, radius_min * 60.0, snapper=snapper)
    solution = solve_mclp(cov.matrix, cov.weights, k, method=method, time_limit_s=time_limit_s)
    log.info(
        "placed %d %s: %.0f of %.0f demand covered (%s%s) in %.1f s",
        len(solution.chosen), kind, solution.covered, demand.total, solution.method,
        ", optimal" if solution.optimal else "", solution.seconds,
    )  # fmt: skip
    return PlacementResult(kind, k, radius_min, graph.profile, sites, demand, cov, solution)


__all__ = [
    "Coverage",
    "Demand",
    "PlacementResult",
    "PlacementSolution",
    "Sites",
    "brute_force_mclp",
    "coverage",
    "covered_weight",
    "cp_sat_mclp",
    "greedy_mclp",
    "mip_mclp",
    "osm_parking_sites",
    "place",
    "population_demand",
    "read_sites",
    "request_demand",
    "solve_mclp",
    "stop_sites",
]
