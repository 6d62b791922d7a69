"""Static dial-a-ride solvers: our ALNS (numba kernels) and the OR-Tools baseline."""

from __future__ import annotations

from fleet.model import Instance, Solution

SOLVERS = ("ours", "ortools")


def solve(
    instance: Instance,
    *,
    solver: str = "ours",
    time_limit: float = 10.0,
    seed: int = 0,
    max_iterations: int | None = None,
) -> Solution:
    """Solve a static instance with ``"ours"`` (ALNS) or ``"ortools"``.

    Parameters
    ----------
    instance : Instance
        The problem.
    solver : str
        ``"ours"`` or ``"ortools"``.
    time_limit : float
        Wall-clock seconds.
    seed : int
        Random seed (ALNS only).
    max_iterations : int, optional
        Iteration limit for reproducible ALNS runs.

    Returns
    -------
    Solution
        ``found`` is False when the solver placed not every request.
    """
    from routing.errors import RequestError

    if time_limit <= 0:
        raise RequestError(f"time limit must be positive, got {time_limit}")
    if solver == "ours":
        from fleet.solver.alns import solve_alns

        return solve_alns(instance, time_limit=time_limit, seed=seed, max_iterations=max_iterations)
    if solver == "ortools":
        from fleet.ortools_backend import solve_ortools

        return solve_ortools(instance, time_limit=time_limit)
    raise RequestError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
