"""Snapping: exact nearest edge against brute force, fractions, seeds, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routing.errors import SnapError
from routing.geo import LocalPlane, haversine_m, polyline_length_m, project_to_segments
from routing.graph import RoadGraph
from routing.snap import Snapper
from tests.support.road_fixtures import hd_graphs, tiny_graphs  # noqa: F401


def _edge_of(graph: RoadGraph, tail_osm: int, head_osm: int) -> int:
    ids = graph.osm_node_id
    tail = graph.tail()
    (e,) = np.flatnonzero((ids[tail] == tail_osm) & (ids[graph.head] == head_osm))
    return int(e)


def _all_segments(graph: RoadGraph) -> np.ndarray:
    """Rows (edge, lat_a, lon_a, lat_b, lon_b) of every edge's polyline, via edge_points."""
    rows = []
    for e in range(graph.n_edges):
        lats, lons = graph.edge_points(e)
        k = lats.shape[0] - 1
        rows.append(np.column_stack((np.full(k, e), lats[:-1], lons[:-1], lats[1:], lons[1:])))
    return np.concatenate(rows)


def _brute_nearest(segments: np.ndarray, lat: float, lon: float, plane: LocalPlane):
    """Planar distance, edge and closest point over all segments."""
    if segments.shape[1] == 5:  # add the plane coordinates once
        ax, ay = plane.to_xy(segments[:, 1], segments[:, 2])
        bx, by = plane.to_xy(segments[:, 3], segments[:, 4])
        segments = np.column_stack((segments, ax, ay, bx, by))
    px, py = plane.to_xy(lat, lon)
    t, d = project_to_segments(px, py, *segments[:, 5:9].T)
    i = int(np.argmin(d))
    q_lat = segments[i, 1] + t[i] * (segments[i, 3] - segments[i, 1])
    q_lon = segments[i, 2] + t[i] * (segments[i, 4] - segments[i, 2])
    return float(d[i]), int(segments[i, 0]), float(q_lat), float(q_lon)


def _along_m(graph: RoadGraph, edge: int, lat: float, lon: float, plane: LocalPlane) -> float:
    """Metres along ``edge`` from its tail to the point closest to (lat, lon) on it."""
    lats, lons = graph.edge_points(edge)
    x, y = plane.to_xy(lats, lons)
    px, py = plane.to_xy(lat, lon)
    t, d = project_to_segments(px, py, x[:-1], y[:-1], x[1:], y[1:])
    i = int(np.argmin(d))
    before = polyline_length_m(lats[: i + 1], lons[: i + 1])
    seg = float(haversine_m(lats[i], lons[i], lats[i + 1], lons[i + 1]))
    return before + float(t[i]) * seg


def test_snap_onto_a_two_way_street(tiny_graphs):  # noqa: F811
    graph = tiny_graphs["car"]
    snapper = Snapper(graph)
    # 11 m north of way 100 between nodes 3 and 4 (the edge 2 -> 3 -> 4 has 3 as shape point).
    snap = snapper.snap(49.4021, 8.6940)
    assert snap.lat == pytest.approx(49.4020, abs=1e-9)
    assert snap.lon == pytest.approx(8.6940, abs=1e-9)
    assert snap.distance_m == pytest.approx(float(haversine_m(49.4021, 8.6940, 49.402, 8.694)))
    forward, backward = _edge_of(graph, 2, 4), _edge_of(graph, 4, 2)
    assert {snap.edge, snap.reverse_edge} == {forward, backward}
    along_from_2 = float(haversine_m(49.402, 8.6915, 49.402, 8.694))
    frac_from_2 = along_from_2 / graph.length_m[forward]
    expected = frac_from_2 if snap.edge == forward else 1.0 - frac_from_2
    assert snap.fraction == pytest.approx(expected, rel=1e-9)

    tt = graph.travel_time
    nodes, costs = snap.source_seeds()
    got = dict(zip(graph.osm_node_id[nodes].tolist(), costs.tolist(), strict=True))
    assert got == pytest.approx({4: (1 - frac_from_2) * tt[forward], 2: frac_from_2 * tt[backward]})
    nodes, costs = snap.target_seeds()
    got = dict(zip(graph.osm_node_id[nodes].tolist(), costs.tolist(), strict=True))
    assert got == pytest.approx({2: frac_from_2 * tt[forward], 4: (1 - frac_from_2) * tt[backward]})
    # Another weight (metres instead of seconds).
    nodes, costs = snap.source_seeds(np.asarray(graph.length_m))
    got = dict(zip(graph.osm_node_id[nodes].tolist(), costs.tolist(), strict=True))
    assert got[2] == pytest.approx(along_from_2)


