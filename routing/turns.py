"""The turn-expanded (edge-based) road graph: turn restrictions and turn costs made exact.

In a node-based graph a route may turn anywhere it likes at a junction. Real
vehicles may not (turn restrictions) and pay for turning (slowing down, waiting
for a gap across oncoming traffic). The classic exact model (OSRM, RoutingKit's
``turn_expanded`` graphs) makes every *directed road segment* a node of a new
graph and every *allowed turn* an arc:

* search node ``e`` means "having driven road edge ``e`` to its end";
* arc ``e -> f`` exists when the turn from ``e`` onto ``f`` is allowed; its
  travel time is the turn's cost plus the time to drive ``f``.

U-turns (``f`` runs back along ``e``) are allowed only where the road gives no
other way on (a dead end, a barrier, or every other exit forbidden), with a
large penalty; bicycles may turn round anywhere at a small cost. Via-way
restrictions ("from A along B, do not turn into C") are made exact by copying
the search nodes of the via edges for vehicles that entered them from A, and
leaving the forbidden exit out of the copies (the node-splitting of OSRM's
extractor).

The result is a plain :class:`~routing.graph.RoadGraph`, so every algorithm
(hierarchies, matrices, isochrones, live closures by way id) runs on it
unchanged: node coordinates are the end points of the road segments, an
arc's geometry, length and way are those of the segment it drives onto, and
``road_edge``/``turn_cost`` tell snapping which arcs drive the same segment
and how much of an arc's time is the turn.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from routing.graph import RoadGraph
from routing.restrictions import ResolvedRestrictions
from routing.speed_model import BikeTurns, MotorModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JunctionInfo:
    """Per-node and per-edge facts of a node-based graph that turn costs depend on.

    Attributes
    ----------
    blocked : ndarray of bool, shape (n,)
        Nodes a vehicle cannot pass through (a barrier): only a U-turn leaves them.
    signal : ndarray of bool, shape (n,)
        Nodes with a traffic signal (no extra yielding cost there).
    edge_rank : ndarray of int8, shape (m,)
        Road class of each edge (:data:`routing.osm.HIGHWAY_RANK`).
    """

    blocked: np.ndarray
    signal: np.ndarray
    edge_rank: np.ndarray


def _bearings(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    """Compass bearing (degrees) of each edge's first and last segment."""
    tail = graph.tail()
    head = np.asarray(graph.head)
    gf = np.asarray(graph.geom_first)
    inner = np.diff(gf)
    has = inner > 0
    # First segment: tail -> first shape point (or head); last: last shape point (or tail) -> head.
    first = np.minimum(gf[:-1], max(gf[-1] - 1, 0))
    first_lat = np.where(has, graph.geom_lat[first], graph.lat[head])
    first_lon = np.where(has, graph.geom_lon[first], graph.lon[head])
    last_lat = np.where(has, graph.geom_lat[np.maximum(gf[1:] - 1, 0)], graph.lat[tail])
    last_lon = np.where(has, graph.geom_lon[np.maximum(gf[1:] - 1, 0)], graph.lon[tail])

    def bearing(
        lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
    ) -> np.ndarray:
        p1, p2 = np.radians(lat1), np.radians(lat2)
        dl = np.radians(lon2 - lon1)
        x = np.sin(dl) * np.cos(p2)
        y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
        degrees: np.ndarray = np.degrees(np.arctan2(x, y))
        return degrees

    out_bearing = bearing(graph.lat[tail], graph.lon[tail], first_lat, first_lon)
    in_bearing = bearing(last_lat, last_lon, graph.lat[head], graph.lon[head])
    return out_bearing, in_bearing


def turn_angle(in_bearing: np.ndarray, out_bearing: np.ndarray) -> np.ndarray:
    """Signed turn angle in degrees: 0 straight on, > 0 to the right, < 0 to the left."""
    angle: np.ndarray = (np.asarray(out_bearing) - np.asarray(in_bearing) + 540.0) % 360.0 - 180.0
    return angle


