"""Cheapest feasible insertion of one request into one route (numba, arrays only).

:func:`route_prep` computes, once per route, what every request's evaluation
against it needs (earliest and latest service starts, loads, ride-time and
duration slack); :func:`insertion_prepared` then enumerates the pickup and
drop-off positions, prunes them with cheap necessary tests and verifies the
survivors with the eight-step schedule (:func:`fleet.solver.schedule.route_schedule`),
cheapest first. :func:`best_insertion` does both for a single evaluation.
"""

from __future__ import annotations

import numpy as np

from fleet.solver.data import EPS, INF, FloatArray, IntArray, ProblemData, Workspace
from fleet.solver.jit import njit, njit_borrowed
from fleet.solver.routes import build_inserted
from fleet.solver.schedule import pos_late, route_schedule


@njit_borrowed
def best_insertion(
    seq: IntArray, n: int, k: int, p: int, d: int, data: ProblemData, ws: Workspace, blink: float
) -> tuple[float, int, int]:
    """Cheapest feasible insertion of request (``p``, ``d``) into route ``seq[:n]``.

    Parameters
    ----------
    seq : ndarray of int64
        Route of vehicle ``k``.
    n : int
        Its length.
    k : int
        Vehicle.
    p, d : int
        Pickup and drop-off node.
    data : ProblemData
        The problem.
    ws : Workspace
        Scratch; ``ws.work`` row 0 holds the schedule of the last route verified.
    blink : float
        With ``blink`` > 0 each candidate is skipped with that probability
        (SISR "blinks", for diversity).

    Returns
    -------
    tuple of (float, int, int)
        ``(delta, i, j)``: ``p`` goes before old position ``i`` and ``d``
        before old position ``j`` (``j == i``: right after ``p``); ``delta`` is
        the added cost, ``inf`` when no position is feasible.
    """
    durslack = route_prep(seq, n, k, data, ws.nodepos, ws.tw, ws.load)
    return insertion_prepared(seq, n, k, p, d, data, ws, ws.tw, ws.load, durslack, blink)


@njit_borrowed
def route_prep(
    seq: IntArray,
    n: int,
    k: int,
    data: ProblemData,
    nodepos: IntArray,
    tw: FloatArray,
    load: IntArray,
) -> float:
    """Per-route data for :func:`insertion_prepared`, independent of the request.

    Fills ``tw`` rows 0-3 with earliest and latest service starts, the path time
    without waiting and the least ride-time slack over each arc, and ``load``
    with the load after each position; returns the route-duration slack.
    Computing it once per route serves every request evaluated against it.
    ``nodepos`` is scratch, all -1 on entry and on exit.
    """
    tt = data.tt
    serv = data.serv
    early = data.early
    late = data.late
    demand = data.demand
    kind = data.kind
    pair = data.pair
    maxride = data.maxride
    E = tw[0]
    Lt = tw[1]
    ptime = tw[2]
    spanslack = tw[3]
    # Earliest service starts, latest service starts (windows and travel only), loads.
    E[0] = max(early[seq[0]], data.shift_s[k])
    for q in range(1, n):
        E[q] = max(early[seq[q]], E[q - 1] + serv[seq[q - 1]] + tt[seq[q - 1], seq[q]])
    Lt[n - 1] = pos_late(seq, n, k, late, data.shift_e, n - 1)
    for q in range(n - 2, -1, -1):
        Lt[q] = min(late[seq[q]], Lt[q + 1] - serv[seq[q]] - tt[seq[q], seq[q + 1]])
    nd = demand.shape[1]
    for dim in range(nd):
        load[0, dim] = 0
    for q in range(1, n):
        for dim in range(nd):
            load[q, dim] = load[q - 1, dim] + demand[seq[q], dim]
    # Ride-time and duration lower bounds: path time without waiting. The least
    # ride-time slack of the passengers on board over each arc bounds any detour there.
    ptime[0] = 0.0
    for q in range(1, n):
        ptime[q] = ptime[q - 1] + serv[seq[q - 1]] + tt[seq[q - 1], seq[q]]
        spanslack[q - 1] = INF
    for q in range(n):
        nodepos[seq[q]] = q
    for q in range(1, n - 1):
        v = seq[q]
        if kind[v] == 2 and maxride[v] < INF:
            a0 = nodepos[pair[v]]
            if a0 >= 0:
                sl = maxride[v] - (ptime[q] - ptime[a0] - serv[seq[a0]])
                for t in range(a0, q):
                    if sl < spanslack[t]:
                        spanslack[t] = sl
    for q in range(n):
        nodepos[seq[q]] = -1
    durslack = data.maxdur[k] - ptime[n - 1]
    return durslack  # type: ignore[no-any-return]


@njit
def _sort_candidates(cand_d: FloatArray, nc: int, order: IntArray) -> None:
    """``order[:nc]``: the candidates ``cand_d[:nc]`` cheapest first (``np.argsort``)."""
    order[:nc] = np.argsort(cand_d[:nc])


