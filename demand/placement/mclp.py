"""The maximal covering location problem: lazy greedy, exact MIP (SCIP) or CP-SAT.

Demand columns covered by the same set of sites are merged before the exact
solve; greedy seeds the solver and the better of the two is kept, so the
exact answer is never worse than greedy.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from demand.placement.coverage import covered_weight
from routing.errors import RequestError

#: Largest model (coverage pairs after merging) solved exactly by default.
EXACT_MAX_PAIRS = 300_000


@dataclass(frozen=True)
class PlacementSolution:
    """Chosen sites and what they cover.

    Attributes
    ----------
    chosen : list of int
        Site indices in greedy order among the chosen (largest gain first).
    gains : list of float
        Demand each chosen site adds to those before it (sums to ``covered``).
    covered : float
        Total covered demand weight.
    method : str
        ``"mip-scip"`` or ``"cp-sat"`` (optimal when ``optimal``), ``"greedy"``.
    optimal : bool
        Proven optimal.
    seconds : float
        Solver time.
    """

    chosen: list[int]
    gains: list[float]
    covered: float
    method: str
    optimal: bool
    seconds: float = 0.0
    greedy_covered: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def greedy_mclp(matrix: csr_matrix, weights: np.ndarray, k: int) -> list[int]:
    """Lazy greedy: repeatedly add the site with the largest marginal gain (ties: lowest index)."""
    matrix = csr_matrix(matrix)
    covered = np.zeros(matrix.shape[1], dtype=bool)
    heap = [(-float(weights[matrix.indices[matrix.indptr[s] : matrix.indptr[s + 1]]].sum()), s)
            for s in range(matrix.shape[0])]  # fmt: skip
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < k:
        _neg, s = heapq.heappop(heap)
        cols = matrix.indices[matrix.indptr[s] : matrix.indptr[s + 1]]
        gain = float(weights[cols[~covered[cols]]].sum())
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, s))  # stale bound: re-queue with the true gain
            continue
        chosen.append(s)
        covered[cols] = True
    return chosen


def order_by_gain(
    matrix: csr_matrix, weights: np.ndarray, chosen: list[int]
) -> tuple[list[int], list[float]]:
    """Order ``chosen`` greedily by marginal gain and return (order, gains)."""
    sub = csr_matrix(matrix)[chosen]
    order_local = greedy_mclp(sub, weights, len(chosen))
    rest = [i for i in range(len(chosen)) if i not in order_local]
    order = [chosen[i] for i in order_local + rest]
    covered = np.zeros(matrix.shape[1], dtype=bool)
    gains = []
    m = csr_matrix(matrix)
    for s in order:
        cols = m.indices[m.indptr[s] : m.indptr[s + 1]]
        gains.append(float(weights[cols[~covered[cols]]].sum()))
        covered[cols] = True
    return order, gains


def _merge_columns(matrix: csr_matrix, weights: np.ndarray) -> tuple[csr_matrix, np.ndarray]:
    """Drop uncovered demand and merge demand columns covered by the same set of sites."""
    csc = matrix.tocsc()
    keys: dict[bytes, int] = {}
    merged_w: list[float] = []
    rows, cols = [], []
    for d in range(csc.shape[1]):
        sites = csc.indices[csc.indptr[d] : csc.indptr[d + 1]]
        if sites.size == 0:
            continue
        key = np.sort(sites).astype(np.int64).tobytes()
        j = keys.get(key)
        if j is None:
            j = keys[key] = len(merged_w)
            merged_w.append(0.0)
            rows.append(sites)
            cols.append(np.full(sites.size, j, dtype=np.int64))
        merged_w[j] += float(weights[d])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    out = csr_matrix((np.ones(r.size, bool), (r, c)), shape=(matrix.shape[0], len(merged_w)))
    return out, np.asarray(merged_w)


def cp_sat_mclp(
    matrix: csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    hint: list[int] | None = None,
    time_limit_s: float = 60.0,
    scale: float | None = None,
) -> tuple[list[int], bool]:
    """Solve the MCLP with CP-SAT: max sum w_d y_d, y_d <= sum_{s covers d} x_s, sum x_s <= k.

    Weights are scaled to integers (CP-SAT needs them); the scale keeps at least
    six significant digits. Returns (chosen sites, proven optimal).
    """
    from ortools.sat.python import cp_model

    n_sites, n_dem = matrix.shape
    if scale is None:
        top = float(weights.max()) if weights.size else 1.0
        scale = (
            1.0 if np.allclose(weights, np.round(weights)) and top < 1e9 else 1e6 / max(top, 1e-9)
        )
    w = np.round(np.asarray(weights) * scale).astype(np.int64)
    model = cp_model.CpModel()
    x = [model.NewBoolVar(f"x{s}") for s in range(n_sites)]
    y = [model.NewBoolVar(f"y{d}") for d in range(n_dem)]
    csc = matrix.tocsc()
    for d in range(n_dem):
        sites = csc.indices[csc.indptr[d] : csc.indptr[d + 1]]
        model.Add(y[d] <= sum(x[int(s)] for s in sites))
    model.Add(sum(x) <= k)
    model.Maximize(sum(int(w[d]) * y[d] for d in range(n_dem)))
    if hint:
        chosen_hint = set(hint)
        for s in range(n_sites):
            model.AddHint(x[s], int(s in chosen_hint))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = 2
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return list(hint or []), False
    chosen = [s for s in range(n_sites) if solver.Value(x[s])]
    return chosen, status == cp_model.OPTIMAL


def mip_mclp(
    matrix: csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    hint: list[int] | None = None,
    time_limit_s: float = 60.0,
) -> tuple[list[int], bool] | None:
    """Solve the MCLP as a MIP with SCIP (OR-Tools' linear solver): x binary, y in [0, 1].

    With binary x an optimal y is integral, so the LP-based branch and bound
    is exact on the float weights. Returns ``None`` if SCIP is unavailable.
    """
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        return None
    n_sites, n_dem = matrix.shape
    x = [solver.BoolVar(f"x{s}") for s in range(n_sites)]
    y = [solver.NumVar(0.0, 1.0, f"y{d}") for d in range(n_dem)]
    csc = matrix.tocsc()
    for d in range(n_dem):
        sites = csc.indices[csc.indptr[d] : csc.indptr[d + 1]]
        solver.Add(y[d] <= solver.Sum([x[int(s)] for s in sites]))
    solver.Add(solver.Sum(x) <= k)
    solver.Maximize(solver.Sum([float(weights[d]) * y[d] for d in range(n_dem)]))
    if hint:
        chosen_hint = set(hint)
        solver.SetHint(x, [1.0 if s in chosen_hint else 0.0 for s in range(n_sites)])
    solver.SetTimeLimit(int(time_limit_s * 1000))
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return list(hint or []), False
    chosen = [s for s in range(n_sites) if x[s].solution_value() > 0.5]
    return chosen, status == pywraplp.Solver.OPTIMAL


def solve_mclp(
    matrix: csr_matrix,
    weights: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    time_limit_s: float = 60.0,
) -> PlacementSolution:
    """Choose up to ``k`` sites maximising covered demand.

    Parameters
    ----------
    matrix : csr_matrix of bool, shape (n_sites, n_demand)
    weights : ndarray, shape (n_demand,)
    k : int
    method : {"auto", "exact", "greedy"}
        ``auto`` = exact (SCIP MIP) when the merged model has at most
        :data:`EXACT_MAX_PAIRS` coverage pairs, else greedy.
    time_limit_s : float
        CP-SAT time limit (the best solution found so far is used after it).

    Raises
    ------
    RequestError
        ``k < 1`` or an unknown method.
    """
    if k < 1:
        raise RequestError(f"k must be at least 1, got {k}")
    if method not in ("auto", "exact", "greedy"):
        raise RequestError(f"unknown method {method!r}; use auto, exact or greedy")
    started = time.perf_counter()
    weights = np.asarray(weights, dtype=float)
    greedy = greedy_mclp(matrix, weights, k)
    greedy_cov = covered_weight(matrix, weights, greedy)
    merged, merged_w = _merge_columns(matrix, weights)
    exact = method == "exact" or (method == "auto" and merged.nnz <= EXACT_MAX_PAIRS)
    chosen, optimal, used = greedy, False, "greedy"
    if exact and merged.shape[1]:
        answer = mip_mclp(merged, merged_w, k, hint=greedy, time_limit_s=time_limit_s)
        solver = "mip-scip"
        if answer is None:
            answer = cp_sat_mclp(merged, merged_w, k, hint=greedy, time_limit_s=time_limit_s)
            solver = "cp-sat"
        found, optimal = answer
        if covered_weight(matrix, weights, found) >= greedy_cov - 1e-9 * max(greedy_cov, 1.0):
            chosen, used = found, solver
        else:  # only possible through weight rounding or a time limit
            optimal = False
    elif exact:
        optimal = True  # nothing coverable: any choice is optimal
    order, gains = order_by_gain(matrix, weights, chosen)
    total = covered_weight(matrix, weights, order)
    return PlacementSolution(
        order,
        gains,
        total,
        used,
        bool(optimal),
        time.perf_counter() - started,
        greedy_cov,
        {"merged_demand": int(merged.shape[1]), "pairs": int(merged.nnz)},
    )