def angle_cost(angle: np.ndarray, model: MotorModel) -> np.ndarray:
    """Seconds a turn of ``angle`` degrees costs (sigmoid; turns across traffic dearer).

    Right-hand traffic: a left turn crosses oncoming traffic, so the bias makes
    it dearer; the cost rises from ~0 s straight on to ``turn_penalty_s`` for
    a full turn round (the OSRM car profile's formula).
    """
    a = np.asarray(angle, dtype=np.float64)
    bias = model.turn_bias
    right = model.turn_penalty_s / (1.0 + np.exp(-((13.0 / bias) * a / 180.0 - 6.5 * bias)))
    left = model.turn_penalty_s / (1.0 + np.exp(-((13.0 * bias) * -a / 180.0 - 6.5 / bias)))
    return np.where(a >= 0.0, right, left)


@dataclass
class TurnGraphReport:
    """What the expansion kept and dropped (logged, stored in the cache metadata)."""

    search_nodes: int = 0
    turns: int = 0
    forbidden_turns: int = 0
    u_turns: int = 0
    via_way_copies: int = 0
    via_way_skipped: Counter[str] | None = None
    dropped_search_nodes: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "search_nodes": self.search_nodes,
            "turns": self.turns,
            "forbidden_turns": self.forbidden_turns,
            "u_turns": self.u_turns,
            "via_way_copies": self.via_way_copies,
            "via_way_skipped": dict(self.via_way_skipped or {}),
            "dropped_search_nodes": self.dropped_search_nodes,
        }


