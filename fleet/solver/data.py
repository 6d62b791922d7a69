"""Problem data and route state of the dial-a-ride kernels, as numba-ready named tuples.

PyVRP passes its kernels one problem-data object instead of loose arrays; here
the object is a :class:`typing.NamedTuple` of numpy arrays, which numba takes
as a typed struct (no objects or I/O reach a kernel, only arrays). Three groups:

- :class:`ProblemData`: what does not change while solving (travel times and
  costs, time windows, demands, the vehicles and the requests);
- :class:`RouteState`: the mutable routes, one row per vehicle;
- :class:`Workspace`: scratch arrays a kernel reuses between evaluations.

A route is a row of ``routes`` (int64, shape (K, width)) holding node ids from
the vehicle's start depot (position 0) to its end depot (position
``lens[k] - 1``); an empty route has length 2. Node kinds: 0 depot, 1 pickup,
2 drop-off (:mod:`fleet.model`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from fleet.model import Instance
from fleet.solver.jit import njit

#: Tolerance of every time comparison (seconds or minutes, as the instance).
EPS = 1e-7
INF = np.inf

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: Node kinds (int8 in the online pool, int64 in static instances).
KindArray = npt.NDArray[np.integer[Any]]


class ProblemData(NamedTuple):
    """Everything the kernels read and never change.

    Per node (N): ``tt`` and ``cost`` (N, N) travel time and cost, ``serv``
    service time, ``early``/``late`` time window, ``demand`` (N, dims) load
    change, ``kind`` node kind, ``pair`` the other node of its request (-1 at
    depots), ``maxride`` the request's maximum ride time (inf when free),
    ``node_request`` the request of a node (-1 at depots). Per vehicle (K):
    ``cap`` (K, dims) capacity, ``shift_s``/``shift_e`` shift, ``maxdur``
    maximum route duration, ``veh_class`` interchangeability class (empty
    routes of one class are tried once). Per request (R): ``pickup`` and
    ``dropoff`` nodes.
    """

    tt: FloatArray
    cost: FloatArray
    serv: FloatArray
    early: FloatArray
    late: FloatArray
    demand: IntArray
    kind: KindArray
    pair: IntArray
    maxride: FloatArray
    node_request: IntArray
    cap: IntArray
    shift_s: FloatArray
    shift_e: FloatArray
    maxdur: FloatArray
    veh_class: IntArray
    pickup: IntArray
    dropoff: IntArray


class RouteState(NamedTuple):
    """The routes being changed in place: ``routes`` (K, width) and ``lens`` (K)."""

    routes: IntArray
    lens: IntArray


class Workspace(NamedTuple):
    """Scratch arrays for schedule and insertion evaluation, allocated once per kernel call.

    ``nodepos`` (N) is all -1 between uses; ``tw`` (4, width) holds the
    per-route data of :func:`fleet.solver.insertion.route_prep`; ``work``
    (4, width) the schedule of :func:`fleet.solver.schedule.route_schedule`
    (row 0: start of service per position); ``load`` (width, dims) the load
    after each position; ``cand_d``/``cand_i``/``cand_j`` (width**2) candidate
    insertions and ``order`` (width**2) their order once sorted; ``buf`` (width)
    a route under construction.
    """

    nodepos: IntArray
    tw: FloatArray
    work: FloatArray
    load: IntArray
    cand_d: FloatArray
    cand_i: IntArray
    cand_j: IntArray
    order: IntArray
    buf: IntArray


@njit
def new_workspace(n_nodes: int, width: int, n_dims: int) -> Workspace:
    """Scratch for routes of up to ``width - 2`` nodes over ``n_nodes`` nodes.

    Parameters
    ----------
    n_nodes : int
        Number of nodes (size of ``nodepos``).
    width : int
        Longest route the scratch must hold, plus two.
    n_dims : int
        Load dimensions.

    Returns
    -------
    Workspace
        Fresh scratch arrays, ``nodepos`` all -1.
    """
    ncand = width * width
    return Workspace(
        np.full(n_nodes, -1, np.int64),
        np.empty((4, width)),
        np.empty((4, width)),
        np.empty((width, n_dims), np.int64),
        np.empty(ncand),
        np.empty(ncand, np.int64),
        np.empty(ncand, np.int64),
        np.empty(ncand, np.int64),
        np.empty(width, np.int64),
    )


def problem_data(
    *,
    tt: FloatArray,
    cost: FloatArray,
    serv: FloatArray,
    early: FloatArray,
    late: FloatArray,
    demand: IntArray,
    kind: KindArray,
    pair: IntArray,
    maxride: FloatArray,
    cap: IntArray,
    shift_s: FloatArray,
    shift_e: FloatArray,
    maxdur: FloatArray,
    node_request: IntArray | None = None,
    veh_class: IntArray | None = None,
    pickup: IntArray | None = None,
    dropoff: IntArray | None = None,
) -> ProblemData:
    """A :class:`ProblemData` from keyword arrays, filling the optional groups.

    Parameters
    ----------
    tt, cost, serv, early, late, demand, kind, pair, maxride : ndarray
        Node data, as in :class:`ProblemData`.
    cap, shift_s, shift_e, maxdur : ndarray
        Vehicle data, as in :class:`ProblemData`.
    node_request : ndarray of int64, optional
        Request per node; default all -1 (only the destroy operators read it).
    veh_class : ndarray of int64, optional
        Vehicle classes; default every vehicle its own class.
    pickup, dropoff : ndarray of int64, optional
        Request nodes; default none (insertion of a given pair needs none).

    Returns
    -------
    ProblemData
        The arrays, not copied.
    """
    none = np.zeros(0, dtype=np.int64)
    return ProblemData(
        tt=tt,
        cost=cost,
        serv=serv,
        early=early,
        late=late,
        demand=demand,
        kind=kind,
        pair=pair,
        maxride=maxride,
        node_request=(
            np.full(tt.shape[0], -1, dtype=np.int64) if node_request is None else node_request
        ),
        cap=cap,
        shift_s=shift_s,
        shift_e=shift_e,
        maxdur=maxdur,
        veh_class=np.arange(cap.shape[0], dtype=np.int64) if veh_class is None else veh_class,
        pickup=none if pickup is None else pickup,
        dropoff=none if dropoff is None else dropoff,
    )


def instance_data(inst: Instance) -> ProblemData:
    """The static instance as the kernels' :class:`ProblemData`.

    Vehicles with the same depots, capacity, shift and duration limit share a
    class: their empty routes are interchangeable.

    Parameters
    ----------
    inst : Instance
        The problem.

    Returns
    -------
    ProblemData
        Contiguous float64/int64 arrays.
    """
    n = inst.n_nodes
    pair = np.full(n, -1, dtype=np.int64)
    pair[inst.pickup] = inst.dropoff
    pair[inst.dropoff] = inst.pickup
    maxride = np.full(n, np.inf)
    maxride[inst.pickup] = inst.max_ride
    maxride[inst.dropoff] = inst.max_ride
    keys: dict[tuple[Any, ...], int] = {}
    veh_class = np.array(
        [
            keys.setdefault(
                (
                    int(inst.start_node[k]),
                    int(inst.end_node[k]),
                    tuple(inst.capacity[k]),
                    float(inst.shift_start[k]),
                    float(inst.shift_end[k]),
                    float(inst.max_duration[k]),
                ),
                len(keys),
            )
            for k in range(inst.n_vehicles)
        ],
        dtype=np.int64,
    )
    return ProblemData(
        tt=np.ascontiguousarray(inst.matrix.time, dtype=np.float64),
        cost=np.ascontiguousarray(inst.matrix.cost, dtype=np.float64),
        serv=inst.service.astype(np.float64),
        early=inst.early.astype(np.float64),
        late=inst.late.astype(np.float64),
        demand=np.ascontiguousarray(inst.demand, dtype=np.int64),
        kind=inst.node_kind,
        pair=pair,
        maxride=maxride,
        node_request=inst.node_request,
        cap=np.ascontiguousarray(inst.capacity, dtype=np.int64),
        shift_s=inst.shift_start.astype(np.float64),
        shift_e=inst.shift_end.astype(np.float64),
        maxdur=inst.max_duration.astype(np.float64),
        veh_class=veh_class,
        pickup=inst.pickup.astype(np.int64),
        dropoff=inst.dropoff.astype(np.int64),
    )
