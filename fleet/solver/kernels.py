"""Numba kernels of the dial-a-ride solver: route scheduling and insertion.

Arrays only: no objects, I/O or logging. A route is a row of ``routes`` (int64,
shape (K, cap)) holding node ids from the vehicle's start depot (position 0) to
its end depot (position ``lens[k] - 1``); an empty route has length 2.

The schedule of a route is evaluated with the eight-step method of Cordeau &
Laporte (2003): earliest times, delay the departure from the depot by the
forward time slack (shortest duration), then delay every pickup by its forward
time slack so that ride times shrink without breaking any time window, ride
time of a passenger already on board, or the route duration. The resulting
schedule is explicit, so a "feasible" verdict is always right (the independent
checker confirms every solution); the method may occasionally miss a feasible
schedule, which only makes the solver more cautious.

Node kinds: 0 depot, 1 pickup, 2 drop-off (``fleet.model``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EPS = 1e-7
INF = np.inf


@njit(cache=True)
def _pos_late(seq, n, k, late, shift_e, p):
    if p == n - 1:
        return min(late[seq[p]], shift_e[k])
    return late[seq[p]]


@njit(cache=True)
def route_schedule(
    seq, n, k, tt, serv, early, late, kind, pair, maxride, shift_s, shift_e, maxdur, nodepos, work
):
    """Eight-step schedule of route ``seq[:n]`` for vehicle ``k``.

    Fills ``work[0, :n]`` (start of service per position) and returns True when the
    schedule satisfies every time window, ride time and the route duration.
    ``nodepos`` is scratch of size n_nodes, all -1 on entry and on exit;
    ``work`` has 4 rows of at least ``n`` entries: row 0 receives ``B``, the
    other rows are scratch.
    """
    B = work[0]
    A = work[1]
    W = work[2]
    D = work[3]
    e0 = max(early[seq[0]], shift_s[k])
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
        if B[p] > _pos_late(seq, n, k, late, shift_e, p) + EPS:
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
        s = _pos_late(seq, n, k, late, shift_e, i) - B[i]
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
            s = _pos_late(seq, n, k, late, shift_e, i) - B[i]
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
    ok = B[n - 1] - B[0] <= maxdur[k] + EPS
    for p in range(1, n):
        if B[p] > _pos_late(seq, n, k, late, shift_e, p) + EPS:
            ok = False
        v = seq[p]
        if kind[v] == 2:
            op = nodepos[pair[v]]
            if op < 0 or op > p or B[p] - D[op] > maxride[v] + EPS:
                ok = False
    for p in range(n):
        nodepos[seq[p]] = -1
    return ok


@njit(cache=True)
def best_insertion(
    seq,
    n,
    k,
    p,
    d,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
    nodepos,
    tw,
    load,
    cand_d,
    cand_i,
    cand_j,
    buf,
    B,
    blink,
):
    """Cheapest feasible insertion of request (``p``, ``d``) into route ``seq[:n]``.

    Returns ``(delta, i, j)``: ``p`` goes before old position ``i`` and ``d``
    before old position ``j`` (``j == i``: right after ``p``); ``delta`` is the
    added cost, ``inf`` when no position is feasible. Cheap necessary tests
    (capacity, earliest/latest times, a ride-time lower bound) prune the pairs;
    the survivors are verified with :func:`route_schedule` cheapest first.
    ``tw`` is (4, >= n) scratch. With ``blink`` > 0 each candidate is skipped
    with that probability (SISR "blinks", for diversity).
    """
    durslack = route_prep(
        seq, n, k, tt, serv, early, late, demand, kind, pair, maxride, shift_e, maxdur,
        shift_s, nodepos, tw, load,
    )  # fmt: skip
    return insertion_prepared(
        seq, n, k, p, d, tt, cost, serv, early, late, demand, kind, pair, maxride, cap,
        shift_s, shift_e, maxdur, nodepos, tw, load, durslack, cand_d, cand_i, cand_j, buf,
        B, blink,
    )  # fmt: skip


@njit(cache=True)
def route_prep(
    seq, n, k, tt, serv, early, late, demand, kind, pair, maxride, shift_e, maxdur, shift_s,
    nodepos, tw, load,
):  # fmt: skip
    """Per-route data for :func:`insertion_prepared`, independent of the request.

    Fills ``tw`` rows 0-3 with earliest and latest service starts, the path time
    without waiting and the least ride-time slack over each arc, and ``load``
    with the load after each position; returns the route-duration slack.
    Computing it once per route serves every request evaluated against it.
    """
    E = tw[0]
    Lt = tw[1]
    ptime = tw[2]
    spanslack = tw[3]
    # Earliest service starts, latest service starts (windows and travel only), loads.
    E[0] = max(early[seq[0]], shift_s[k])
    for q in range(1, n):
        E[q] = max(early[seq[q]], E[q - 1] + serv[seq[q - 1]] + tt[seq[q - 1], seq[q]])
    Lt[n - 1] = _pos_late(seq, n, k, late, shift_e, n - 1)
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
    durslack = maxdur[k] - ptime[n - 1]
    return durslack


@njit(cache=True)
def insertion_prepared(
    seq,
    n,
    k,
    p,
    d,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
    nodepos,
    tw,
    load,
    durslack,
    cand_d,
    cand_i,
    cand_j,
    buf,
    B,
    blink,
):
    """:func:`best_insertion` on route data from :func:`route_prep`."""
    E = tw[0]
    Lt = tw[1]
    spanslack = tw[3]
    nd = demand.shape[1]
    L = maxride[p]
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
    order = np.empty(0, np.int64)
    for c in range(nc):
        if c < 8:
            idx = 0
            for t in range(1, nc):
                if cand_d[t] < cand_d[idx]:
                    idx = t
        else:
            if c == 8:
                order = np.argsort(cand_d[:nc])
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
        if route_schedule(
            buf,
            m,
            k,
            tt,
            serv,
            early,
            late,
            kind,
            pair,
            maxride,
            shift_s,
            shift_e,
            maxdur,
            nodepos,
            B,
        ):
            return val, i, j
    return INF, -1, -1


@njit(cache=True)
def build_inserted(seq, n, p, d, i, j, out):
    """Write ``seq`` with ``p`` before old position ``i`` and ``d`` before ``j`` into ``out``."""
    m = 0
    for q in range(n):
        if q == i:
            out[m] = p
            m += 1
        if q == j:
            out[m] = d
            m += 1
        out[m] = seq[q]
        m += 1
    return m


@njit(cache=True)
def repair(
    routes,
    lens,
    bank,
    regret_k,
    max_routes,
    vehicle_fixed,
    noise,
    blink,
    seed,
    veh_class,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
    pickup,
    dropoff,
):
    """Insert the requests in ``bank`` greedily (``regret_k`` 1) or by regret-k.

    With ``regret_k`` 0 the requests are inserted one after the other in bank
    order, each at its cheapest place (SISR-style; combine with ``blink``).

    ``routes``/``lens`` are updated in place. Empty routes of the same vehicle
    class are interchangeable, so only the first of each class is tried, and
    only while fewer than ``max_routes`` routes are in use; opening one costs
    ``vehicle_fixed`` extra. ``noise`` > 0 perturbs insertion costs uniformly in
    ``[-noise, noise]`` (random stream fixed by ``seed``). Returns a boolean mask
    over ``bank``: True for the requests inserted.
    """
    np.random.seed(seed)
    return repair_core(
        routes,
        lens,
        bank,
        regret_k,
        max_routes,
        vehicle_fixed,
        noise,
        blink,
        veh_class,
        tt,
        cost,
        serv,
        early,
        late,
        demand,
        kind,
        pair,
        maxride,
        cap,
        shift_s,
        shift_e,
        maxdur,
        pickup,
        dropoff,
    )


@njit(cache=True)
def _route_insertion_cost(
    routes, lens, k, p, d, prepped, durs, tws, loads, vehicle_fixed, noise, blink, tt, cost,
    serv, early, late, demand, kind, pair, maxride, cap, shift_s, shift_e, maxdur, nodepos,
    cand_d, cand_i, cand_j, buf, B,
):  # fmt: skip
    """Repair's cost of inserting request (``p``, ``d``) into route ``k``.

    Prepares the route lazily (:func:`route_prep` into ``tws[k]``, ``loads[k]``,
    ``durs[k]``, marked in ``prepped``), takes the cheapest insertion from
    :func:`insertion_prepared` and, when one is feasible, adds ``vehicle_fixed``
    for an empty route and uniform noise of amplitude ``noise``.

    Returns
    -------
    tuple of (float, int, int)
        ``(delta, i, j)`` as from :func:`insertion_prepared`; ``delta`` is ``inf``
        when no position is feasible.
    """
    # One place for the three evaluations in repair_core, so they stay alike: the
    # random draws (blinks, then noise only for a feasible insertion) keep their order.
    if not prepped[k]:
        durs[k] = route_prep(
            routes[k], lens[k], k, tt, serv, early, late, demand, kind, pair, maxride, shift_e,
            maxdur, shift_s, nodepos, tws[k], loads[k],
        )  # fmt: skip
        prepped[k] = True
    dl, i, j = insertion_prepared(
        routes[k], lens[k], k, p, d, tt, cost, serv, early, late, demand, kind, pair, maxride,
        cap, shift_s, shift_e, maxdur, nodepos, tws[k], loads[k], durs[k], cand_d, cand_i,
        cand_j, buf, B, blink,
    )  # fmt: skip
    if dl < INF:
        if lens[k] == 2:
            dl += vehicle_fixed
        if noise > 0.0:
            dl = max(0.0, dl + noise * (2.0 * np.random.random() - 1.0))
    return dl, i, j


@njit(cache=True)
def repair_core(
    routes,
    lens,
    bank,
    regret_k,
    max_routes,
    vehicle_fixed,
    noise,
    blink,
    veh_class,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
    pickup,
    dropoff,
):
    """:func:`repair` drawing from numba's random stream as it stands (no reseeding)."""
    K = routes.shape[0]
    R = bank.shape[0]
    nn = tt.shape[0]
    maxlen = routes.shape[1]
    nodepos = np.full(nn, -1, np.int64)
    B = np.empty((4, maxlen + 2))
    ncand = (maxlen + 2) * (maxlen + 2)
    cand_d = np.empty(ncand)
    cand_i = np.empty(ncand, np.int64)
    cand_j = np.empty(ncand, np.int64)
    buf = np.empty(maxlen + 2, np.int64)
    best_d = np.full((R, K), INF)
    best_i = np.zeros((R, K), np.int64)
    best_j = np.zeros((R, K), np.int64)
    done = np.zeros(R, np.bool_)
    active = np.zeros(K, np.bool_)
    # per-route insertion data (route_prep), refreshed when a route changes
    tws = np.empty((K, 4, maxlen + 2))
    loads = np.empty((K, maxlen + 2, demand.shape[1]), np.int64)
    durs = np.empty(K)
    prepped = np.zeros(K, np.bool_)

    used = 0
    for k in range(K):
        if lens[k] > 2:
            used += 1

    # which routes may receive insertions: used ones + first empty of each class
    for k in range(K):
        active[k] = lens[k] > 2
    if used < max_routes:
        for k in range(K):
            if lens[k] == 2:
                first = True
                for h in range(k):
                    if lens[h] == 2 and veh_class[h] == veh_class[k]:
                        first = False
                        break
                active[k] = first
    if regret_k == 0:
        for a in range(R):
            r = bank[a]
            bd = INF
            bk = -1
            bi = -1
            bj = -1
            for k in range(K):
                if not active[k]:
                    continue
                dl, i, j = _route_insertion_cost(
                    routes, lens, k, pickup[r], dropoff[r], prepped, durs, tws, loads,
                    vehicle_fixed, noise, blink, tt, cost, serv, early, late, demand, kind,
                    pair, maxride, cap, shift_s, shift_e, maxdur, nodepos, cand_d, cand_i,
                    cand_j, buf, B,
                )  # fmt: skip
                if dl < bd:  # bd <= inf, so only feasible insertions get here
                    bd = dl
                    bk = k
                    bi = i
                    bj = j
            if bk < 0:
                continue
            was_empty = lens[bk] == 2
            m = build_inserted(routes[bk], lens[bk], pickup[r], dropoff[r], bi, bj, buf)
            for q in range(m):
                routes[bk, q] = buf[q]
            lens[bk] = m
            done[a] = True
            prepped[bk] = False
            if was_empty:
                used += 1
                for h in range(K):
                    if lens[h] != 2:
                        continue
                    first = True
                    for g in range(h):
                        if lens[g] == 2 and veh_class[g] == veh_class[h]:
                            first = False
                            break
                    active[h] = first and used < max_routes
        return done
    for a in range(R):
        r = bank[a]
        for k in range(K):
            if active[k]:
                dl, i, j = _route_insertion_cost(
                    routes, lens, k, pickup[r], dropoff[r], prepped, durs, tws, loads,
                    vehicle_fixed, noise, blink, tt, cost, serv, early, late, demand, kind,
                    pair, maxride, cap, shift_s, shift_e, maxdur, nodepos, cand_d, cand_i,
                    cand_j, buf, B,
                )  # fmt: skip
                best_d[a, k] = dl
                best_i[a, k] = i
                best_j[a, k] = j
    tops = np.empty(max(regret_k, 1))
    while True:
        choice = -1
        choice_k = -1
        best_score = -INF
        for a in range(R):
            if done[a]:
                continue
            # the regret_k smallest costs over routes
            for h in range(regret_k):
                tops[h] = INF
            bk = -1
            for k in range(K):
                c = best_d[a, k]
                if c < tops[regret_k - 1]:
                    h = regret_k - 1
                    while h > 0 and tops[h - 1] > c:
                        tops[h] = tops[h - 1]
                        h -= 1
                    tops[h] = c
                    if h == 0:
                        bk = k
            if bk < 0:
                continue
            if regret_k <= 1:
                score = -tops[0]
            else:
                score = 0.0
                for h in range(1, regret_k):
                    if tops[h] == INF:
                        score += 1e9
                    else:
                        score += tops[h] - tops[0]
                score -= 1e-9 * tops[0]
            if score > best_score:
                best_score = score
                choice = a
                choice_k = bk
        if choice < 0:
            break
        r = bank[choice]
        k = choice_k
        was_empty = lens[k] == 2
        m = build_inserted(
            routes[k], lens[k], pickup[r], dropoff[r], best_i[choice, k], best_j[choice, k], buf
        )
        for q in range(m):
            routes[k, q] = buf[q]
        lens[k] = m
        done[choice] = True
        prepped[k] = False
        if was_empty:
            used += 1
        # refresh the active set and the costs of the changed route(s)
        changed = np.zeros(K, np.bool_)
        changed[k] = True
        if was_empty:
            for h in range(K):
                if lens[h] != 2:
                    continue
                first = True
                for g in range(h):
                    if lens[g] == 2 and veh_class[g] == veh_class[h]:
                        first = False
                        break
                now = first and used < max_routes
                if now and not active[h]:
                    changed[h] = True
                if active[h] and not now:
                    for a in range(R):
                        best_d[a, h] = INF
                active[h] = now
        for h in range(K):
            if not changed[h] or not active[h]:
                continue
            for a in range(R):
                if done[a]:
                    continue
                r = bank[a]
                dl, i, j = _route_insertion_cost(
                    routes, lens, h, pickup[r], dropoff[r], prepped, durs, tws, loads,
                    vehicle_fixed, noise, blink, tt, cost, serv, early, late, demand, kind,
                    pair, maxride, cap, shift_s, shift_e, maxdur, nodepos, cand_d, cand_i,
                    cand_j, buf, B,
                )  # fmt: skip
                best_d[a, h] = dl
                best_i[a, h] = i
                best_j[a, h] = j
    return done


