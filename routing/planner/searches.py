"""Road searches of one plan, shared by every mode (or, for the baseline, redone per use).

The planner asks a handful of questions: seconds (and metres) from the origin
to many places on one profile, from many places to the destination, walking
times to/from every transit stop, and a few point-to-point trips. The fast
engine answers the one-to-many ones from a single bounded Dijkstra tree per
(profile, end) that every mode reuses (one walk tree from the origin gives
transit access *and* bike-share pickups), and point-to-point trips with the
contraction hierarchy.

``naive=True`` is the baseline a planner without this design would be: each
question runs its own unbounded plain Dijkstra (no shared trees, no CH, no
cached station tables). Both engines give the same answers; tests compare them.

Live state: when a network has closures or traffic in force at the request's
time, every question on that profile is answered under the live weights
(trees on the live graph, exact matrices and routes via
:meth:`RoadNetwork.matrix` / :meth:`RoadNetwork.route_snapped`); without live
changes nothing differs from the static fast path.

Step-free requests (``wheelchair``): the profile ``walk`` means the wheelchair
network everywhere, and the transit network is its step-free view.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from routing.errors import NoRouteError
from routing.graph import RoadGraph
from routing.paths import PathResult
from routing.road import RoadNetwork, RoadRoute
from routing.search import dijkstra_settle, reverse_graph_arrays, shortest_path, shortest_path_cost
from routing.snap import Snap
from routing.transit.footpaths import WALK_SPEED_MPS, walk_from_stops, walk_to_stops

if TYPE_CHECKING:
    from routing.live import LiveWeights
    from routing.planner.context import PlanContext
    from routing.planner.request import PlanRequest
    from routing.transit.door_to_door import TransitNetwork

_NO_TARGETS = np.empty(0, dtype=np.int32)


class PlainRouter:
    """Stands in for a contraction hierarchy with plain one-directional Dijkstra (baseline)."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph

    def query(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> float:
        """Seconds between seed sets (inf if unreachable)."""
        return shortest_path_cost(
            self.graph, src_nodes, src_costs, dst_nodes, dst_costs, method="dijkstra"
        )

    def route(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> PathResult:
        """Path between seed sets (raises NoRouteError)."""
        return shortest_path(
            self.graph, src_nodes, src_costs, dst_nodes, dst_costs, method="dijkstra"
        )

    def route_or_none(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> PathResult | None:
        """Path between seed sets, ``None`` if unreachable."""
        try:
            return self.route(src_nodes, src_costs, dst_nodes, dst_costs)
        except NoRouteError:
            return None


def offroad_s(profile: str, snap: Snap) -> float:
    """Seconds between a point and its snapped road position (walking only)."""
    return snap.distance_m / WALK_SPEED_MPS if profile in ("walk", "wheelchair") else 0.0


def _finite(nodes: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(costs)
    return nodes[keep], costs[keep]


class Searches:
    """Road questions of one plan request (see module docstring).

    Parameters
    ----------
    context : PlanContext
    request : PlanRequest
    naive : bool
        Baseline engine: no sharing, no CH, no cached tables.
    """

    def __init__(self, context: PlanContext, request: PlanRequest, *, naive: bool = False) -> None:
        self.context = context
        self.request = request
        self.naive = naive
        #: Unix time whose closures and traffic apply (the departure, or the arrival deadline).
        self.at = request.at_unix
        self.wheelchair = bool(getattr(request, "wheelchair", False))
        self._snaps: dict[tuple[str, str], Snap] = {}
        # Snaps already known by exact coordinate (ends, stations, stops): drawing a leg
        # between known places never snaps again.
        self._known: dict[tuple[str, float, float], Snap] = {}
        self._trees: dict[tuple[str, str], tuple[float, np.ndarray, np.ndarray]] = {}
        self._weights: dict[str, Any] = {}
        networks = dict(context.networks)
        if self.wheelchair:
            step_free = context.wheelchair_network()
            if step_free is not None:
                networks["walk"] = step_free  # every walk of this plan is step-free
            else:
                networks.pop("walk", None)
        if naive:
            networks = {
                p: replace(n, hierarchy=PlainRouter(n.graph))  # type: ignore[arg-type]
                for p, n in networks.items()
            }
        self.networks = networks
        #: The transit network of this plan (the step-free view for wheelchair requests).
        self.transit: TransitNetwork | None = context.transit_for(
            self.wheelchair, self.weights("walk") if "walk" in networks else None
        )

    def _ctx_profile(self, profile: str) -> str:
        """The context's name of a profile (its caches are per real network)."""
        return "wheelchair" if self.wheelchair and profile == "walk" else profile

    def network(self, profile: str) -> RoadNetwork:
        """The network answering ``profile`` in this plan (SnapError-free lookup)."""
        net = self.networks.get(profile)
        if net is None:
            raise NoRouteError(self.context.wheelchair_missing())
        return net

    def weights(self, profile: str) -> LiveWeights | None:
        """Live travel times of ``profile`` in force at :attr:`at`, or None (static network)."""
        if profile not in self._weights:
            self._weights[profile] = self.network(profile).live_weights(self.at)
        weights: LiveWeights | None = self._weights[profile]
        return weights

    def _w(self, profile: str) -> np.ndarray | None:
        w = self.weights(profile)
        return None if w is None else w.travel_time

    # ------------------------------------------------------------------ snaps
    def end(self, profile: str, which: str) -> Snap:
        """Snap of the origin (``which="origin"``) or destination on ``profile`` (or SnapError)."""
        key = (profile, which)
        snap = None if self.naive else self._snaps.get(key)
        if snap is None:
            lat, lon = self.request.origin if which == "origin" else self.request.destination
            snap = self.network(profile).snap(
                lat, lon, max_distance_m=self.context.settings.max_snap_m
            )
            self._snaps[key] = snap
            self._known[(profile, lat, lon)] = snap
        return snap

    def place(self, profile: str, key: str, lat: float, lon: float) -> Snap | None:
        """Snap of a station / charger on ``profile`` (cached in the context unless naive)."""
        self.network(profile)
        snap = self.context.place_snap(
            self._ctx_profile(profile), key, lat, lon, cache=not self.naive
        )
        if snap is not None:
            self._known[(profile, lat, lon)] = snap
        return snap

    def snap_point(self, profile: str, lat: float, lon: float) -> Snap:
        """Snap of any point (reusing a known one; walk: transit stops are known too)."""
        snap = None if self.naive else self._known.get((profile, lat, lon))
        if snap is None and not self.naive:
            snap = self.context.known_snap(self._ctx_profile(profile), lat, lon)
        if snap is None:
            snap = self.network(profile).snap(
                lat, lon, max_distance_m=self.context.settings.max_snap_m
            )
            self._known[(profile, lat, lon)] = snap
        return snap

    # ------------------------------------------------------------------ trees
    def tree(self, profile: str, which: str, budget_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) of all nodes from the origin / to the destination in ``budget_s``."""
        key = (profile, which)
        if not self.naive:
            hit = self._trees.get(key)
            if hit is not None and hit[0] >= budget_s:
                return hit[1], hit[2]
        else:
            budget_s = math.inf
        live = self.weights(profile)
        graph = self.network(profile).graph if live is None else live.graph
        w = None if live is None else live.travel_time
        snap = self.end(profile, which)
        off = offroad_s(profile, snap)
        if which == "origin":
            n, c = _finite(*snap.source_seeds(w))
            dist, length = dijkstra_settle(
                graph.first_out,
                graph.head,
                graph.travel_time,
                graph.length_m,
                n,
                c + off,
                _NO_TARGETS,
                float(budget_s),
            )
        else:
            rev = reverse_graph_arrays(graph)
            n, c = _finite(*snap.target_seeds(w))
            dist, length = dijkstra_settle(
                rev.first_in,
                rev.tail,
                rev.travel_time,
                rev.length_m,
                n,
                c + off,
                _NO_TARGETS,
                float(budget_s),
            )
        if not self.naive:
            self._trees[key] = (float(budget_s), dist, length)
        return dist, length

    def from_origin(self, profile: str, target: Snap, budget_s: float) -> tuple[float, float]:
        """(seconds, metres) from the origin to a snapped place; inf beyond ``budget_s``."""
        dist, length = self.tree(profile, "origin", budget_s)
        n, c = target.target_seeds(self._w(profile))
        vals = dist[n] + c
        i = int(np.argmin(vals))
        t, m = float(vals[i]), float(length[n[i]])
        start = self.end(profile, "origin")
        direct = start.direct_cost_to(target, self._w(profile))
        if direct + offroad_s(profile, start) < t:
            t = direct + offroad_s(profile, start)
            m = abs(target.fraction - start.fraction) * float(
                self.network(profile).graph.length_m[target.edge]
            )
        t += offroad_s(profile, target)
        return (t, m) if t <= budget_s else (math.inf, math.inf)

    def to_destination(self, profile: str, source: Snap, budget_s: float) -> tuple[float, float]:
        """(seconds, metres) from a snapped place to the destination; inf beyond ``budget_s``."""
        dist, length = self.tree(profile, "destination", budget_s)
        n, c = source.source_seeds(self._w(profile))
        vals = dist[n] + c
        i = int(np.argmin(vals))
        t, m = float(vals[i]), float(length[n[i]])
        end = self.end(profile, "destination")
        direct = source.direct_cost_to(end, self._w(profile))
        if direct + offroad_s(profile, end) < t:
            t = direct + offroad_s(profile, end)
            m = abs(end.fraction - source.fraction) * float(
                self.network(profile).graph.length_m[end.edge]
            )
        t += offroad_s(profile, source)
        return (t, m) if t <= budget_s else (math.inf, math.inf)

    def node_from_origin(
        self, profile: str, nodes: np.ndarray, budget_s: float = math.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) from the origin to graph nodes."""
        dist, length = self.tree(profile, "origin", budget_s)
        return dist[nodes], length[nodes]

    def node_to_destination(
        self, profile: str, nodes: np.ndarray, budget_s: float = math.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) from graph nodes to the destination."""
        dist, length = self.tree(profile, "destination", budget_s)
        return dist[nodes], length[nodes]

    # ------------------------------------------------------------------ stops
    def stop_access(self, budget_s: float) -> np.ndarray:
        """Walking seconds from the origin to every transit stop (inf beyond ``budget_s``)."""
        links = self.transit.links  # type: ignore[union-attr]
        assert links is not None, "transit network without a walk graph"
        dist, _ = self.tree("walk", "origin", budget_s)
        t = walk_to_stops(links, dist)
        t[t > budget_s] = np.inf
        return t

    def stop_egress(self, budget_s: float) -> np.ndarray:
        """Walking seconds from every transit stop to the destination (inf beyond ``budget_s``)."""
        links = self.transit.links  # type: ignore[union-attr]
        assert links is not None, "transit network without a walk graph"
        dist, _ = self.tree("walk", "destination", budget_s)
        t = walk_from_stops(links, dist)
        t[t > budget_s] = np.inf
        return t

    # ------------------------------------------------------------------ point to point
    def between(self, profile: str, a: Snap, b: Snap) -> float:
        """Seconds between two snapped places (CH; plain Dijkstra when naive), off-road included."""
        net = self.network(profile)
        if self.weights(profile) is not None:
            try:
                t = net.route_snapped(a, b, at=self.at).duration_s
            except NoRouteError:
                return math.inf
        else:
            sn, sc = a.source_seeds()
            tn, tc = b.target_seeds()
            t = min(float(net.hierarchy.query(sn, sc, tn, tc)), a.direct_cost_to(b))
        return t + offroad_s(profile, a) + offroad_s(profile, b)

    def matrix(self, profile: str, a: list[Snap], b: list[Snap]) -> np.ndarray:
        """Seconds from every place of ``a`` to every place of ``b``."""
        return np.array([[self.between(profile, x, y) for y in b] for x in a]).reshape(
            len(a), len(b)
        )

    def end_to_nodes(
        self, profile: str, which: str, nodes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) origin -> ``nodes`` (``which="origin"``) or ``nodes`` -> destination.

        One bucket many-to-many on the contraction hierarchy between the end's
        two seed nodes and the nodes (a Dijkstra per source when naive).
        Metres exclude the partial edge at the end's snapped point.
        """
        from routing.matrix import travel_matrices

        nodes = np.asarray(nodes, np.int64)
        if nodes.size == 0:
            return np.zeros(0), np.zeros(0)
        net = self.network(profile)
        live = self.weights(profile)
        w = None if live is None else live.travel_time

        def matrix(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if self.naive:
                return travel_matrices(net.graph if live is None else live.graph, src, dst)
            if live is None:
                return travel_matrices(net.hierarchy, src, dst)
            return net.matrix(src, dst, at=self.at)  # exact under the live weights

        snap = self.end(profile, which)
        off = offroad_s(profile, snap)
        if which == "origin":
            sn, sc = _finite(*snap.source_seeds(w))
            if not sn.size:
                return np.full(nodes.size, np.inf), np.full(nodes.size, np.inf)
            secs, metres = matrix(sn, nodes)
            total = secs + sc[:, None]
            best = np.argmin(total, axis=0)
            cols = np.arange(nodes.size)
            return total[best, cols] + off, metres[best, cols]
        tn, tc = _finite(*snap.target_seeds(w))
        if not tn.size:
            return np.full(nodes.size, np.inf), np.full(nodes.size, np.inf)
        secs, metres = matrix(nodes, tn)
        total = secs + tc[None, :]
        best = np.argmin(total, axis=1)
        rows = np.arange(nodes.size)
        return total[rows, best] + off, metres[rows, best]

    def end_to_places(
        self, profile: str, which: str, places: list[Snap]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) between the origin/destination and snapped places (bucket queries)."""
        if not places:
            return np.zeros(0), np.zeros(0)
        w = self._w(profile)
        if which == "origin":
            pairs = [p.target_seeds(w) for p in places]
        else:
            pairs = [p.source_seeds(w) for p in places]
        nodes = np.concatenate([n for n, _ in pairs]).astype(np.int64)
        costs = np.concatenate([c for _, c in pairs])
        secs, metres = self.end_to_nodes(profile, which, nodes)
        secs = secs + costs
        out_s = np.full(len(places), np.inf)
        out_m = np.full(len(places), np.inf)
        end = self.end(profile, which)
        glen = self.network(profile).graph.length_m
        k = 0
        for i, (n, _) in enumerate(pairs):
            j = k + int(np.argmin(secs[k : k + n.size]))
            out_s[i], out_m[i] = secs[j], metres[j]
            k += n.size
            a, b = (end, places[i]) if which == "origin" else (places[i], end)
            direct = a.direct_cost_to(b, w) + offroad_s(profile, end)
            if direct < out_s[i]:
                out_s[i] = direct
                out_m[i] = abs(b.fraction - a.fraction) * float(glen[a.edge])
            out_s[i] += offroad_s(profile, places[i])
        return out_s, out_m

    def route(self, profile: str, a: tuple[float, float], b: tuple[float, float]) -> RoadRoute:
        """Fastest route with geometry between two points (raises SnapError / NoRouteError)."""
        net = self.network(profile)
        if self.naive:
            return net.route(a, b, max_snap_m=self.context.settings.max_snap_m, at=self.at)
        sa, sb = self.snap_point(profile, *a), self.snap_point(profile, *b)
        if self.weights(profile) is not None:
            return net.route_snapped(sa, sb, at=self.at)
        return route_between(net, sa, sb)


def _seed_length(graph: RoadGraph, snap: Snap, node: int, *, at_start: bool) -> float:
    length = float(graph.length_m[snap.edge])
    if at_start:
        return (1.0 - snap.fraction) * length if node == snap.head else snap.fraction * length
    return snap.fraction * length if node == snap.tail else (1.0 - snap.fraction) * length


def route_between(net: RoadNetwork, a: Snap, b: Snap) -> RoadRoute:
    """:meth:`RoadNetwork.route` for points already snapped (same result, no second snap)."""
    from routing.errors import NoRouteError
    from routing.paths import path_polyline

    graph = net.graph
    sn, sc = a.source_seeds()
    tn, tc = b.target_seeds()
    via = float(net.hierarchy.query(sn, sc, tn, tc))
    direct = a.direct_cost_to(b)
    if math.isfinite(direct) and direct <= via:
        length = float(graph.length_m[a.edge]) * abs(b.fraction - a.fraction)
        no_edges = np.zeros(0, np.int64)
        return RoadRoute(
            net.profile,
            float(direct),
            length,
            np.array([a.lat, b.lat]),
            np.array([a.lon, b.lon]),
            no_edges,
            net.unknown_segments(a, b, no_edges),
        )
    if not math.isfinite(via):
        raise NoRouteError(f"no {net.profile} route between the two points")
    path = net.hierarchy.route(sn, sc, tn, tc)
    lats, lons = path_polyline(graph, path.edges)
    if lats.size == 0:
        lats, lons = np.array([graph.lat[path.source]]), np.array([graph.lon[path.source]])
    distance = (
        float(path.length_m)
        + _seed_length(graph, a, path.source, at_start=True)
        + _seed_length(graph, b, path.target, at_start=False)
    )
    return RoadRoute(
        net.profile,
        float(path.cost),
        distance,
        np.concatenate(([a.lat], lats, [b.lat])),
        np.concatenate(([a.lon], lons, [b.lon])),
        np.asarray(path.edges),
        net.unknown_segments(a, b, np.asarray(path.edges)),
    )
