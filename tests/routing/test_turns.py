"""Turn restrictions, U-turns and turn costs on turn-expanded graphs (fixtures/turns.osm)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmarks.support.route_segments import route_segments
from routing.build import BUILD_REPORTS, build_road_graphs
from routing.ch import build_cch_structure, customize
from routing.profiles import conditional_maxspeed, daytime_condition, get_profile
from routing.road import RoadNetwork
from routing.snap import Snapper
from routing.speed_model import CAR
from routing.turns import angle_cost, turn_angle
from tests.support.road_fixtures import FIXTURES

TURNS_OSM = FIXTURES / "turns.osm"
# Points on the arms of the crossroads (lat, lon), a little off the road.
ON = {
    "S": (49.3990, 8.60001),
    "N": (49.4015, 8.60001),
    "W": (49.4000, 8.59851),
    "E": (49.40001, 8.6015),
    "X": (49.40001, 8.6050),  # the dead-end spur beyond E
    "ringNE": (49.40075, 8.60275),  # on the ring between N and E
}


@pytest.fixture(scope="module")
def networks() -> dict[str, RoadNetwork]:
    graphs = build_road_graphs(TURNS_OSM, ("walk", "bike", "car", "shuttle"))
    out = {}
    for profile, graph in graphs.items():
        structure = build_cch_structure(graph)
        out[profile] = RoadNetwork(
            graph, Snapper(graph), customize(structure, graph), structure=structure
        )
    return out


def _turns_at(segments, node: int) -> list[tuple[int, int]]:
    """(from way, to way) of each pass through ``node``."""
    return [(a[0], b[0]) for a, b in itertools.pairwise(segments) if a[2] == node == b[1]]


def test_no_left_turn_is_respected_by_car_and_bike_not_walkers(networks) -> None:
    for profile in ("car", "shuttle", "bike"):
        segs = route_segments(networks[profile], ON["S"], ON["W"])
        assert (13, 11) not in _turns_at(segs, 100), profile
    # The direct left turn is what a walker takes (walkers ignore restrictions).
    walk = networks["walk"].route(ON["S"], ON["W"])
    car = networks["car"].route(ON["S"], ON["W"])
    assert walk.distance_m < car.distance_m


def test_only_straight_on_leaves_one_exit(networks) -> None:
    segs = route_segments(networks["car"], ON["W"], ON["N"])
    assert _turns_at(segs, 100) in ([], [(11, 12)])


def test_except_psv_binds_the_car_not_the_shuttle(networks) -> None:
    car = route_segments(networks["car"], ON["S"], ON["E"])
    shuttle = route_segments(networks["shuttle"], ON["S"], ON["E"])
    assert (13, 12) not in _turns_at(car, 100)
    assert (13, 12) in _turns_at(shuttle, 100)


def test_bus_only_restriction_binds_the_shuttle_not_the_car(networks) -> None:
    car = route_segments(networks["car"], ON["N"], ON["S"])
    shuttle = route_segments(networks["shuttle"], ON["N"], ON["S"])
    assert (14, 13) in _turns_at(car, 100)
    assert (14, 13) not in _turns_at(shuttle, 100)


def test_via_way_restriction_forbids_the_whole_manoeuvre(networks) -> None:
    # The shuttle may turn S -> E at C (except=psv), but not continue onto the ring at E.
    segs = route_segments(networks["shuttle"], ON["S"], ON["ringNE"])
    for a, b, c in zip(segs, segs[1:], segs[2:], strict=False):
        assert not (a[0] == 13 and b[0] == 12 and c[0] == 20 and b[2] == 103), segs
    # Entering C -> E from elsewhere and turning onto the ring stays allowed.
    ok = route_segments(networks["shuttle"], ON["N"], ON["ringNE"])
    assert ok[-1][0] == 20


def test_conditional_restrictions_are_counted_and_applied_as_documented(networks) -> None:
    report = BUILD_REPORTS["car"]["restrictions"]
    assert report["conditional_always"] == 1
    assert report["conditional_never"] == 1
    segs = route_segments(networks["car"], ON["N"], ON["W"])
    assert (14, 11) not in _turns_at(segs, 100)  # daytime condition: applied
    segs = route_segments(networks["car"], ON["N"], ON["E"])
    assert (14, 12) in _turns_at(segs, 100)  # night-only condition: never applied


def test_broken_relations_are_skipped_with_a_reason(networks) -> None:
    skipped = BUILD_REPORTS["car"]["restrictions"]["skipped"]
    assert skipped.get("to way does not start at the via node", 0) >= 1
    assert skipped.get("needs exactly one via node or a chain of via ways", 0) == 1
    assert skipped.get("via ways do not connect the from and to ways", 0) == 1
    assert skipped.get("contradicts another only_ restriction", 0) == 1


def test_u_turns_only_at_dead_ends_for_motor_vehicles(networks) -> None:
    g = networks["car"].graph
    ids, tails = g.osm_node_id, g.tail()
    # A U-turn arc drives back the segment it came from: tail-of-tail == head.
    u_turn_nodes = set()
    prev_tail = {}
    for arc in range(g.n_edges):
        t = int(tails[arc])
        prev_tail.setdefault(t, set())
    seg_from = {}
    for arc in range(g.n_edges):
        seg_from[int(g.head[arc])] = int(ids[tails[arc]])  # search node -> its segment's start
    for arc in range(g.n_edges):
        start_of_prev = seg_from.get(int(tails[arc]))
        if start_of_prev is not None and start_of_prev == int(ids[g.head[arc]]):
            u_turn_nodes.add(int(ids[tails[arc]]))
    assert u_turn_nodes == {105}  # only at the end of the spur
    # The U-turn there pays its penalty on top of the turn.
    u_turns = [
        arc
        for arc in range(g.n_edges)
        if int(ids[tails[arc]]) == 105 and seg_from.get(int(tails[arc])) == int(ids[g.head[arc]])
    ]
    assert u_turns
    assert all(g.turn_cost[arc] >= CAR.u_turn_s for arc in u_turns)


def test_turn_costs_follow_the_sigmoid_with_left_turns_dearer() -> None:
    straight, right, left, back = angle_cost(np.array([0.0, 90.0, -90.0, 180.0]), CAR)
    assert straight < 0.1
    assert right < left < back <= CAR.turn_penalty_s
    assert left == pytest.approx(5.4, abs=0.1)
    assert right == pytest.approx(2.1, abs=0.1)
    # Heading north then east is a right turn.
    assert turn_angle(np.array([0.0]), np.array([90.0]))[0] == pytest.approx(90.0)
    assert turn_angle(np.array([350.0]), np.array([260.0]))[0] == pytest.approx(-90.0)


def test_signal_delay_is_on_the_segments_through_it(networks) -> None:
    # Way 14 (C - 120 - N) has a signal at 120: both directions pay it once.
    g = networks["car"].graph
    ways = np.asarray(g.way_id)
    kmh_14 = (g.length_m / (g.travel_time - g.turn_cost) * 3.6)[ways == 14]
    kmh_12 = (g.length_m / (g.travel_time - g.turn_cost) * 3.6)[ways == 12]
    assert kmh_12.max() == pytest.approx(25.0)
    assert kmh_14.max() < 25.0


def test_speed_model_conditional_and_zone_forms() -> None:
    car = get_profile("car")
    assert conditional_maxspeed("30 @ (Mo-Fr 07:00-17:00)") == 30.0
    assert conditional_maxspeed("30 @ (22:00-06:00)") is None
    assert conditional_maxspeed("80 @ wet") is None
    assert daytime_condition("Mo-Fr 06:00-09:00,16:00-19:00")
    assert not daytime_condition("Sa-Su 10:00-18:00")
    assert car.speeds({"highway": "tertiary", "zone:traffic": "DE:rural"}) == (80.0, 80.0)
    assert car.speeds({"highway": "residential", "surface": "cobblestone", "maxspeed": "50"}) == (
        30.0,
        30.0,
    )
    assert car.speeds({"highway": "service", "service": "parking_aisle"}) == (5.0, 5.0)
    shuttle = get_profile("shuttle")
    assert car.speeds({"highway": "busway"}) == (0.0, 0.0)
    assert shuttle.speeds({"highway": "busway"}) == (25.0, 25.0)
    assert car.speeds({"highway": "residential", "access": "no", "psv": "yes"}) == (0.0, 0.0)
    assert shuttle.speeds({"highway": "residential", "access": "no", "psv": "yes"}) == (25.0, 25.0)


def test_a_bollard_stops_cars_not_bikes(tmp_path) -> None:
    text = TURNS_OSM.read_text(encoding="utf-8").replace(
        '<node id="110" version="1" lat="49.4015" lon="8.6025"/>',
        '<node id="110" version="1" lat="49.4015" lon="8.6025">'
        '<tag k="barrier" v="bollard"/></node>',
    )
    path = tmp_path / "bollard.osm"
    path.write_text(text, encoding="utf-8")
    graphs = build_road_graphs(path, ("bike", "car"))
    # Cars: the bollard is a node where the only way on is back.
    g = graphs["car"]
    ids, tails = g.osm_node_id, g.tail()
    seg_start = {int(g.head[a]): int(ids[tails[a]]) for a in range(g.n_edges)}
    leaving = [a for a in range(g.n_edges) if int(ids[tails[a]]) == 110]
    assert leaving
    assert all(seg_start[int(tails[a])] == int(ids[g.head[a]]) for a in leaving)
    # Bikes ride past it: it is not even a junction of their graph.
    assert 110 not in set(graphs["bike"].osm_node_id.tolist())