@njit(cache=True)
def remove_nodes(routes, lens, flag):
    """Delete every node with ``flag[node]`` True from the routes, in place."""
    K = routes.shape[0]
    for k in range(K):
        m = 0
        for q in range(lens[k]):
            v = routes[k, q]
            if not flag[v]:
                routes[k, m] = v
                m += 1
        lens[k] = m


@njit(cache=True)
def route_costs(routes, lens, cost):
    """Travel cost of every route (0 for an empty one)."""
    K = routes.shape[0]
    out = np.zeros(K)
    for k in range(K):
        if lens[k] <= 2:
            continue
        s = 0.0
        for q in range(lens[k] - 1):
            s += cost[routes[k, q], routes[k, q + 1]]
        out[k] = s
    return out


@njit(cache=True)
def removal_gains(routes, lens, cost, kind, pair, node_request, n_requests):
    """Cost saved by taking each request out of its route (-inf if not routed)."""
    gain = np.full(n_requests, -INF)
    K = routes.shape[0]
    for k in range(K):
        n = lens[k]
        for q in range(1, n - 1):
            v = routes[k, q]
            if kind[v] != 1:
                continue
            # find the drop-off position
            qd = -1
            for t in range(q + 1, n - 1):
                if routes[k, t] == pair[v]:
                    qd = t
                    break
            if qd < 0:
                continue
            a = routes[k, q - 1]
            d = routes[k, qd]
            if qd == q + 1:
                b = routes[k, qd + 1]
                g = cost[a, v] + cost[v, d] + cost[d, b] - cost[a, b]
            else:
                b = routes[k, q + 1]
                x = routes[k, qd - 1]
                y = routes[k, qd + 1]
                g = cost[a, v] + cost[v, b] - cost[a, b] + cost[x, d] + cost[d, y] - cost[x, y]
            gain[node_request[v]] = g
    return gain


