"""Walking transfers between stops, measured on the walk graph (not as straight lines).

Every stop is snapped onto the walk graph once (:class:`StopLinks`: the seeds a
search starts from or ends at, plus the off-road distance from the pole to the
road). One bounded multi-source Dijkstra per stop then gives the walking time
to every stop within ``max_walk_s``. ``transfers.txt`` overrides the result
(``transfer_type`` 2 sets a minimum time, 3 forbids the transfer). Stops too far
from any road fall back to straight-line distance at walking speed; the same
straight-line footpaths serve unit tests without a road graph.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from routing.errors import SnapError
from routing.geo import haversine_m
from routing.graph import RoadGraph
from routing.snap import Snap, Snapper
from routing.transit.raptor import Footpaths
from routing.transit.timetable import Timetable

log = logging.getLogger(__name__)

WALK_SPEED_MPS = 1.2
"""Speed for the off-road bit between a stop pole and the road, and for straight-line fallbacks."""
STRAIGHT_LINE_DETOUR = 1.3
"""Straight-line distances are stretched by this factor to approximate real walking paths."""
MAX_STOP_SNAP_M = 300.0


@dataclass(frozen=True)
class StopLinks:
    """How each stop connects to the walk graph.

    Attributes
    ----------
    src_nodes, src_costs : ndarray (S, 2)
        Nodes reachable from the stop and the seconds to reach them (cost
        ``inf`` pads one-way edges); ``tgt_nodes``/``tgt_costs`` likewise for
        walking *to* the stop.
    offroad_s : ndarray (S,)
        Seconds between the stop pole and its snapped road point.
    linked : ndarray of bool (S,)
        False for stops farther than the snap limit from any walkable road.
    snaps : list
        The :class:`routing.snap.Snap` of each stop (None where not linked).
    """

    src_nodes: np.ndarray
    src_costs: np.ndarray
    tgt_nodes: np.ndarray
    tgt_costs: np.ndarray
    offroad_s: np.ndarray
    linked: np.ndarray
    snaps: list[Snap | None]


def link_stops(
    tt: Timetable, snapper: Snapper, *, max_snap_m: float = MAX_STOP_SNAP_M
) -> StopLinks:
    """Snap every stop of ``tt`` onto the walk graph of ``snapper``."""
    S = tt.n_stops
    src_nodes = np.zeros((S, 2), np.int32)
    tgt_nodes = np.zeros((S, 2), np.int32)
    src_costs = np.full((S, 2), np.inf)
    tgt_costs = np.full((S, 2), np.inf)
    offroad = np.zeros(S)
    linked = np.zeros(S, dtype=bool)
    snaps: list[Snap | None] = [None] * S
    for s in range(S):
        try:
            snap = snapper.snap(
                float(tt.stop_lat[s]), float(tt.stop_lon[s]), max_distance_m=max_snap_m
            )
        except SnapError:
            continue
        snaps[s] = snap
        n, c = snap.source_seeds()
        src_nodes[s, : len(n)], src_costs[s, : len(n)] = n, c
        src_nodes[s, len(n) :] = n[0]
        n, c = snap.target_seeds()
        tgt_nodes[s, : len(n)], tgt_costs[s, : len(n)] = n, c
        tgt_nodes[s, len(n) :] = n[0]
        offroad[s] = snap.distance_m / WALK_SPEED_MPS
        linked[s] = True
    if (~linked).any():
        log.warning(
            "%d of %d stops are farther than %.0f m from any walkable road; they get "
            "straight-line footpaths only",
            int((~linked).sum()),
            S,
            max_snap_m,
        )
    return StopLinks(src_nodes, src_costs, tgt_nodes, tgt_costs, offroad, linked, snaps)


def walk_to_stops(links: StopLinks, dist: np.ndarray) -> np.ndarray:
    """Seconds to each stop given node distances ``dist`` of a forward search (inf if beyond)."""
    t: np.ndarray = np.min(dist[links.tgt_nodes] + links.tgt_costs, axis=1) + links.offroad_s
    t[~links.linked] = np.inf
    return t


def walk_from_stops(links: StopLinks, dist_rev: np.ndarray) -> np.ndarray:
    """Seconds from each stop to the seeds of a reverse search with node distances ``dist_rev``."""
    t: np.ndarray = np.min(dist_rev[links.src_nodes] + links.src_costs, axis=1) + links.offroad_s
    t[~links.linked] = np.inf
    return t


def walk_graph_footpaths(
    tt: Timetable, graph: RoadGraph, links: StopLinks, *, max_walk_s: float = 600.0
) -> Footpaths:
    """Footpaths between all stop pairs within ``max_walk_s`` on the walk graph.

    One multi-source bounded Dijkstra per linked stop (seeded with both ends of
    its snapped edge); unlinked stops get straight-line footpaths. transfers.txt
    entries are applied on top.
    """
    from routing.search import dijkstra_bounded

    t0 = time.perf_counter()
    S = tt.n_stops
    srcs, dsts, durs = [], [], []
    served = np.diff(tt.stop_route_first) > 0
    for s in np.flatnonzero(links.linked & served):
        seeds = np.isfinite(links.src_costs[s])
        dist = dijkstra_bounded(
            graph,
            links.src_nodes[s][seeds],
            links.src_costs[s][seeds] + links.offroad_s[s],
            max_walk_s,
        )
        t = walk_to_stops(links, dist)
        snap = links.snaps[s]
        assert snap is not None  # a linked stop has its snap
        # Two stops on the same edge are connected along it without reaching a node.
        for o in np.flatnonzero(links.linked & (links.tgt_nodes[:, 0] == links.tgt_nodes[s, 0])):
            other = links.snaps[o]
            if other is not None and other.edge == snap.edge:
                t[o] = min(
                    t[o], snap.direct_cost_to(other) + links.offroad_s[s] + links.offroad_s[o]
                )
        t[s] = np.inf
        hits = np.flatnonzero((t <= max_walk_s) & served)
        srcs.append(np.full(hits.size, s))
        dsts.append(hits)
        durs.append(np.ceil(t[hits]))
    fallback = ~links.linked & served
    if fallback.any():
        sl = straight_line_pairs(tt.stop_lat, tt.stop_lon, max_walk_s)
        keep = fallback[sl[0]] | fallback[sl[1]]
        srcs.append(sl[0][keep])
        dsts.append(sl[1][keep])
        durs.append(sl[2][keep])
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    dur = np.concatenate(durs) if durs else np.zeros(0)
    fp = apply_transfers_txt(tt, src, dst, dur)
    log.info(
        "computed %d footpaths between %d stops on the walk graph (max %.0f s) in %.2f s",
        fp.n_paths,
        S,
        max_walk_s,
        time.perf_counter() - t0,
    )
    return fp


def straight_line_pairs(
    lat: np.ndarray,
    lon: np.ndarray,
    max_walk_s: float,
    speed_mps: float = WALK_SPEED_MPS,
    detour: float = STRAIGHT_LINE_DETOUR,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered stop pairs within ``max_walk_s`` by stretched straight-line distance."""
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) * detour / speed_mps
    np.fill_diagonal(d, np.inf)
    a, b = np.nonzero(d <= max_walk_s)
    return a, b, np.ceil(d[a, b])


