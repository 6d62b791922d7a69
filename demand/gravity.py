"""Doubly-constrained gravity model: trips T_ij = a_i b_j P_i A_j f(c_ij).

The balancing factors ``a``, ``b`` come from Furness iterations (iterative
proportional fitting), so that every zone's row sum equals its productions
``P_i`` and every column sum its attractions ``A_j``. ``f`` is a deterrence
function of the travel time ``c`` in minutes:

* exponential ``f = exp(-beta c)``
* power ``f = c^(-alpha)``
* combined (gamma, Tanner) ``f = c^(-alpha) exp(-beta c)``

:func:`calibrate` finds the free parameter (``beta`` for exponential and
combined, ``alpha`` for power) whose balanced trip matrix has a given mean
travel time, by bisection or a bracket-safeguarded secant method. The mean
travel time falls as the parameter grows, so the root is unique.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numba
import numpy as np

from routing.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GravityResult:
    """A balanced trip matrix.

    Attributes
    ----------
    trips : ndarray of float64, shape (n, m)
        Expected trips from zone i to zone j.
    row_factor, col_factor : ndarray of float64
        Balancing factors ``a_i`` and ``b_j`` (``trips = a_i b_j f_ij``; P and A
        are folded into them).
    iterations : int
        Furness iterations used.
    max_error : float
        Largest absolute deviation of a row or column sum from its target,
        relative to the total number of trips.
    converged : bool
        Whether ``max_error`` reached the tolerance.
    """

    trips: np.ndarray
    row_factor: np.ndarray
    col_factor: np.ndarray
    iterations: int
    max_error: float
    converged: bool

    def mean_cost(self, cost: np.ndarray) -> float:
        """Trip-weighted mean of ``cost`` (e.g. minutes)."""
        return mean_cost(self.trips, cost)


@dataclass(frozen=True)
class Calibration:
    """Outcome of :func:`calibrate`."""

    parameter: str
    value: float
    mean: float
    target: float
    evaluations: int
    result: GravityResult


def deterrence(cost: np.ndarray, kind: str, *, alpha: float = 0.0, beta: float = 0.0) -> np.ndarray:
    """Evaluate the deterrence function on a cost matrix (minutes; ``inf`` = unreachable).

    Parameters
    ----------
    cost : ndarray
        Travel times in minutes, all > 0 (use :func:`prepare_costs`).
    kind : {"exponential", "power", "combined"}
        See the module docstring.
    alpha, beta : float
        Parameters.

    Returns
    -------
    ndarray of float64
        ``f(cost)``; 0 where the cost is infinite.
    """
    c = np.asarray(cost, dtype=float)
    finite = np.isfinite(c)
    safe = np.where(finite, c, 1.0)
    if kind == "exponential":
        f = np.exp(-beta * safe)
    elif kind == "power":
        f = safe ** (-alpha)
    elif kind == "combined":
        f = safe ** (-alpha) * np.exp(-beta * safe)
    else:
        raise DataError(f"unknown deterrence function {kind!r}; use exponential, power, combined")
    return np.where(finite, f, 0.0)


def prepare_costs(
    seconds: np.ndarray, *, min_minutes: float = 1.0, intrazonal_share: float = 0.5
) -> np.ndarray:
    """Zone-to-zone travel times in minutes ready for the model.

    The diagonal (a zone to itself: centroid to centroid is 0) becomes
    ``intrazonal_share`` times the time to the nearest other zone; every time
    is at least ``min_minutes``; unreachable pairs stay ``inf``.
    """
    c = np.array(seconds, dtype=float) / 60.0
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise DataError(f"travel-time matrix must be square, got shape {c.shape}")
    n = c.shape[0]
    if n > 1:
        off = c.copy()
        np.fill_diagonal(off, np.inf)
        nearest = off.min(axis=1)
        diag = np.where(np.isfinite(nearest), intrazonal_share * nearest, min_minutes)
        c[np.arange(n), np.arange(n)] = diag
    c[c < min_minutes] = min_minutes
    c[np.isnan(c)] = np.inf
    return c


def mean_cost(trips: np.ndarray, cost: np.ndarray) -> float:
    """Trip-weighted mean cost over the reachable pairs."""
    mask = trips > 0
    total = trips[mask].sum()
    return float((trips[mask] * cost[mask]).sum() / total) if total > 0 else float("nan")


@numba.njit(cache=True)
def _furness(P, A, F, b, tol, max_iter):  # pragma: no cover - compiled
    n, m = F.shape
    a = np.zeros(n)
    total = 0.0
    for i in range(n):
        total += P[i]
    err = np.inf
    it = 0
    while it < max_iter:
        it += 1
        for i in range(n):
            s = 0.0
            for j in range(m):
                s += F[i, j] * b[j]
            a[i] = P[i] / s if s > 0.0 else 0.0
        col = np.zeros(m)
        for i in range(n):
            ai = a[i]
            if ai == 0.0:
                continue
            for j in range(m):
                col[j] += ai * F[i, j]
        for j in range(m):
            b[j] = A[j] / col[j] if col[j] > 0.0 else 0.0
        # Columns now match exactly; the rows measure the remaining error.
        err = 0.0
        for i in range(n):
            s = 0.0
            for j in range(m):
                s += F[i, j] * b[j]
            d = abs(a[i] * s - P[i])
            if d > err:
                err = d
        for j in range(m):
            if col[j] == 0.0 and A[j] > 0.0:
                err = max(err, A[j])
        err /= total
        if err <= tol:
            break
    return a, b, it, err


def balance(
    production: np.ndarray,
    attraction: np.ndarray,
    friction: np.ndarray,
    *,
    tolerance: float = 1e-6,
    max_iterations: int = 1000,
    initial_col_factor: np.ndarray | None = None,
) -> GravityResult:
    """Furness-balance ``friction`` to the production and attraction totals.

    Parameters
    ----------
    production, attraction : ndarray, shape (n,) and (m,)
        Non-negative targets. Attractions are scaled to the production total
        (a doubly-constrained model needs equal totals).
    friction : ndarray, shape (n, m)
        Deterrence values ``f(c_ij)`` (0 = no trips possible).
    tolerance : float
        Stop when every row and column sum is within ``tolerance * total``.
    max_iterations : int
        Upper bound on Furness iterations.
    initial_col_factor : ndarray, optional
        Warm start for ``b`` (e.g. from a neighbouring calibration step).

    Raises
    ------
    DataError
        Negative or all-zero targets, or a zone with productions (attractions)
        that cannot reach (be reached from) any zone with attractions (productions).
    """
    P = np.asarray(production, dtype=float)
    A = np.asarray(attraction, dtype=float)
    F = np.ascontiguousarray(friction, dtype=float)
    if F.shape != (P.size, A.size):
        raise DataError(f"friction shape {F.shape} does not match {P.size} x {A.size} zones")
    if (P < 0).any() or (A < 0).any() or P.sum() <= 0 or A.sum() <= 0:
        raise DataError(
            "gravity model needs non-negative productions and attractions with positive totals"
        )
    A = A * (P.sum() / A.sum())
    reach_rows = (F * (A > 0)[None, :]).sum(axis=1) > 0
    reach_cols = (F * (P > 0)[:, None]).sum(axis=0) > 0
    stuck_rows = np.flatnonzero((P > 0) & ~reach_rows)
    stuck_cols = np.flatnonzero((A > 0) & ~reach_cols)
    if stuck_rows.size or stuck_cols.size:
        raise DataError(
            f"gravity model: zones {stuck_rows[:5].tolist()} produce trips but reach no "
            f"attraction, zones {stuck_cols[:5].tolist()} attract trips but no producer reaches "
            f"them; drop unreachable zones or fix the travel-time matrix"
        )
    b = np.ones(A.size) if initial_col_factor is None else np.array(initial_col_factor, dtype=float)
    a, b, iterations, err = _furness(P, A, F, b, float(tolerance), int(max_iterations))
    trips = a[:, None] * F * b[None, :]
    converged = bool(err <= tolerance)
    if not converged:
        log.warning(
            "Furness balancing stopped after %d iterations at relative error %.2e", iterations, err
        )
    return GravityResult(trips, a, b, int(iterations), float(err), converged)


def calibrate(
    production: np.ndarray,
    attraction: np.ndarray,
    cost: np.ndarray,
    *,
    kind: str,
    target_mean: float,
    alpha: float = 0.0,
    beta: float = 0.0,
    method: str = "bisection",
    tolerance: float = 0.005,
    balance_tolerance: float = 1e-6,
    max_iterations: int = 1000,
    max_evaluations: int = 80,
) -> Calibration:
    """Find the deterrence parameter whose balanced trips have mean cost ``target_mean``.

    Parameters
    ----------
    production, attraction, cost
        As for :func:`balance`; ``cost`` in minutes (from :func:`prepare_costs`).
    kind : {"exponential", "power", "combined"}
        Deterrence function. The calibrated parameter is ``beta`` for
        exponential and combined (``alpha`` stays fixed), ``alpha`` for power.
    target_mean : float
        Wanted mean cost, same unit as ``cost``.
    method : {"bisection", "secant"}
        Root finder; the secant steps fall back to bisection when they leave
        the bracket.
    tolerance : float
        Relative error of the mean to accept.

    Raises
    ------
    DataError
        The target cannot be reached with these zones and costs.
    """
    param = "alpha" if kind == "power" else "beta"
    evaluations = 0
    last_b: np.ndarray | None = None

    def run(value: float) -> tuple[float, GravityResult]:
        nonlocal evaluations, last_b
        evaluations += 1
        f = deterrence(
            cost,
            kind,
            alpha=value if param == "alpha" else alpha,
            beta=value if param == "beta" else beta,
        )
        res = balance(
            production,
            attraction,
            f,
            tolerance=balance_tolerance,
            max_iterations=max_iterations,
            initial_col_factor=last_b,
        )
        last_b = res.col_factor
        return res.mean_cost(cost) - target_mean, res

    lo = 0.0
    g_lo, r_lo = run(lo)
    if g_lo < 0:
        raise DataError(
            f"gravity calibration: even without deterrence the mean trip time is "
            f"{g_lo + target_mean:.2f} min, below the target {target_mean:.2f} min; lower "
            f"[gravity] target_mean_minutes or use a larger service area"
        )
    if abs(g_lo) <= tolerance * target_mean:
        return Calibration(param, lo, g_lo + target_mean, target_mean, evaluations, r_lo)
    hi, step = lo + 0.05, 0.05
    g_hi, r_hi = run(hi)
    while g_hi > 0:
        step *= 2.0
        lo, g_lo, r_lo = hi, g_hi, r_hi
        hi = lo + step
        if hi > 50.0:
            raise DataError(
                f"gravity calibration: the mean trip time stays above the target "
                f"{target_mean:.2f} min even with {param} = {lo:g} (it is "
                f"{g_lo + target_mean:.2f} min); raise [gravity] target_mean_minutes"
            )
        g_hi, r_hi = run(hi)
    best = (lo, g_lo, r_lo) if abs(g_lo) < abs(g_hi) else (hi, g_hi, r_hi)
    prev: tuple[float, float] | None = None
    while abs(best[1]) > tolerance * target_mean and evaluations < max_evaluations:
        x = 0.5 * (lo + hi)
        if method == "secant" and prev is not None and best[1] != prev[1]:
            guess = best[0] - best[1] * (best[0] - prev[0]) / (best[1] - prev[1])
            if lo < guess < hi:
                x = guess
        g, r = run(x)
        prev = (best[0], best[1])
        if g > 0:
            lo, g_lo = x, g
        else:
            hi, g_hi = x, g
        if abs(g) <= abs(best[1]) or method == "secant":
            best = (x, g, r)
    value, g, result = best
    if abs(g) > tolerance * target_mean:
        log.warning(
            "gravity calibration stopped after %d runs: mean %.3f min vs target %.3f",
            evaluations,
            g + target_mean,
            target_mean,
        )
    log.info(
        "calibrated %s deterrence: %s = %.5f, mean %.2f min (target %.2f) in %d runs",
        kind,
        param,
        value,
        g + target_mean,
        target_mean,
        evaluations,
    )
    return Calibration(
        param, float(value), float(g + target_mean), float(target_mean), evaluations, result
    )


def intrazonal_share(trips: np.ndarray) -> float:
    """Share of trips that stay inside their zone."""
    total = trips.sum()
    return float(np.trace(trips) / total) if total > 0 else math.nan