@njit(cache=True)
def service_times(
    routes, lens, tt, serv, early, late, kind, pair, maxride, shift_s, shift_e, maxdur
):
    """Start of service at every node under the eight-step schedules (nan if unrouted)."""
    nn = tt.shape[0]
    out = np.full(nn, np.nan)
    nodepos = np.full(nn, -1, np.int64)
    B = np.empty((4, routes.shape[1]))
    for k in range(routes.shape[0]):
        n = lens[k]
        if n <= 2:
            continue
        route_schedule(
            routes[k],
            n,
            k,
            tt,
            serv,
            early,
            late,
            kind,
            pair,
            maxride,
            shift_s,
            shift_e,
            maxdur,
            nodepos,
            B,
        )
        for q in range(1, n - 1):
            out[routes[k, q]] = B[0, q]
    return out


@njit(cache=True)
def routes_feasible(
    routes, lens, tt, serv, early, late, demand, kind, pair, maxride, cap, shift_s, shift_e, maxdur
):
    """Per route: capacity and eight-step schedule feasibility."""
    K = routes.shape[0]
    nn = tt.shape[0]
    out = np.ones(K, np.bool_)
    nodepos = np.full(nn, -1, np.int64)
    B = np.empty((4, routes.shape[1]))
    nd = demand.shape[1]
    ld = np.zeros(nd, np.int64)
    for k in range(K):
        n = lens[k]
        if n <= 2:
            continue
        for dim in range(nd):
            ld[dim] = 0
        for q in range(n):
            for dim in range(nd):
                ld[dim] += demand[routes[k, q], dim]
                if ld[dim] > cap[k, dim]:
                    out[k] = False
        if not route_schedule(
            routes[k],
            n,
            k,
            tt,
            serv,
            early,
            late,
            kind,
            pair,
            maxride,
            shift_s,
            shift_e,
            maxdur,
            nodepos,
            B,
        ):
            out[k] = False
    return out


