"""Travel-time models for online dispatch: the road network (CH) or a Euclidean plane.

The dispatcher speaks of *locations*: small integers handed out by a travel
model (:meth:`TravelModel.locate`). It asks for rectangular matrices between
locations many times a second, always with a few new locations against the
few hundred that vehicles currently use. On the road network this is done
with cached contraction-hierarchy search spaces: the first time a location is
used, its forward and backward upward searches are run once and stored; a
matrix cell is then the best meeting point of a forward space and a backward
space (the bucket algorithm of Knopp et al. 2007 with the buckets kept between
calls). A row of a few hundred cells costs well under a millisecond, where a
fresh bucket matrix would repeat every backward search.

:class:`EuclideanTravel` is the same interface on straight lines at a fixed
speed, for tests and benchmark instances.

Live road state (:class:`routing.live.LiveState`, :meth:`RoadTravel.attach_live`):
while closures or slow-downs are in force, matrices, times and paths come
from the customizable hierarchy customized for the live weights
(:meth:`routing.road.RoadNetwork.customized`, milliseconds), with the same
cached search spaces: exact and as fast as without closures. Every change of
the state, and every closure window opening or closing, drops the search
spaces and the pair cache.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numba import njit
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from routing.errors import DataError, NoRouteError, SnapError
from routing.geo import LocalPlane, haversine_m
from routing.search import heap_pop, heap_push

if TYPE_CHECKING:
    from routing.ch import ContractionHierarchy
    from routing.graph import RoadGraph
    from routing.live import LiveState, LiveWeights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Path:
    """Where a vehicle passes on its way between two locations.

    Attributes
    ----------
    locations : ndarray of int64
        Locations passed, the origin first and the destination last.
    seconds, metres : ndarray of float64
        Cumulative travel time and distance at each of them (0 at the origin).
    """

    locations: np.ndarray
    seconds: np.ndarray
    metres: np.ndarray


@runtime_checkable
class TravelModel(Protocol):
    """What the dispatcher and simulator need from a travel-time model."""

    name: str

    def locate(self, lat: float, lon: float) -> int:
        """The location of a point (raises :class:`SnapError` outside the network)."""
        ...

    def locate_many(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Locations of many points; -1 where a point cannot be placed."""
        ...

    def matrix(self, sources, targets) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) between location arrays, shape (len(sources), len(targets))."""
        ...

    def time(self, a: int, b: int) -> float:
        """Seconds from ``a`` to ``b``."""
        ...

    def distance(self, a: int, b: int) -> float:
        """Metres from ``a`` to ``b`` along the fastest route."""
        ...

    def coords(self, loc: int) -> tuple[float, float]:
        """(lat, lon) of a location."""
        ...

    def path(self, a: int, b: int) -> Path:
        """Locations passed on the way from ``a`` to ``b`` with cumulative time and distance."""
        ...


class _PairCache:
    """A small LRU dict of single (seconds, metres) pairs."""

    def __init__(self, size: int = 65536) -> None:
        self.size = size
        self._d: OrderedDict[tuple[int, int], tuple[float, float]] = OrderedDict()

    def get(self, key: tuple[int, int]) -> tuple[float, float] | None:
        v = self._d.get(key)
        if v is not None:
            self._d.move_to_end(key)
        return v

    def put(self, key: tuple[int, int], value: tuple[float, float]) -> None:
        self._d[key] = value
        if len(self._d) > self.size:
            self._d.popitem(last=False)


# ----------------------------------------------------------------------------- Euclidean


class EuclideanTravel:
    """Straight lines at a constant speed; locations are points in a plane (metres).

    Parameters
    ----------
    x, y : array_like, optional
        Initial points (plane metres). More are added by :meth:`add_point` and
        :meth:`locate` (which projects lat/lon around ``ref_lat``).
    speed_mps : float
        Driving speed in metres per second.
    detour : float
        Road distance per straight-line metre (1.0: straight lines).
    ref_lat : float
        Reference latitude of the projection used by :meth:`locate`.
    """

    name = "euclidean"

    def __init__(
        self,
        x=(),
        y=(),
        *,
        speed_mps: float = 8.0,
        detour: float = 1.0,
        ref_lat: float = 50.88,
    ) -> None:
        if speed_mps <= 0 or detour <= 0:
            raise DataError(f"speed and detour must be positive, got {speed_mps}, {detour}")
        self.speed = float(speed_mps)
        self.detour = float(detour)
        self.plane = LocalPlane(ref_lat)
        self._x: list[float] = [float(v) for v in x]
        self._y: list[float] = [float(v) for v in y]
        self._index: dict[tuple[float, float], int] = {}
        for i, (a, b) in enumerate(zip(self._x, self._y, strict=True)):
            self._index.setdefault((a, b), i)
        self._xa = np.asarray(self._x)
        self._ya = np.asarray(self._y)

    def add_point(self, x: float, y: float) -> int:
        """The location of plane point (x, y) (the same id for the same point)."""
        key = (float(x), float(y))
        loc = self._index.get(key)
        if loc is None:
            loc = len(self._x)
            self._x.append(key[0])
            self._y.append(key[1])
            self._index[key] = loc
            self._xa = np.asarray(self._x)
            self._ya = np.asarray(self._y)
        return loc

    def locate(self, lat: float, lon: float) -> int:
        """Location of a (lat, lon) point, projected around ``ref_lat``."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise SnapError(f"coordinate ({lat}, {lon}) is not a valid WGS84 (lat, lon)")
        x, y = self.plane.to_xy(lat, lon)
        return self.add_point(float(x), float(y))

    def locate_many(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Locations of many (lat, lon) points."""
        return np.array(
            [self.locate(float(a), float(b)) for a, b in zip(lats, lons, strict=True)],
            dtype=np.int64,
        )

    def matrix(self, sources, targets) -> tuple[np.ndarray, np.ndarray]:
        """Straight-line (seconds, metres) matrices."""
        s = np.asarray(sources, dtype=np.int64)
        t = np.asarray(targets, dtype=np.int64)
        dx = self._xa[s][:, None] - self._xa[t][None, :]
        dy = self._ya[s][:, None] - self._ya[t][None, :]
        metres = np.sqrt(dx * dx + dy * dy) * self.detour
        return metres / self.speed, metres

    def time(self, a: int, b: int) -> float:
        """Seconds from ``a`` to ``b``."""
        return self.distance(a, b) / self.speed

    def distance(self, a: int, b: int) -> float:
        """Metres from ``a`` to ``b``."""
        return math.hypot(self._x[a] - self._x[b], self._y[a] - self._y[b]) * self.detour

    def coords(self, loc: int) -> tuple[float, float]:
        """(lat, lon) of a location (inverse projection)."""
        lat, lon = self.plane.to_latlon(self._x[loc], self._y[loc])
        return float(lat), float(lon)

    def xy(self, loc: int) -> tuple[float, float]:
        """Plane coordinates of a location."""
        return self._x[loc], self._y[loc]

    def path(self, a: int, b: int) -> Path:
        """A straight line: origin and destination only."""
        d = self.distance(a, b)
        return Path(
            np.array([a, b], dtype=np.int64),
            np.array([0.0, d / self.speed]),
            np.array([0.0, d]),
        )


# ----------------------------------------------------------------------------- road (CH)


@njit(cache=True)
def _search_space(offsets, q_node, q_w, q_arc, arc_len, r, backward, dist, alen, pos, hn, hk):
    """Settled, unstalled nodes of one upward search from rank ``r``.

    Forward searches relax upward arcs and stall with downward ones; backward
    searches the other way round (as in the bucket many-to-many). Returns
    ``(ranks, seconds, metres)``. ``dist`` must be all inf, ``pos`` all -1 on
    entry; both are restored on exit.
    """
    n = offsets.shape[0] // 2
    cap = 256
    out_n = np.empty(cap, dtype=np.int32)
    out_d = np.empty(cap)
    out_l = np.empty(cap)
    touched = np.empty(n, dtype=np.int32)
    nt = 1
    touched[0] = r
    dist[r] = 0.0
    alen[r] = 0.0
    size = heap_push(hn, hk, pos, 0, r, 0.0)
    k = 0
    while size > 0:
        v, d, size = heap_pop(hn, hk, pos, size)
        mid = offsets[2 * v + 1]
        if backward:
            s0, s1, r0, r1 = offsets[2 * v], mid, mid, offsets[2 * v + 2]
        else:
            s0, s1, r0, r1 = mid, offsets[2 * v + 2], offsets[2 * v], mid
        stalled = False
        for e in range(s0, s1):
            if dist[q_node[e]] + q_w[e] < d:
                stalled = True
                break
        if stalled:
            continue
        if k == cap:
            cap *= 2
            a = np.empty(cap, dtype=np.int32)
            a[:k] = out_n[:k]
            out_n = a
            b = np.empty(cap)
            b[:k] = out_d[:k]
            out_d = b
            c = np.empty(cap)
            c[:k] = out_l[:k]
            out_l = c
        out_n[k] = v
        out_d[k] = d
        out_l[k] = alen[v]
        k += 1
        for e in range(r0, r1):
            x = q_node[e]
            nd = d + q_w[e]
            if nd < dist[x]:
                if dist[x] == np.inf:
                    touched[nt] = x
                    nt += 1
                dist[x] = nd
                alen[x] = alen[v] + arc_len[q_arc[e]]
                size = heap_push(hn, hk, pos, size, x, nd)
    for i in range(nt):
        dist[touched[i]] = np.inf
        pos[touched[i]] = -1
    return out_n[:k].copy(), out_d[:k].copy(), out_l[:k].copy()


@njit(cache=True)
def _meet(src, dst, fs, fc, fn, fd, fl, bs, bc, bn, bd, bl, scratch_d, scratch_l):
    """Matrix from cached spaces: forward spaces of ``src`` slots, backward of ``dst`` slots.

    The smaller side is scattered into the dense scratch arrays (all inf on
    entry and exit), the other side's entries are scanned against it.
    """
    ns, nd_ = src.shape[0], dst.shape[0]
    sec = np.full((ns, nd_), np.inf)
    met = np.full((ns, nd_), np.inf)
    if ns <= nd_:
        for i in range(ns):
            a = src[i]
            for e in range(fs[a], fs[a] + fc[a]):
                scratch_d[fn[e]] = fd[e]
                scratch_l[fn[e]] = fl[e]
            for j in range(nd_):
                b = dst[j]
                best = np.inf
                bestl = np.inf
                for e in range(bs[b], bs[b] + bc[b]):
                    c = scratch_d[bn[e]] + bd[e]
                    if c < best:
                        best = c
                        bestl = scratch_l[bn[e]] + bl[e]
                sec[i, j] = best
                met[i, j] = bestl
            for e in range(fs[a], fs[a] + fc[a]):
                scratch_d[fn[e]] = np.inf
    else:
        for j in range(nd_):
            b = dst[j]
            for e in range(bs[b], bs[b] + bc[b]):
                scratch_d[bn[e]] = bd[e]
                scratch_l[bn[e]] = bl[e]
            for i in range(ns):
                a = src[i]
                best = np.inf
                bestl = np.inf
                for e in range(fs[a], fs[a] + fc[a]):
                    c = scratch_d[fn[e]] + fd[e]
                    if c < best:
                        best = c
                        bestl = scratch_l[fn[e]] + fl[e]
                sec[i, j] = best
                met[i, j] = bestl
            for e in range(bs[b], bs[b] + bc[b]):
                scratch_d[bn[e]] = np.inf
    return sec, met


class _Spaces:
    """Growable flat storage of one direction's search spaces, indexed by slot."""

    def __init__(self) -> None:
        self.start = np.zeros(64, dtype=np.int64)
        self.count = np.zeros(64, dtype=np.int64)
        self.node = np.zeros(4096, dtype=np.int32)
        self.dist = np.zeros(4096)
        self.length = np.zeros(4096)
        self.used = 0

    def add(self, slot: int, node: np.ndarray, dist: np.ndarray, length: np.ndarray) -> None:
        if slot >= self.start.shape[0]:
            size = max(2 * self.start.shape[0], slot + 1)
            self.start = np.resize(self.start, size)
            self.count = np.resize(self.count, size)
        k = node.shape[0]
        if self.used + k > self.node.shape[0]:
            size = max(2 * self.node.shape[0], self.used + k)
            for name in ("node", "dist", "length"):
                old = getattr(self, name)
                new = np.empty(size, dtype=old.dtype)
                new[: self.used] = old[: self.used]
                setattr(self, name, new)
        self.node[self.used : self.used + k] = node
        self.dist[self.used : self.used + k] = dist
        self.length[self.used : self.used + k] = length
        self.start[slot] = self.used
        self.count[slot] = k
        self.used += k


class RoadTravel:
    """Car travel times on a road graph through its contraction hierarchy.

    Locations are road node ids of the graph's largest strongly connected
    component (so every pair is connected); points are placed on the nearest
    such node.

    Parameters
    ----------
    graph : RoadGraph
        The car graph.
    hierarchy : ContractionHierarchy
        Its contraction hierarchy.
    max_snap_m : float
        Points farther than this from every usable node cannot be located.
    """

    name = "road"

    def __init__(
        self,
        graph: RoadGraph,
        hierarchy: ContractionHierarchy,
        *,
        max_snap_m: float = 500.0,
        network: Any = None,
    ) -> None:
        self.graph = graph
        self.base_ch = hierarchy
        self.ch = hierarchy
        #: The :class:`routing.road.RoadNetwork` that customizes live weights.
        self.network = network
        self.max_snap_m = float(max_snap_m)
        n = graph.n_nodes
        # Only passable arcs connect (an autonomous shuttle's forbidden streets are inf).
        passable = np.isfinite(graph.travel_time)
        tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.first_out))
        adj = csr_matrix(
            (np.ones(int(passable.sum())), (tail[passable], graph.head[passable].astype(np.int64))),
            shape=(n, n),
        )
        _, labels = connected_components(adj, directed=True, connection="strong")
        biggest = np.bincount(labels).argmax()
        self.usable = np.flatnonzero(labels == biggest)
        self.plane = LocalPlane(float(np.mean(graph.lat)))
        # On a turn-expanded graph a location is "on the nearest street" (routing.snap).
        from routing.snap import location_points

        p_lat, p_lon, p_node = location_points(graph)
        keep = labels[p_node] == biggest
        self._point_lat, self._point_lon = p_lat[keep], p_lon[keep]
        self._point_node = p_node[keep]
        x, y = self.plane.to_xy(self._point_lat, self._point_lon)
        self._tree = cKDTree(np.column_stack((x, y)))
        self._slot = np.full(n, -1, dtype=np.int64)
        self._n_slots = 0
        self._fw = _Spaces()
        self._bw = _Spaces()
        self._dist = np.full(n, np.inf)
        self._alen = np.zeros(n)
        self._pos = np.full(n, -1, dtype=np.int32)
        self._hn = np.empty(n, dtype=np.int32)
        self._hk = np.empty(n)
        self._scratch_d = np.full(n, np.inf)
        self._scratch_l = np.full(n, np.inf)
        self._pairs = _PairCache()
        self.live: LiveState | None = None
        self._live_clock: Callable[[], float] | None = None
        self._live_seen: Any = None
        self._live_lock = threading.RLock()
        #: How many matrix/path calls were answered on live weights (statistics).
        self.live_answers = 0
        log.info(
            "road travel model: %d of %d car nodes usable (largest strongly connected part)",
            self.usable.size,
            n,
        )

    @classmethod
    def from_network(cls, network) -> RoadTravel:
        """From a :class:`routing.road.RoadNetwork` (car profile; its live state is attached)."""
        travel = cls(network.graph, network.hierarchy, network=network)
        if getattr(network, "live", None) is not None:
            travel.attach_live(network.live)
        return travel

    # -------------------------------------------------------------- live state
    def attach_live(
        self, live: LiveState | None, *, clock: Callable[[], float] | None = None
    ) -> None:
        """Answer under the closures and traffic of ``live`` (None detaches).

        Parameters
        ----------
        live : LiveState or None
            Its graph for this model's profile (``car``) must be this model's graph.
        clock : callable, optional
            Unix time whose closures apply (default: the live state's clock).
        """
        with self._live_lock:
            self.live = live
            self._live_clock = clock
            self._reset_live()
        if live is not None:
            ref = weakref.ref(self)

            def changed(version: int, ref=ref) -> None:
                travel = ref()
                if travel is not None:
                    with travel._live_lock:
                        travel._reset_live()

            live.subscribe(changed)

    def _reset_live(self) -> None:
        self._live_seen = None
        self.ch = self.base_ch
        self._slot[:] = -1
        self._n_slots = 0
        self._fw = _Spaces()
        self._bw = _Spaces()
        self._pairs = _PairCache(self._pairs.size)

    def live_weights(self) -> LiveWeights | None:
        """The live car weights in force now, or None when nothing differs from the graph."""
        live = self.live
        if live is None or self.graph.profile not in live.graphs:
            return None
        at = self._live_clock() if self._live_clock is not None else None
        w = live.weights(self.graph.profile, at=at)
        with self._live_lock:
            if w is not self._live_seen:  # a change, or a closure window opened or closed
                self._reset_live()
                self._live_seen = w
                if w.changed:
                    self.ch = self._customized(w)
        return w if w.changed else None

    def _customized(self, w: LiveWeights) -> ContractionHierarchy:
        """The hierarchy for the live weights ``w`` (customized once per weight state)."""
        if self.network is None:
            from routing.ch import cch_structure
            from routing.road import RoadNetwork
            from routing.snap import Snapper

            log.warning("road travel model without a network: building its CCH structure")
            structure = cch_structure(self.graph, cache_dir=None)
            self.network = RoadNetwork(
                self.graph, Snapper(self.graph), self.base_ch, structure=structure
            )
        return self.network.customized(w)

    # -------------------------------------------------------------- locating
    def locate_many(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Nearest usable node per point, -1 where farther than ``max_snap_m``."""
        lats = np.asarray(lats, dtype=np.float64).ravel()
        lons = np.asarray(lons, dtype=np.float64).ravel()
        if lats.size == 0:
            return np.empty(0, dtype=np.int64)
        x, y = self.plane.to_xy(lats, lons)
        _, idx = self._tree.query(np.column_stack((x, y)))
        nodes = self._point_node[idx]
        far = haversine_m(lats, lons, self._point_lat[idx], self._point_lon[idx]) > self.max_snap_m
        bad = ~np.isfinite(lats) | ~np.isfinite(lons)
        return np.where(far | bad, -1, nodes).astype(np.int64)

    def snap_metres(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Metres from each point to the nearest usable street point (where it is located)."""
        lats = np.asarray(lats, dtype=np.float64).ravel()
        lons = np.asarray(lons, dtype=np.float64).ravel()
        x, y = self.plane.to_xy(lats, lons)
        _, idx = self._tree.query(np.column_stack((x, y)))
        return haversine_m(lats, lons, self._point_lat[idx], self._point_lon[idx])

    def nearby_locations(self, lat: float, lon: float, radius_m: float) -> np.ndarray:
        """Usable locations with a street point within ``radius_m`` (e.g. both directions)."""
        x, y = self.plane.to_xy(np.array([lat]), np.array([lon]))
        idx = self._tree.query_ball_point([float(x[0]), float(y[0])], r=radius_m)
        return np.unique(self._point_node[np.asarray(idx, dtype=np.int64)]).astype(np.int64)

    def locate(self, lat: float, lon: float) -> int:
        """Nearest usable node of a point."""
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90):
            raise SnapError(f"coordinate ({lat}, {lon}) is not a valid WGS84 (lat, lon)")
        loc = int(self.locate_many(np.array([lat]), np.array([lon]))[0])
        if loc < 0:
            raise SnapError(
                f"({lat:.6f}, {lon:.6f}) is more than {self.max_snap_m:.0f} m from the car "
                "network of the service area; choose a point nearer a road"
            )
        return loc

    def coords(self, loc: int) -> tuple[float, float]:
        """(lat, lon) of a road node."""
        return float(self.graph.lat[loc]), float(self.graph.lon[loc])

    # -------------------------------------------------------------- matrices
    def _slots(self, locs: np.ndarray) -> np.ndarray:
        slots = self._slot[locs]
        missing = np.unique(locs[slots < 0])
        if missing.size:
            offsets, q_node, q_w, q_arc = self.ch.query_graph
            for loc in missing.tolist():
                r = int(self.ch.rank[loc])
                slot = self._n_slots
                for space, backward in ((self._fw, False), (self._bw, True)):
                    nodes, dist, length = _search_space(
                        offsets, q_node, q_w, q_arc, self.ch.arc_length, r, backward,
                        self._dist, self._alen, self._pos, self._hn, self._hk,
                    )  # fmt: skip
                    space.add(slot, nodes, dist, length)
                self._slot[loc] = slot
                self._n_slots += 1
            slots = self._slot[locs]
        return slots

    def matrix(self, sources, targets) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) between node arrays (cached CH search spaces)."""
        src = np.asarray(sources, dtype=np.int64).ravel()
        dst = np.asarray(targets, dtype=np.int64).ravel()
        if src.size == 0 or dst.size == 0:
            return np.zeros((src.size, dst.size)), np.zeros((src.size, dst.size))
        if self.live_weights() is not None:
            self.live_answers += 1
        s = self._slots(src)
        t = self._slots(dst)
        fw, bw = self._fw, self._bw
        return _meet(
            s, t, fw.start, fw.count, fw.node, fw.dist, fw.length,
            bw.start, bw.count, bw.node, bw.dist, bw.length, self._scratch_d, self._scratch_l,
        )  # fmt: skip

    def _pair(self, a: int, b: int) -> tuple[float, float]:
        key = (a, b)
        self.live_weights()  # drops the cached pairs when the live state moved on
        pairs = self._pairs
        hit = pairs.get(key)
        if hit is None:
            sec, met = self.matrix([a], [b])
            hit = (float(sec[0, 0]), float(met[0, 0]))
            pairs.put(key, hit)
        return hit

    def time(self, a: int, b: int) -> float:
        """Seconds from ``a`` to ``b``."""
        return self._pair(int(a), int(b))[0]

    def distance(self, a: int, b: int) -> float:
        """Metres from ``a`` to ``b`` along the fastest route."""
        return self._pair(int(a), int(b))[1]

    def path(self, a: int, b: int) -> Path:
        """Nodes of the fastest path with cumulative seconds and metres."""
        if a == b:
            return Path(np.array([a], dtype=np.int64), np.zeros(1), np.zeros(1))
        w = self.live_weights()
        weight = self.graph.travel_time if w is None else w.travel_time
        if w is not None:
            self.live_answers += 1
        try:
            p = self.ch.path_between(int(a), int(b))
        except NoRouteError:
            # Closures cut the two apart: drive the closed road rather than strand the plan.
            log.warning("no open road from node %d to %d; using the closed one", a, b)
            p = self.base_ch.path_between(int(a), int(b))
            weight = self.graph.travel_time
        edges = np.asarray(p.edges, dtype=np.int64)
        sec = np.concatenate(([0.0], np.cumsum(weight[edges])))
        met = np.concatenate(([0.0], np.cumsum(self.graph.length_m[edges])))
        return Path(np.asarray(p.nodes, dtype=np.int64), sec, met)