def straight_line_footpaths(
    tt: Timetable, *, max_walk_s: float = 600.0, speed_mps: float = WALK_SPEED_MPS
) -> Footpaths:
    """Footpaths by stretched straight-line distance (for tests and feeds without a map)."""
    a, b, d = straight_line_pairs(tt.stop_lat, tt.stop_lon, max_walk_s, speed_mps)
    return apply_transfers_txt(tt, a, b, d)


def apply_transfers_txt(
    tt: Timetable, src: np.ndarray, dst: np.ndarray, dur: np.ndarray
) -> Footpaths:
    """Combine computed footpaths with the feed's transfers.txt (type 2 times, type 3 bans)."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    dur = np.asarray(dur, np.float64)
    if tt.transfer_from.size:
        banned = {
            (int(a), int(b))
            for a, b, t in zip(tt.transfer_from, tt.transfer_to, tt.transfer_time, strict=True)
            if t == -3
        }
        given = tt.transfer_time >= 0
        src = np.concatenate((src, tt.transfer_from[given]))
        dst = np.concatenate((dst, tt.transfer_to[given]))
        dur = np.concatenate((dur, tt.transfer_time[given].astype(np.float64)))
        if banned:
            keep = np.array(
                [(int(a), int(b)) not in banned for a, b in zip(src, dst, strict=True)], dtype=bool
            )
            src, dst, dur = src[keep], dst[keep], dur[keep]
        # transfers.txt is authoritative for the pairs it names: drop the computed ones.
        named = {
            (int(a), int(b))
            for a, b in zip(tt.transfer_from[given], tt.transfer_to[given], strict=True)
        }
        n_computed = src.size - int(given.sum())
        keep = np.ones(src.size, dtype=bool)
        for i in range(n_computed):
            if (int(src[i]), int(dst[i])) in named:
                keep[i] = False
        src, dst, dur = src[keep], dst[keep], dur[keep]
    if dur.size and not np.isfinite(dur).all():
        ok = np.isfinite(dur)
        src, dst, dur = src[ok], dst[ok], dur[ok]
    return Footpaths.from_pairs(tt.n_stops, src, dst, dur.astype(np.int64))