@njit(cache=True)
def relocate_search(
    routes,
    lens,
    order,
    vehicle_fixed,
    veh_class,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
    pickup,
    dropoff,
):
    """First-improvement local search: move one request to its best position.

    For each request in ``order`` (in turn, repeated until a full pass brings no
    gain), take it out of its route and insert it at the cheapest feasible place
    in any route (its own included). Only strictly improving moves are applied;
    every changed route is verified with :func:`route_schedule`. Returns the
    total cost saved.

    The best insertion of a request into a route depends only on that route,
    so it is cached per (request, route) with the route's version number and
    recomputed only after the route changed: later passes cost little.
    """
    K = routes.shape[0]
    nn = tt.shape[0]
    R = pickup.shape[0]
    maxlen = routes.shape[1]
    nodepos = np.full(nn, -1, np.int64)
    tw = np.empty((4, maxlen + 2))
    B = np.empty((4, maxlen + 2))
    load = np.empty((maxlen + 2, demand.shape[1]), np.int64)
    ncand = (maxlen + 2) * (maxlen + 2)
    cand_d = np.empty(ncand)
    cand_i = np.empty(ncand, np.int64)
    cand_j = np.empty(ncand, np.int64)
    buf = np.empty(maxlen + 2, np.int64)
    red = np.empty(maxlen + 2, np.int64)
    version = np.zeros(K, np.int64)
    c_ver = np.full((R, K), -1, np.int64)
    c_d = np.empty((R, K))
    c_i = np.empty((R, K), np.int64)
    c_j = np.empty((R, K), np.int64)
    tws = np.empty((K, 4, maxlen + 2))
    loads = np.empty((K, maxlen + 2, demand.shape[1]), np.int64)
    durs = np.empty(K)
    prep_ver = np.full(K, -1, np.int64)
    route_of = np.full(nn, -1, np.int64)
    for k in range(K):
        for q in range(1, lens[k] - 1):
            route_of[routes[k, q]] = k
    saved = 0.0
    improved = True
    while improved:
        improved = False
        for r in order:
            p = pickup[r]
            d = dropoff[r]
            kr_ = route_of[p]
            if kr_ < 0:
                continue
            n = lens[kr_]
            m = 0
            for q in range(n):
                v = routes[kr_, q]
                if v != p and v != d:
                    red[m] = v
                    m += 1
            old = 0.0
            for q in range(n - 1):
                old += cost[routes[kr_, q], routes[kr_, q + 1]]
            new = 0.0
            if m > 2:
                for q in range(m - 1):
                    new += cost[red[q], red[q + 1]]
            gain = old - new
            if m == 2:
                gain += vehicle_fixed
            best = gain - 1e-7
            best_k = -1
            best_i = -1
            best_j = -1
            for k in range(K):
                if k == kr_:
                    seq = red
                    ln = m
                else:
                    seq = routes[k]
                    ln = lens[k]
                    if ln == 2:
                        # empty routes: only the first of its class, and never the same class
                        skip = veh_class[k] == veh_class[kr_] and m == 2
                        for h in range(k):
                            if lens[h] == 2 and veh_class[h] == veh_class[k]:
                                skip = True
                        if skip:
                            continue
                if k == kr_ and m == 2:
                    continue
                extra = vehicle_fixed if ln == 2 and k != kr_ else 0.0
                if extra >= best:
                    continue
                if c_ver[r, k] == version[k]:
                    dl = c_d[r, k]
                    i = c_i[r, k]
                    j = c_j[r, k]
                else:
                    if k == kr_:  # the own route without the request: prepared each time
                        pk_tw = tw
                        pk_load = load
                        dur = route_prep(
                            seq, ln, k, tt, serv, early, late, demand, kind, pair, maxride,
                            shift_e, maxdur, shift_s, nodepos, tw, load,
                        )  # fmt: skip
                    else:
                        if prep_ver[k] != version[k]:
                            durs[k] = route_prep(
                                seq, ln, k, tt, serv, early, late, demand, kind, pair, maxride,
                                shift_e, maxdur, shift_s, nodepos, tws[k], loads[k],
                            )  # fmt: skip
                            prep_ver[k] = version[k]
                        pk_tw = tws[k]
                        pk_load = loads[k]
                        dur = durs[k]
                    dl, i, j = insertion_prepared(
                        seq, ln, k, p, d, tt, cost, serv, early, late, demand, kind, pair,
                        maxride, cap, shift_s, shift_e, maxdur, nodepos, pk_tw, pk_load, dur,
                        cand_d, cand_i, cand_j, buf, B, 0.0,
                    )  # fmt: skip
                    c_ver[r, k] = version[k]
                    c_d[r, k] = dl
                    c_i[r, k] = i
                    c_j[r, k] = j
                if dl + extra < best:
                    best = dl + extra
                    best_k = k
                    best_i = i
                    best_j = j
            if best_k < 0:
                continue
            # apply: shrink the old route, insert into the new one
            if best_k == kr_:
                mm = build_inserted(red, m, p, d, best_i, best_j, buf)
                for q in range(mm):
                    routes[kr_, q] = buf[q]
                lens[kr_] = mm
            else:
                mm = build_inserted(routes[best_k], lens[best_k], p, d, best_i, best_j, buf)
                for q in range(mm):
                    routes[best_k, q] = buf[q]
                lens[best_k] = mm
                for q in range(m):
                    routes[kr_, q] = red[q]
                lens[kr_] = m
                route_of[p] = best_k
                route_of[d] = best_k
                version[best_k] += 1
            version[kr_] += 1
            saved += gain - best
            improved = True
    return saved


