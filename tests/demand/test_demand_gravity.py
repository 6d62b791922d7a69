"""Gravity model: Furness marginals against a slow oracle, calibration to a target mean."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demand.gravity import balance, calibrate, deterrence, prepare_costs
from routing.errors import DataError


def haversine_test_costs(n: int, seed: int) -> np.ndarray:
    """Test-only zone travel times: great-circle distance at 30 km/h (not a road matrix)."""
    from demand.network import crowfly_travel_times

    rng = np.random.default_rng(seed)
    lat = 50.88 + rng.normal(0, 0.03, n)
    lon = 12.08 + rng.normal(0, 0.05, n)
    return prepare_costs(crowfly_travel_times(lat, lon, speed_kmh=30.0, detour=1.0))


def slow_furness(P: np.ndarray, A: np.ndarray, F: np.ndarray, iterations: int) -> np.ndarray:
    """Oracle: the textbook Furness method, scaling the whole matrix row- then column-wise."""
    A = A * P.sum() / A.sum()
    T = F.astype(float).copy()
    for _ in range(iterations):
        for i in range(T.shape[0]):
            s = sum(T[i, j] for j in range(T.shape[1]))
            if s > 0:
                for j in range(T.shape[1]):
                    T[i, j] *= P[i] / s
        for j in range(T.shape[1]):
            s = sum(T[i, j] for i in range(T.shape[0]))
            if s > 0:
                for i in range(T.shape[0]):
                    T[i, j] *= A[j] / s
    return T


def test_marginals_match_and_equal_oracle() -> None:
    rng = np.random.default_rng(3)
    n = 25
    cost = haversine_test_costs(n, 3)
    P = rng.gamma(1.0, 100.0, n)
    A = rng.gamma(0.7, 100.0, n)
    F = deterrence(cost, "exponential", beta=0.15)
    res = balance(P, A, F, tolerance=1e-10, max_iterations=5000)
    assert res.converged
    A_scaled = A * P.sum() / A.sum()
    np.testing.assert_allclose(res.trips.sum(axis=1), P, rtol=1e-8)
    np.testing.assert_allclose(res.trips.sum(axis=0), A_scaled, rtol=1e-8)
    oracle = slow_furness(P, A, F, res.iterations + 50)
    np.testing.assert_allclose(res.trips, oracle, rtol=1e-6, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["exponential", "power", "combined"]),
)
def test_marginals_for_random_inputs(n: int, seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    cost = haversine_test_costs(n, seed)
    P = rng.random(n) + 0.01
    A = rng.random(n) + 0.01
    res = balance(
        P, A, deterrence(cost, kind, alpha=0.8, beta=0.1), tolerance=1e-9, max_iterations=10_000
    )
    total = P.sum()
    assert np.abs(res.trips.sum(axis=1) - P).max() <= 1e-8 * total
    assert np.abs(res.trips.sum(axis=0) - A * total / A.sum()).max() <= 1e-8 * total


def test_zero_rows_and_unreachable_pairs() -> None:
    cost = haversine_test_costs(6, 1)
    cost[0, 3] = np.inf
    P = np.array([1.0, 0.0, 2.0, 3.0, 1.0, 0.5])
    A = np.array([0.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    res = balance(P, A, deterrence(cost, "exponential", beta=0.1), tolerance=1e-10)
    assert res.trips[0, 3] == 0.0
    assert res.trips[1].sum() == 0.0
    assert res.trips[:, 0].sum() == 0
    np.testing.assert_allclose(res.trips.sum(axis=1), P, rtol=1e-8)


def test_isolated_zone_is_an_error() -> None:
    cost = haversine_test_costs(4, 2)
    cost[2, :] = np.inf
    with pytest.raises(DataError, match=r"zones \[2\] produce trips"):
        balance(np.ones(4), np.ones(4), deterrence(cost, "exponential", beta=0.1))


@pytest.mark.parametrize("kind", ["exponential", "power", "combined"])
@pytest.mark.parametrize("method", ["bisection", "secant"])
def test_calibration_hits_target_mean(kind: str, method: str) -> None:
    rng = np.random.default_rng(7)
    n = 60
    cost = haversine_test_costs(n, 7)
    P = rng.gamma(1.0, 100.0, n)
    A = rng.gamma(0.7, 100.0, n)
    target = 6.0
    cal = calibrate(
        P,
        A,
        cost,
        kind=kind,
        alpha=-0.5,
        target_mean=target,
        method=method,
        tolerance=1e-3,
        balance_tolerance=1e-9,
    )
    assert cal.parameter == ("alpha" if kind == "power" else "beta")
    # Independent check: rebuild the matrix from the parameter and measure the mean.
    f = deterrence(
        cost,
        kind,
        alpha=cal.value if kind == "power" else -0.5,
        beta=cal.value if kind != "power" else 0.0,
    )
    res = balance(P, A, f, tolerance=1e-9)
    mean = (res.trips * cost).sum() / res.trips.sum()
    assert mean == pytest.approx(target, rel=2e-3)


def test_secant_needs_no_more_runs_than_bisection() -> None:
    rng = np.random.default_rng(11)
    n = 80
    cost = haversine_test_costs(n, 11)
    P, A = rng.random(n) + 0.1, rng.random(n) + 0.1
    runs = {
        m: calibrate(
            P, A, cost, kind="exponential", target_mean=5.0, method=m, tolerance=1e-4
        ).evaluations
        for m in ("bisection", "secant")
    }
    assert runs["secant"] <= runs["bisection"]


def test_unreachable_targets_are_errors() -> None:
    cost = haversine_test_costs(20, 5)
    P = A = np.ones(20)
    with pytest.raises(DataError, match="below the target"):
        calibrate(P, A, cost, kind="exponential", target_mean=1e6)
    with pytest.raises(DataError, match="stays above the target"):
        calibrate(P, A, cost, kind="exponential", target_mean=0.01)


def test_prepare_costs_intrazonal_and_floor() -> None:
    sec = np.array([[0.0, 600.0, 1200.0], [600.0, 0.0, 30.0], [1200.0, 30.0, 0.0]])
    c = prepare_costs(sec, min_minutes=1.0, intrazonal_share=0.5)
    assert c[0, 0] == pytest.approx(5.0)  # half of 10 min to the nearest zone
    assert c[1, 2] == 1.0
    assert c[1, 1] == 1.0
