"""Coordinate-to-coordinate routes of RoadNetwork against a plain Dijkstra oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routing.errors import NoRouteError, SnapError
from routing.geo import haversine_m
from routing.road import RoadNetwork
from routing.search import shortest_path_cost


def _oracle_duration(network: RoadNetwork, a: tuple[float, float], b: tuple[float, float]) -> float:
    """Best of: every seed pair joined by a plain Dijkstra, or along the shared edge."""
    sa, sb = network.snap(*a), network.snap(*b)
    src, src_cost = sa.source_seeds()
    dst, dst_cost = sb.target_seeds()
    best = sa.direct_cost_to(sb)
    for s, sc in zip(src, src_cost, strict=True):
        for t, tc in zip(dst, dst_cost, strict=True):
            cost = shortest_path_cost(
                network.graph,
                np.array([s]),
                np.array([0.0]),
                np.array([t]),
                np.array([0.0]),
                method="dijkstra",
            )
            best = min(best, sc + cost + tc)
    return best


def _polyline_m(lats: np.ndarray, lons: np.ndarray) -> float:
    return float(
        sum(haversine_m(lats[i], lons[i], lats[i + 1], lons[i + 1]) for i in range(len(lats) - 1))
    )


@pytest.mark.parametrize("profile", ["walk", "bike", "car"])
def test_routes_match_dijkstra_oracle(hd_networks: dict, profile: str) -> None:
    network = hd_networks[profile]
    rng = np.random.default_rng(7)
    graph = network.graph
    checked = 0
    for _ in range(40):
        i, j = rng.integers(0, graph.n_nodes, size=2)
        # Points a little off the network, as a user would click them.
        a = (float(graph.lat[i]) + 1e-4, float(graph.lon[i]) - 1e-4)
        b = (float(graph.lat[j]) - 1e-4, float(graph.lon[j]) + 1e-4)
        expected = _oracle_duration(network, a, b)
        if not math.isfinite(expected):
            with pytest.raises(NoRouteError):
                network.route(a, b)
            continue
        route = network.route(a, b)
        assert route.duration_s == pytest.approx(expected, rel=1e-9, abs=1e-6)
        snapped_a, snapped_b = network.snap(*a), network.snap(*b)
        assert (route.lats[0], route.lons[0]) == (snapped_a.lat, snapped_a.lon)
        assert (route.lats[-1], route.lons[-1]) == (snapped_b.lat, snapped_b.lon)
        # The reported length follows the drawn line (partial end edges are straight cuts).
        assert route.distance_m == pytest.approx(
            _polyline_m(route.lats, route.lons), rel=0.05, abs=30
        )
        feature = route.geojson()
        assert feature["geometry"]["coordinates"][0] == [
            round(float(route.lons[0]), 6),
            round(float(route.lats[0]), 6),
        ]
        checked += 1
    assert checked >= 30


def test_far_point_is_a_snap_error(hd_networks: dict) -> None:
    with pytest.raises(SnapError):
        hd_networks["car"].route((49.40, 8.69), (47.0, 8.69))