def _all_turns(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (in-edge, out-edge) meeting at a node, as two int64 arrays."""
    first_out = np.asarray(graph.first_out, dtype=np.int64)
    head = np.asarray(graph.head, dtype=np.int64)
    counts = first_out[head + 1] - first_out[head]
    frm = np.repeat(np.arange(graph.n_edges, dtype=np.int64), counts)
    offset = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    to = first_out[head][frm] + offset
    return frm, to


def _turn_costs(
    graph: RoadGraph,
    frm: np.ndarray,
    to: np.ndarray,
    uturn: np.ndarray,
    model: MotorModel | BikeTurns,
    info: JunctionInfo,
) -> np.ndarray:
    """Seconds each allowed turn costs under ``model``."""
    if isinstance(model, BikeTurns):
        return np.where(uturn, model.u_turn_s, 0.0)
    tail = graph.tail().astype(np.int64)
    head = np.asarray(graph.head, dtype=np.int64)
    n = graph.n_nodes
    # Roads at a node: distinct neighbours over in- and out-edges.
    pairs = np.unique(
        np.concatenate(
            (
                np.stack((head, tail), axis=1),
                np.stack((tail, head), axis=1),
            )
        ),
        axis=0,
    )
    roads = np.bincount(pairs[:, 0], minlength=n)
    out_b, in_b = _bearings(graph)
    angle = turn_angle(in_b[frm], out_b[to])
    via = head[frm]
    junction = (roads[via] > 2) | uturn
    cost = np.where(junction, angle_cost(np.where(uturn, 180.0, angle), model), 0.0)
    cost = cost + np.where(uturn, model.u_turn_s, 0.0)
    # Yield where a minor road meets a larger one without signals.
    rank = info.edge_rank.astype(np.int16)
    node_rank = np.zeros(n, dtype=np.int16)
    np.maximum.at(node_rank, head, rank)
    np.maximum.at(node_rank, tail, rank)
    minor = (node_rank[via] > np.maximum(rank[frm], rank[to])) & ~info.signal[via] & ~uturn
    return cost + np.where(minor & junction, model.minor_crossing_s, 0.0)


def _expand_via_ways(
    n_base: int,
    frm: np.ndarray,
    to: np.ndarray,
    cost: np.ndarray,
    paths: list[tuple[np.ndarray, bool]],
    report: TurnGraphReport,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Copy the search nodes of via-way chains; return arcs and the road edge of each new node."""
    skipped: Counter[str] = Counter()
    arc_of: dict[tuple[int, int], int] = {
        (int(a), int(b)): i for i, (a, b) in enumerate(zip(frm.tolist(), to.tolist(), strict=True))
    }
    out_arcs: dict[int, list[int]] = {}
    for i, a in enumerate(frm.tolist()):
        out_arcs.setdefault(a, []).append(i)
    new_frm: list[int] = []
    new_to: list[int] = []
    new_cost: list[float] = []
    redirect: dict[int, int] = {}  # arc index -> new head (a copy)
    copy_edge: list[int] = []
    for chain, only in paths:
        edges = chain.tolist()
        found = [arc_of.get((edges[i], edges[i + 1])) for i in range(len(edges) - 1)]
        steps = [s for s in found if s is not None]
        if len(steps) != len(found):
            skipped["a turn along the chain is already forbidden"] += 1
            continue
        if steps[0] in redirect:
            skipped["overlaps another via-way restriction"] += 1
            continue
        base = n_base + len(copy_edge)
        via = edges[1:-1]
        copy_edge.extend(via)
        redirect[steps[0]] = base
        for k, e in enumerate(via):
            me = base + k
            nxt = edges[k + 2]
            for arc in out_arcs.get(e, []):
                target = int(to[arc])
                last = k == len(via) - 1
                if target == nxt and not last:
                    target = base + k + 1
                elif last and ((target == nxt) != only):
                    continue  # no_: drop the forbidden exit; only_: drop every other one
                new_frm.append(me)
                new_to.append(target)
                new_cost.append(float(cost[arc]))
    heads = to.copy()
    for arc, node in redirect.items():
        heads[arc] = node
    report.via_way_copies = len(copy_edge)
    report.via_way_skipped = skipped
    return (
        np.concatenate((frm, np.asarray(new_frm, dtype=np.int64))),
        np.concatenate((heads, np.asarray(new_to, dtype=np.int64))),
        np.concatenate((cost, np.asarray(new_cost, dtype=np.float64))),
        np.asarray(copy_edge, dtype=np.int64),
    )


def build_turn_graph(
    graph: RoadGraph,
    model: MotorModel | BikeTurns,
    restrictions: ResolvedRestrictions,
    info: JunctionInfo,
) -> tuple[RoadGraph, TurnGraphReport]:
    """Expand a node-based graph into the turn graph of ``model``.

    Parameters
    ----------
    graph : RoadGraph
        Node-based graph of the profile (travel times include node delays).
    model : MotorModel or BikeTurns
        Turn rules and costs (:mod:`routing.speed_model`).
    restrictions : ResolvedRestrictions
        The restrictions that bind this profile, on ``graph``'s edges.
    info : JunctionInfo
        Barriers, signals and road classes of ``graph``.

    Returns
    -------
    turn_graph : RoadGraph
        Search nodes are road segments (and via-way copies), arcs are allowed
        turns; only the largest strongly connected part is kept.
    report : TurnGraphReport
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    report = TurnGraphReport()
    m = graph.n_edges
    tail = graph.tail().astype(np.int64)
    head = np.asarray(graph.head, dtype=np.int64)
    frm, to = _all_turns(graph)
    uturn = head[to] == tail[frm]
    allowed = np.ones(frm.shape[0], dtype=bool)
    if restrictions.forbidden.size:
        keys = frm * m + to
        bad = restrictions.forbidden[:, 0] * m + restrictions.forbidden[:, 1]
        hit = np.isin(keys, bad)
        report.forbidden_turns = int(hit.sum())
        allowed &= ~hit
    allowed &= ~(info.blocked[head[frm]] & ~uturn)
    if isinstance(model, MotorModel):
        # A U-turn only where no other turn is allowed from the same in-edge.
        other = np.bincount(frm[allowed & ~uturn], minlength=m)
        allowed &= ~uturn | (other[frm] == 0)
    frm, to, uturn = frm[allowed], to[allowed], uturn[allowed]
    report.u_turns = int(uturn.sum())
    cost = _turn_costs(graph, frm, to, uturn, model, info)
    frm, to, cost, copies = _expand_via_ways(m, frm, to, cost, restrictions.via_way_paths, report)
    node_edge = np.concatenate((np.arange(m, dtype=np.int64), copies))
    n_search = node_edge.shape[0]

    # Largest strongly connected part of the turn graph.
    adjacency = csr_matrix(
        (np.ones(frm.shape[0], dtype=np.int8), (frm, to)), shape=(n_search, n_search)
    )
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    keep_node = labels == np.argmax(np.bincount(labels))
    new_id = np.full(n_search, -1, dtype=np.int64)
    new_id[keep_node] = np.arange(int(keep_node.sum()))
    keep_arc = keep_node[frm] & keep_node[to]
    frm, to, cost = new_id[frm[keep_arc]], new_id[to[keep_arc]], cost[keep_arc]
    node_edge = node_edge[keep_node]
    report.dropped_search_nodes = int(n_search - keep_node.sum())
    n_search = node_edge.shape[0]

    order = np.lexsort((to, frm))
    frm, to, cost = frm[order], to[order], cost[order]
    first_out = np.zeros(n_search + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n_search), out=first_out[1:])
    road = node_edge[to]
    # Geometry of each arc = interior shape points of the road edge it drives onto.
    gf = np.asarray(graph.geom_first)
    inner = gf[road + 1] - gf[road]
    geom_first = np.zeros(road.shape[0] + 1, dtype=np.int64)
    np.cumsum(inner, out=geom_first[1:])
    rank = np.arange(int(geom_first[-1]), dtype=np.int64) - np.repeat(geom_first[:-1], inner)
    src = np.repeat(gf[road], inner) + rank
    end_node = head[node_edge]
    turn_graph = RoadGraph(
        profile=graph.profile,
        first_out=first_out,
        head=to.astype(np.int32),
        travel_time=np.asarray(graph.travel_time)[road] + cost,
        length_m=np.asarray(graph.length_m)[road].astype(np.float64),
        lat=np.asarray(graph.lat)[end_node].astype(np.float64),
        lon=np.asarray(graph.lon)[end_node].astype(np.float64),
        osm_node_id=np.asarray(graph.osm_node_id)[end_node].astype(np.int64),
        way_id=np.asarray(graph.way_id)[road].astype(np.int64),
        geom_first=geom_first,
        geom_lat=np.asarray(graph.geom_lat)[src].astype(np.float64),
        geom_lon=np.asarray(graph.geom_lon)[src].astype(np.float64),
        road_edge=road.astype(np.int64),
        turn_cost=cost.astype(np.float64),
    )
    report.search_nodes = n_search
    report.turns = int(to.shape[0])
    log.info(
        "turn graph %s: %s search nodes, %s turns (%s forbidden by restrictions, %s U-turns, "
        "%s via-way copies; %s search nodes outside the largest strongly connected part)",
        graph.profile,
        f"{n_search:,}",
        f"{report.turns:,}",
        f"{report.forbidden_turns:,}",
        f"{report.u_turns:,}",
        f"{report.via_way_copies:,}",
        f"{report.dropped_search_nodes:,}",
    )
    if not math.isfinite(float(turn_graph.travel_time.max(initial=0.0))):
        log.warning("turn graph %s has infinite travel times", graph.profile)
    return turn_graph, report


__all__ = [
    "JunctionInfo",
    "TurnGraphReport",
    "angle_cost",
    "build_turn_graph",
    "turn_angle",
]