@njit_borrowed
def insertion_prepared(
    seq: IntArray,
    n: int,
    k: int,
    p: int,
    d: int,
    data: ProblemData,
    ws: Workspace,
    tw: FloatArray,
    load: IntArray,
    durslack: float,
    blink: float,
) -> tuple[float, int, int]:
    """:func:`best_insertion` on route data from :func:`route_prep`.

    ``tw``, ``load`` and ``durslack`` are :func:`route_prep`'s output for this
    route (kept per route by the callers that evaluate many requests);
    ``ws`` supplies the candidate buffers and the schedule scratch.
    """
    tt = data.tt
    cost = data.cost
    serv = data.serv
    early = data.early
    late = data.late
    demand = data.demand
    cap = data.cap
    cand_d = ws.cand_d
    cand_i = ws.cand_i
    cand_j = ws.cand_j
    buf = ws.buf
    nodepos = ws.nodepos
    work = ws.work
    E = tw[0]
    Lt = tw[1]
    spanslack = tw[3]
    nd = demand.shape[1]
    L = data.maxride[p]
    nc = 0
    for i in range(1, n):
        a = seq[i - 1]
        fits = True
        for dim in range(nd):
            if load[i - 1, dim] + demand[p, dim] > cap[k, dim]:
                fits = False
        if not fits:
            continue
        Ep = max(early[p], E[i - 1] + serv[a] + tt[a, p])
        if Ep > late[p] + EPS:
            continue
        b = seq[i]
        base = cost[a, p]
        # d right after p
        Ed = max(early[d], Ep + serv[p] + tt[p, d])
        det = tt[a, p] + serv[p] + tt[p, d] + serv[d] + tt[d, b] - tt[a, b]
        if (
            Ed <= late[d] + EPS
            and tt[p, d] <= L + EPS
            and det <= spanslack[i - 1] + EPS
            and det <= durslack + EPS
        ) and Ed + serv[d] + tt[d, b] <= Lt[i] + EPS:
            cand_d[nc] = base + cost[p, d] + cost[d, b] - cost[a, b]
            cand_i[nc] = i
            cand_j[nc] = i
            nc += 1
        # d later: propagate the earliest times with p inserted
        arr = Ep + serv[p] + tt[p, b]
        detp = tt[a, p] + serv[p] + tt[p, b] - tt[a, b]
        if (
            i == n - 1
            or arr > Lt[i] + EPS
            or detp > spanslack[i - 1] + EPS
            or detp > durslack + EPS
        ):
            continue
        cur = max(early[b], arr)
        ride = tt[p, b]  # lower bound on the ride time up to position i
        dp = base + cost[p, b] - cost[a, b]
        for j in range(i + 1, n):
            prev = seq[j - 1]
            fits = True
            for dim in range(nd):
                if load[j - 1, dim] + demand[p, dim] > cap[k, dim]:
                    fits = False
            if not fits:
                break
            Ed = max(early[d], cur + serv[prev] + tt[prev, d])
            if ride + serv[prev] + tt[prev, d] > L + EPS:
                break
            nxt = seq[j]
            detd = tt[prev, d] + serv[d] + tt[d, nxt] - tt[prev, nxt]
            if (
                Ed <= late[d] + EPS
                and Ed + serv[d] + tt[d, nxt] <= Lt[j] + EPS
                and detd <= spanslack[j - 1] + EPS
                and detp + detd <= durslack + EPS
            ):
                cand_d[nc] = dp + cost[prev, d] + cost[d, nxt] - cost[prev, nxt]
                cand_i[nc] = i
                cand_j[nc] = j
                nc += 1
            if j == n - 1:
                break
            cur = max(early[nxt], cur + serv[prev] + tt[prev, nxt])
            if cur > Lt[j] + EPS:
                break
            ride += serv[prev] + tt[prev, nxt]
    if nc == 0:
        return INF, -1, -1
    # Cheapest first by repeated selection: the first candidate almost always
    # passes the schedule test, so a full sort would be wasted work (after a
    # few failures the rest is sorted once).
    order = ws.order
    for c in range(nc):
        if c < 8:
            idx = 0
            for t in range(1, nc):
                if cand_d[t] < cand_d[idx]:
                    idx = t
        else:
            if c == 8:
                _sort_candidates(cand_d, nc, order)
            idx = order[c - 8]
        val = cand_d[idx]
        if val == INF:
            break
        cand_d[idx] = INF
        if blink > 0.0 and np.random.random() < blink:
            continue
        i = cand_i[idx]
        j = cand_j[idx]
        m = build_inserted(seq, n, p, d, i, j, buf)
        if route_schedule(buf, m, k, data, nodepos, work):
            return val, i, j
    return INF, -1, -1