def test_snap_onto_a_oneway_street(tiny_graphs):  # noqa: F811
    graph = tiny_graphs["car"]
    snap = Snapper(graph).snap(49.4010, 8.6913)  # beside node 5 on the oneway 2 -> 5 -> 7
    assert snap.edge == _edge_of(graph, 2, 7)
    assert snap.reverse_edge == -1
    assert snap.fraction == pytest.approx(0.5, rel=1e-6)
    nodes, costs = snap.source_seeds()
    assert graph.osm_node_id[nodes].tolist() == [7]
    assert costs[0] == pytest.approx(0.5 * graph.travel_time[snap.edge], rel=1e-6)
    nodes, costs = snap.target_seeds()
    assert graph.osm_node_id[nodes].tolist() == [2]
    # The walk graph has both directions on the same street.
    walk = tiny_graphs["walk"]
    snap = Snapper(walk).snap(49.4010, 8.6913)
    assert snap.reverse_edge >= 0
    assert len(snap.source_seeds()[0]) == 2


def test_direct_cost_on_the_same_edge(tiny_graphs):  # noqa: F811
    graph = tiny_graphs["car"]
    snapper = Snapper(graph)
    a = snapper.snap(49.4021, 8.6920)
    b = snapper.snap(49.4021, 8.6940)
    assert a.edge == b.edge
    metres = float(haversine_m(49.402, 8.692, 49.402, 8.694))
    kmh = 30.0 * 0.8  # maxspeed 30 times the realism factor
    assert a.direct_cost_to(b) == pytest.approx(metres / (kmh / 3.6), rel=1e-6)
    assert b.direct_cost_to(a) == pytest.approx(metres / (kmh / 3.6), rel=1e-6)
    one_way_a = snapper.snap(49.4015, 8.6913)
    one_way_b = snapper.snap(49.4005, 8.6913)
    assert one_way_a.direct_cost_to(one_way_b) < math.inf
    assert one_way_b.direct_cost_to(one_way_a) == math.inf
    assert a.direct_cost_to(one_way_a) == math.inf


@pytest.mark.parametrize(
    ("city", "profile", "box"),
    [
        ("heidelberg", "car", (49.38, 49.44, 8.64, 8.72)),
        ("tiny", "walk", (49.398, 49.404, 8.689, 8.697)),
        ("tiny", "bike", (49.398, 49.404, 8.689, 8.697)),
    ],
)
def test_snap_matches_brute_force(hd_graphs, tiny_graphs, city, profile, box):  # noqa: F811
    graph = (hd_graphs if city == "heidelberg" else tiny_graphs)[profile]
    snapper = Snapper(graph)
    plane = LocalPlane(float(np.mean(graph.lat)))
    segments = _all_segments(graph)
    ax, ay = plane.to_xy(segments[:, 1], segments[:, 2])
    bx, by = plane.to_xy(segments[:, 3], segments[:, 4])
    segments = np.column_stack((segments, ax, ay, bx, by))
    rng = np.random.default_rng(11)
    lats = rng.uniform(box[0], box[1], 25)
    lons = rng.uniform(box[2], box[3], 25)
    for lat, lon in zip(lats, lons, strict=True):
        snap = snapper.snap(lat, lon, max_distance_m=5_000)
        planar, _, q_lat, q_lon = _brute_nearest(segments, lat, lon, plane)
        assert snap.distance_m == pytest.approx(
            float(haversine_m(lat, lon, q_lat, q_lon)), abs=1e-6
        )
        assert snap.distance_m == pytest.approx(planar, rel=5e-3, abs=1e-6)
        assert snap.distance_m == pytest.approx(
            float(haversine_m(lat, lon, snap.lat, snap.lon)), rel=1e-12
        )
        # The snapped edge is a closest one (ties: the reverse twin or a crossing road).
        lo, hi = np.searchsorted(segments[:, 0], [snap.edge, snap.edge + 1])
        own = segments[lo:hi]
        assert _brute_nearest(own, lat, lon, plane)[0] == pytest.approx(planar, abs=1e-6)
        # The projected point lies on the snapped edge, at the stated fraction.
        lats_e, lons_e = graph.edge_points(snap.edge)
        x, y = plane.to_xy(lats_e, lons_e)
        sx, sy = plane.to_xy(snap.lat, snap.lon)
        _, d = project_to_segments(sx, sy, x[:-1], y[:-1], x[1:], y[1:])
        assert d.min() < 1e-6
        along = _along_m(graph, snap.edge, snap.lat, snap.lon, plane)
        assert snap.fraction * graph.length_m[snap.edge] == pytest.approx(along, abs=1e-3)


