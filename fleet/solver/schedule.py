"""Schedule evaluation of a route: time windows, ride times, route duration (numba).

The schedule of a route is evaluated with the eight-step method of Cordeau &
Laporte (2003): earliest times, delay the departure from the depot by the
forward time slack (shortest duration), then delay every pickup by its forward
time slack so that ride times shrink without breaking any time window, ride
time of a passenger already on board, or the route duration. The resulting
schedule is explicit, so a "feasible" verdict is always right (the independent
checker confirms every solution); the method may occasionally miss a feasible
schedule, which only makes the solver more cautious.

Loads are checked separately (:func:`fits`), as the insertion kernels test
them incrementally before any schedule is built.
"""

from __future__ import annotations

import numpy as np

from fleet.solver.data import EPS, INF, BoolArray, FloatArray, IntArray, ProblemData
from fleet.solver.jit import njit, njit_borrowed


@njit_borrowed
def pos_late(seq: IntArray, n: int, k: int, late: FloatArray, shift_e: FloatArray, p: int) -> float:
    """Latest service start at position ``p`` of route ``seq[:n]`` of vehicle ``k``.

    The end depot also closes at the end of the vehicle's shift.
    """
    if p == n - 1:
        return min(late[seq[p]], shift_e[k])  # type: ignore[no-any-return]
    return late[seq[p]]  # type: ignore[no-any-return]


@njit_borrowed
def route_schedule(
    seq: IntArray, n: int, k: int, data: ProblemData, nodepos: IntArray, work: FloatArray
) -> bool:
    """Eight-step schedule of route ``seq[:n]`` for vehicle ``k``.

    Parameters
    ----------
    seq : ndarray of int64
        The route, start depot first, end depot at ``n - 1``.
    n : int
        Route length.
    k : int
        Vehicle.
    data : ProblemData
        The problem.
    nodepos : ndarray of int64
        Scratch of size n_nodes, all -1 on entry and on exit.
    work : ndarray of float64
        Scratch with 4 rows of at least ``n`` entries: row 0 receives the start
        of service per position, the other rows are scratch.

    Returns
    -------
    bool
        True when the schedule satisfies every time window, ride time and the
        route duration.
    """
    tt = data.tt
    serv = data.serv
    early = data.early
    kind = data.kind
    pair = data.pair
    maxride = data.maxride
    late = data.late
    shift_e = data.shift_e
    B = work[0]
    A = work[1]
    W = work[2]
    D = work[3]
    e0 = max(early[seq[0]], data.shift_s[k])
    # Steps 1-2: earliest schedule; a late arrival here is infeasible for sure.
    B[0] = e0
    W[0] = 0.0
    A[0] = e0
    D[0] = e0 + serv[seq[0]]
    ok = True
    for p in range(1, n):
        A[p] = D[p - 1] + tt[seq[p - 1], seq[p]]
        B[p] = max(A[p], early[seq[p]])
        W[p] = B[p] - A[p]
        D[p] = B[p] + serv[seq[p]]
        if B[p] > pos_late(seq, n, k, late, shift_e, p) + EPS:
            ok = False
            break
    if not ok:
        return False
    for p in range(n):
        nodepos[seq[p]] = p
    # Steps 3-5: delay the departure by the forward time slack of the depot.
    F = INF
    cumw = 0.0
    for i in range(n):
        if i > 0:
            cumw += W[i]
        s = pos_late(seq, n, k, late, shift_e, i) - B[i]
        if s < 0.0:
            s = 0.0
        if cumw + s < F:
            F = cumw + s
    wsum = 0.0
    for p in range(1, n - 1):
        wsum += W[p]
    shift = min(F, wsum)
    if shift > 0.0:
        B[0] = e0 + shift
        D[0] = B[0] + serv[seq[0]]
        for p in range(1, n):
            A[p] = D[p - 1] + tt[seq[p - 1], seq[p]]
            B[p] = max(A[p], early[seq[p]])
            W[p] = B[p] - A[p]
            D[p] = B[p] + serv[seq[p]]
    # Steps 6-7: delay each pickup by its forward slack to shorten ride times.
    for j in range(1, n - 1):
        if kind[seq[j]] != 1:
            continue
        F = INF
        cumw = 0.0
        for i in range(j, n):
            if i > j:
                cumw += W[i]
            s = pos_late(seq, n, k, late, shift_e, i) - B[i]
            v = seq[i]
            if kind[v] == 2:
                op = nodepos[pair[v]]
                if 0 <= op < j:
                    rs = maxride[v] - (B[i] - D[op])
                    if rs < s:
                        s = rs
            if s < 0.0:
                s = 0.0
            if cumw + s < F:
                F = cumw + s
        wsum = 0.0
        for p in range(j + 1, n - 1):
            wsum += W[p]
        shift = min(F, wsum)
        if shift > 0.0:
            W[j] += shift
            B[j] = A[j] + W[j]
            D[j] = B[j] + serv[seq[j]]
            for p in range(j + 1, n):
                A[p] = D[p - 1] + tt[seq[p - 1], seq[p]]
                B[p] = max(A[p], early[seq[p]])
                W[p] = B[p] - A[p]
                D[p] = B[p] + serv[seq[p]]
    # Step 8: verify the schedule.
    ok = B[n - 1] - B[0] <= data.maxdur[k] + EPS
    for p in range(1, n):
        if B[p] > pos_late(seq, n, k, late, shift_e, p) + EPS:
            ok = False
        v = seq[p]
        if kind[v] == 2:
            op = nodepos[pair[v]]
            if op < 0 or op > p or B[p] - D[op] > maxride[v] + EPS:
                ok = False
    for p in range(n):
        nodepos[seq[p]] = -1
    return ok


@njit
def service_times(routes: IntArray, lens: IntArray, data: ProblemData) -> FloatArray:
    """Start of service at every node under the eight-step schedules.

    Parameters
    ----------
    routes, lens : ndarray of int64
        The routes (see :class:`fleet.solver.data.RouteState`).
    data : ProblemData
        The problem.

    Returns
    -------
    ndarray of float64
        One entry per node, nan where the node is not routed.
    """
    nn = data.tt.shape[0]
    out = np.full(nn, np.nan)
    nodepos = np.full(nn, -1, np.int64)
    B = np.empty((4, routes.shape[1]))
    for k in range(routes.shape[0]):
        n = lens[k]
        if n <= 2:
            continue
        route_schedule(routes[k], n, k, data, nodepos, B)
        for q in range(1, n - 1):
            out[routes[k, q]] = B[0, q]
    return out


@njit_borrowed
def fits(seq: IntArray, n: int, k: int, demand: IntArray, cap: IntArray, ld: IntArray) -> bool:
    """Whether route ``seq[:n]`` stays within vehicle ``k``'s capacity all along.

    ``ld`` is scratch of one entry per load dimension.
    """
    nd = demand.shape[1]
    for dim in range(nd):
        ld[dim] = 0
    for p in range(n):
        for dim in range(nd):
            ld[dim] += demand[seq[p], dim]
            if ld[dim] > cap[k, dim]:
                return False
    return True


@njit_borrowed
def empty_points(seq: IntArray, n: int, demand: IntArray, ld: IntArray, out: BoolArray) -> None:
    """``out[p]``: the vehicle carries nobody after leaving position ``p`` of ``seq[:n]``.

    ``ld`` is scratch of one entry per load dimension.
    """
    nd = demand.shape[1]
    for dim in range(nd):
        ld[dim] = 0
    for p in range(n):
        z = True
        for dim in range(nd):
            ld[dim] += demand[seq[p], dim]
            if ld[dim] != 0:
                z = False
        out[p] = z
