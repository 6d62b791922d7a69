"""The dispatcher's node table: every stop it currently plans with, as kernel arrays.

The static kernels (:mod:`fleet.solver`) index nodes into dense
arrays (time windows, loads, a travel-time matrix). Online, nodes come and
go: each request adds a pickup and a drop-off, each served stop leaves. The
pool keeps those arrays at a fixed capacity (doubling when full), hands out
free ids, and fills the matrix row and column of a new node against the live
ones only (copied from a live node at the same location when there is one,
else one batched travel-model query). Node 0 is the shared route end: free
to reach from anywhere (routes are open; vehicles need not return).
"""

from __future__ import annotations

import numpy as np

from fleet.model import DEPOT
from fleet.online.travel import TravelModel

END = 0
#: Load dimensions: seats, wheelchair places, requests on board (1 each; caps pooling).
LOAD_DIMS = 3


class StopPool:
    """Kernel arrays of the live nodes (see module docstring).

    Parameters
    ----------
    travel : TravelModel
        Where travel times come from.
    capacity : int
        Initial number of node slots.
    """

    def __init__(self, travel: TravelModel, capacity: int = 256) -> None:
        self.travel = travel
        self.capacity = 0
        self.tt = np.zeros((0, 0))
        self.dd = np.zeros((0, 0))
        self.loc = np.zeros(0, dtype=np.int64)
        self.early = np.zeros(0)
        self.late = np.zeros(0)
        self.serv = np.zeros(0)
        self.demand = np.zeros((0, LOAD_DIMS), dtype=np.int64)
        self.kind = np.zeros(0, dtype=np.int8)
        self.pair = np.zeros(0, dtype=np.int64)
        self.maxride = np.zeros(0)
        self.request = np.zeros(0, dtype=np.int64)
        self.planned = np.zeros(0)
        self.alive = np.zeros(0, dtype=bool)
        self._free: list[int] = []
        self._at: dict[int, set[int]] = {}
        self._grow(capacity)
        self.alive[END] = True
        self.loc[END] = -1
        self._free.remove(END)

    # ---------------------------------------------------------------- storage
    def _grow(self, capacity: int) -> None:
        old = self.capacity
        for name in ("tt", "dd"):
            m = np.zeros((capacity, capacity))
            m[:old, :old] = getattr(self, name)
            setattr(self, name, m)
        for name, fill in (
            ("loc", -1),
            ("early", 0.0),
            ("late", np.inf),
            ("serv", 0.0),
            ("kind", DEPOT),
            ("pair", -1),
            ("maxride", np.inf),
            ("request", -1),
            ("planned", np.nan),
            ("alive", False),
        ):
            a = getattr(self, name)
            b = np.full(capacity, fill, dtype=a.dtype)
            b[:old] = a
            setattr(self, name, b)
        d = np.zeros((capacity, LOAD_DIMS), dtype=np.int64)
        d[:old] = self.demand
        self.demand = d
        # lowest ids first (deterministic reuse)
        self._free = sorted(set(self._free) | set(range(old, capacity)), reverse=True)
        self.capacity = capacity

    def live_ids(self) -> np.ndarray:
        """Ids of live nodes except the route end."""
        ids = np.flatnonzero(self.alive)
        return ids[ids != END]

    # ---------------------------------------------------------------- nodes
    def add(self, locs: list[int]) -> list[int]:
        """New nodes at ``locs`` (kind depot, no window, no load); fills their matrix rows."""
        need = len(locs)
        if need > len(self._free):
            self._grow(max(2 * self.capacity, self.capacity + need))
        live = self.live_ids()
        ids = [self._free.pop() for _ in range(need)]
        for i, loc in zip(ids, locs, strict=True):
            self._reset(i)
            self.loc[i] = loc
        self._fill(ids, live)
        for i in ids:
            self.alive[i] = True
            self._at.setdefault(int(self.loc[i]), set()).add(i)
        return ids

    def move(self, node: int, loc: int) -> None:
        """Put an existing node at another location (a vehicle's start)."""
        if int(self.loc[node]) == loc:
            return
        self._forget(node)
        self.alive[node] = False
        self.loc[node] = loc
        self._fill([node], self.live_ids())
        self.alive[node] = True
        self._at.setdefault(loc, set()).add(node)

    def move_many(self, nodes: list[int], locs: list[int]) -> None:
        """Move several nodes at once (one batched travel query)."""
        todo = [(n, loc) for n, loc in zip(nodes, locs, strict=True) if int(self.loc[n]) != loc]
        if not todo:
            return
        for n, loc in todo:
            self._forget(n)
            self.alive[n] = False
            self.loc[n] = loc
        ids = [n for n, _ in todo]
        self._fill(ids, self.live_ids())
        for n, loc in todo:
            self.alive[n] = True
            self._at.setdefault(loc, set()).add(n)

    def free(self, ids) -> None:
        """Release nodes."""
        for i in ids:
            i = int(i)
            if i == END or not self.alive[i]:
                continue
            self._forget(i)
            self.alive[i] = False
            self._reset(i)
            self._free.append(i)
        self._free.sort(reverse=True)

    def _forget(self, i: int) -> None:
        s = self._at.get(int(self.loc[i]))
        if s is not None:
            s.discard(i)
            if not s:
                del self._at[int(self.loc[i])]

    def _reset(self, i: int) -> None:
        self.early[i] = 0.0
        self.late[i] = np.inf
        self.serv[i] = 0.0
        self.demand[i] = 0
        self.kind[i] = DEPOT
        self.pair[i] = -1
        self.maxride[i] = np.inf
        self.request[i] = -1
        self.planned[i] = np.nan

    def _fill(self, ids: list[int], live: np.ndarray) -> None:
        """Matrix rows/columns of ``ids`` against ``live`` and each other."""
        tt, dd = self.tt, self.dd
        new = np.asarray(ids, dtype=np.int64)
        # nodes sharing a location with a live node copy its row and column
        query: list[int] = []
        for i in ids:
            twin = self._at.get(int(self.loc[i]))
            if twin:
                j = min(twin)
                tt[i, live] = tt[j, live]
                tt[live, i] = tt[live, j]
                dd[i, live] = dd[j, live]
                dd[live, i] = dd[live, j]
            else:
                query.append(i)
        if query and live.size:
            q = np.asarray(query, dtype=np.int64)
            sec, met = self.travel.matrix(self.loc[q], self.loc[live])
            tt[np.ix_(q, live)] = sec
            dd[np.ix_(q, live)] = met
            sec, met = self.travel.matrix(self.loc[live], self.loc[q])
            tt[np.ix_(live, q)] = sec
            dd[np.ix_(live, q)] = met
        sec, met = self.travel.matrix(self.loc[new], self.loc[new])
        tt[np.ix_(new, new)] = sec
        dd[np.ix_(new, new)] = met
        tt[new, END] = 0.0
        tt[END, new] = 0.0
        dd[new, END] = 0.0
        dd[END, new] = 0.0