def test_snap_many_matches_brute_force(hd_graphs):  # noqa: F811
    graph = hd_graphs["bike"]
    snapper = Snapper(graph)
    rng = np.random.default_rng(5)
    lats = rng.uniform(49.36, 49.50, 300)
    lons = rng.uniform(8.60, 8.82, 300)
    nodes, dist = snapper.snap_many(lats, lons, max_distance_m=150.0)
    assert nodes.dtype == np.int32
    all_d = haversine_m(lats[:, None], lons[:, None], graph.lat[None, :], graph.lon[None, :])
    best = all_d.min(axis=1)
    np.testing.assert_allclose(dist, best, rtol=1e-3, atol=0.5)
    near = best <= 149.0
    assert np.all(nodes[near] >= 0)
    np.testing.assert_allclose(
        haversine_m(lats[near], lons[near], graph.lat[nodes[near]], graph.lon[nodes[near]]),
        best[near],
        rtol=1e-3,
        atol=0.5,
    )
    assert np.all(nodes[best > 151.0] == -1)
    empty_nodes, empty_dist = snapper.snap_many([], [])
    assert empty_nodes.shape == (0,)
    assert empty_dist.shape == (0,)


@pytest.mark.parametrize(
    ("lat", "lon", "match"),
    [
        (95.0, 8.69, "not a valid"),
        (49.4, 200.0, "not a valid"),
        (float("nan"), 8.69, "not a valid"),
        (48.0, 8.69, "outside the area"),
        (8.69, 49.4, "outside the area"),  # swapped lat/lon
    ],
)
def test_bad_coordinates_raise_snap_error(tiny_graphs, lat, lon, match):  # noqa: F811
    with pytest.raises(SnapError, match=match):
        Snapper(tiny_graphs["walk"]).snap(lat, lon)


def test_too_far_from_a_road_raises_snap_error(tiny_graphs):  # noqa: F811
    snapper = Snapper(tiny_graphs["car"])
    # 0.0005 deg north of the street 1-2 (about 56 m).
    with pytest.raises(SnapError, match=r"56 m from the nearest car road \(limit 20 m\)"):
        snapper.snap(49.4025, 8.6905, max_distance_m=20.0)
    assert snapper.snap(49.4025, 8.6905, max_distance_m=60.0).distance_m == pytest.approx(
        55.6, abs=0.1
    )


def test_snap_many_rejects_bad_input(tiny_graphs):  # noqa: F811
    snapper = Snapper(tiny_graphs["walk"])
    with pytest.raises(SnapError, match="index 1"):
        snapper.snap_many([49.4, 91.0], [8.69, 8.69])
    with pytest.raises(SnapError, match="2 latitudes but 1 longitudes"):
        snapper.snap_many([49.4, 49.4], [8.69])