@njit(cache=True)
def tail_exchange_search(
    routes,
    lens,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
):
    """First-improvement 2-opt*: swap the tails of two routes at points where both are empty.

    Cutting where a vehicle carries nobody keeps every pickup with its drop-off,
    so a swap moves whole blocks of requests between vehicles at once (which
    request-by-request removal rarely finds). Each end depot stays with its
    vehicle; both new routes are checked for capacity and by
    :func:`route_schedule`. Empty routes are never filled. Repeats until no
    swap improves; returns the saving (a lower bound when a route empties).
    """
    K = routes.shape[0]
    nn = tt.shape[0]
    maxlen = routes.shape[1]
    nd = demand.shape[1]
    nodepos = np.full(nn, -1, np.int64)
    B = np.empty((4, 2 * maxlen + 2))
    a_seq = np.empty(2 * maxlen + 2, np.int64)
    b_seq = np.empty(2 * maxlen + 2, np.int64)
    empty1 = np.zeros(maxlen, np.bool_)
    empty2 = np.zeros(maxlen, np.bool_)
    ld = np.zeros(nd, np.int64)
    saved = 0.0
    improved = True
    while improved:
        improved = False
        for k1 in range(K):
            n1 = lens[k1]
            if n1 <= 2:
                continue
            _empty_points(routes[k1], n1, demand, ld, empty1)
            for k2 in range(K):
                if k2 == k1 or lens[k2] <= 2:
                    continue  # never opens a vehicle (vehicle counts matter to Li & Lim)
                n2 = lens[k2]
                _empty_points(routes[k2], n2, demand, ld, empty2)
                done = False
                for a in range(n1 - 1):
                    if not empty1[a]:
                        continue
                    u = routes[k1, a]
                    u2 = routes[k1, a + 1]
                    for b in range(n2 - 1):
                        if not empty2[b]:
                            continue
                        if a == 0 and b == 0:
                            continue  # swapping whole routes changes nothing useful
                        if a == n1 - 2 and b == n2 - 2:
                            continue  # both tails are just the end depots
                        v = routes[k2, b]
                        v2 = routes[k2, b + 1]
                        # new route 1: k1[:a+1] + k2[b+1:n2-1] + end1
                        t2_last = routes[k2, n2 - 2]
                        t1_last = routes[k1, n1 - 2]
                        e1 = routes[k1, n1 - 1]
                        e2 = routes[k2, n2 - 1]
                        delta = 0.0
                        if b + 1 <= n2 - 2:
                            delta += cost[u, v2] + cost[t2_last, e1] - cost[t2_last, e2]
                        else:
                            delta += cost[u, e1]
                        if a + 1 <= n1 - 2:
                            delta += cost[v, u2] + cost[t1_last, e2] - cost[t1_last, e1]
                        else:
                            delta += cost[v, e2]
                        delta -= cost[u, u2] + cost[v, v2]
                        if delta >= -1e-7:
                            continue
                        m1 = 0
                        for q in range(a + 1):
                            a_seq[m1] = routes[k1, q]
                            m1 += 1
                        for q in range(b + 1, n2 - 1):
                            a_seq[m1] = routes[k2, q]
                            m1 += 1
                        a_seq[m1] = e1
                        m1 += 1
                        m2 = 0
                        for q in range(b + 1):
                            b_seq[m2] = routes[k2, q]
                            m2 += 1
                        for q in range(a + 1, n1 - 1):
                            b_seq[m2] = routes[k1, q]
                            m2 += 1
                        b_seq[m2] = e2
                        m2 += 1
                        if m1 > maxlen or m2 > maxlen:
                            continue
                        if not _fits(a_seq, m1, k1, demand, cap, ld):
                            continue
                        if not _fits(b_seq, m2, k2, demand, cap, ld):
                            continue
                        if m1 > 2 and not route_schedule(
                            a_seq, m1, k1, tt, serv, early, late, kind, pair, maxride,
                            shift_s, shift_e, maxdur, nodepos, B,
                        ):  # fmt: skip
                            continue
                        if m2 > 2 and not route_schedule(
                            b_seq, m2, k2, tt, serv, early, late, kind, pair, maxride,
                            shift_s, shift_e, maxdur, nodepos, B,
                        ):  # fmt: skip
                            continue
                        for q in range(m1):
                            routes[k1, q] = a_seq[q]
                        lens[k1] = m1
                        for q in range(m2):
                            routes[k2, q] = b_seq[q]
                        lens[k2] = m2
                        saved -= delta
                        improved = True
                        done = True
                        break
                    if done:
                        break
                if done:
                    n1 = lens[k1]
                    if n1 <= 2:
                        break
                    _empty_points(routes[k1], n1, demand, ld, empty1)
    return saved


@njit(cache=True)
def _empty_points(seq, n, demand, ld, out):
    """``out[p]``: the vehicle carries nobody after leaving position ``p``."""
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


@njit(cache=True)
def _fits(seq, n, k, demand, cap, ld):
    nd = demand.shape[1]
    for dim in range(nd):
        ld[dim] = 0
    for p in range(n):
        for dim in range(nd):
            ld[dim] += demand[seq[p], dim]
            if ld[dim] > cap[k, dim]:
                return False
    return True
