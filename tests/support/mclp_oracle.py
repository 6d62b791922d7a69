"""The maximal covering location problem by brute force: the placement tests' oracle."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.sparse import csr_matrix

from demand.placement import covered_weight


def brute_force_mclp(matrix: csr_matrix, weights: np.ndarray, k: int) -> float:
    """Best coverage over every set of exactly ``min(k, n_sites)`` sites (tiny instances only)."""
    n = matrix.shape[0]
    return max(
        (covered_weight(matrix, weights, combo) for combo in combinations(range(n), min(k, n))),
        default=0.0,
    )
