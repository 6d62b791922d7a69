"""RAPTOR kernels against slow oracles: CSA and per-round brute force, on VRN and random feeds."""

from __future__ import annotations

import numpy as np
import pytest

from routing.transit.door_to_door import TransitNetwork, plan_stops
from routing.transit.footpaths import straight_line_footpaths
from routing.transit.gtfs import read_gtfs
from routing.transit.journeys import decode_journeys, journey_legs
from routing.transit.raptor import Footpaths, run_raptor, timetable_args
from routing.transit.timetable import build_timetable, load_timetable
from tests.support import transit_oracle as oracle
from tests.support.gtfs_samples import TINY_FEED, write_feed

TZ = "Europe/Berlin"


@pytest.fixture(scope="module")
def vrn(hd_region, hd_data_dir, cache_dir):
    tt = load_timetable(
        hd_region.source_file("gtfs", hd_data_dir), "2022-09-14", timezone=TZ, cache_dir=cache_dir
    )
    fp = straight_line_footpaths(tt, max_walk_s=600)
    return tt, fp, oracle.connections(tt)


def earliest(tt, fp, src, dst, t, args=None, max_transfers=15, access=0, egress=0):
    info, rides = run_raptor(
        tt,
        fp,
        np.array([src]),
        np.array([access]),
        np.array([dst]),
        np.array([egress]),
        int(t),
        max_transfers=max_transfers,
        args=args,
    )
    return (int(info[:, 3].min()) if len(info) else float("inf")), info, rides


def test_earliest_arrival_matches_connection_scan_on_vrn(vrn):
    tt, fp, conns = vrn
    args = timetable_args(tt, fp)
    checked = reached = 0
    for src, dst, t in oracle.random_pairs(tt, 300, seed=11):
        if src == dst:
            continue
        got, info, rides = earliest(tt, fp, src, dst, t, args)
        want = oracle.csa_earliest_arrival(tt, fp, {int(src): 0}, {int(dst): 0}, int(t), conns)
        assert got == want, (src, dst, t)
        checked += 1
        reached += np.isfinite(want)
        # the reconstructed journeys arrive exactly at their labels and are feasible
        for j in decode_journeys(tt, fp, info, rides, {int(src): 0}, {int(dst): 0}):
            assert j.arrival in info[:, 3]
            assert j.departure >= t
            here = t
            for ride in j.rides:
                if ride.walk_before is not None:
                    assert ride.walk_before[2] > 0
                    here += ride.walk_before[2]
                assert ride.departure >= here
                here = ride.arrival
    assert checked > 250 and reached > 150


def test_rounds_match_brute_force_on_vrn(vrn):
    tt, fp, _ = vrn
    args = timetable_args(tt, fp)
    for src, dst, t in oracle.random_pairs(tt, 10, seed=5):
        if src == dst:
            continue
        want = oracle.rounds_brute_force(tt, fp, {int(src): 0}, {int(dst): 0}, int(t), 4)
        _, info, _ = earliest(tt, fp, src, dst, t, args, max_transfers=3)
        got = [float("inf")] * 5
        for row in info:
            k = int(row[1])
            for j in range(k, 5):
                got[j] = min(got[j], int(row[3]))
        assert got[1:] == want[1:], (src, dst, t)


def test_multi_source_target_with_access_and_egress(vrn):
    tt, fp, conns = vrn
    rng = np.random.default_rng(3)
    served = np.flatnonzero(np.diff(tt.stop_route_first) > 0)
    for _ in range(20):
        src = rng.choice(served, 3, replace=False)
        dst = rng.choice(served, 3, replace=False)
        acc = rng.integers(0, 600, 3)
        egr = rng.integers(0, 600, 3)
        t = int(rng.integers(6 * 3600, 20 * 3600))
        info, _ = run_raptor(tt, fp, src, acc, dst, egr, t, max_transfers=15)
        got = int(info[:, 3].min()) if len(info) else float("inf")
        want = oracle.csa_earliest_arrival(
            tt,
            fp,
            dict(zip(src.tolist(), acc.tolist(), strict=True)),
            dict(zip(dst.tolist(), egr.tolist(), strict=True)),
            t,
            conns,
        )
        assert got == want


def random_feed(tmp_path, seed):
    """A small random feed: 7 stops, 4 routes with random stop patterns and headways."""
    rng = np.random.default_rng(seed)
    stops = "stop_id,stop_name,stop_lat,stop_lon\n" + "".join(
        f"S{i},Stop {i},{49.4 + 0.002 * (i % 3):.4f},{8.6 + 0.002 * (i // 3):.4f}\n"
        for i in range(7)
    )
    routes = "route_id,route_short_name,route_type\n"
    trips = "route_id,service_id,trip_id\n"
    times = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    for r in range(4):
        routes += f"R{r},{r},3\n"
        pattern = rng.choice(7, int(rng.integers(2, 5)), replace=False)
        hop = rng.integers(2, 9, len(pattern))
        for k in range(int(rng.integers(2, 6))):
            trips += f"R{r},D,T{r}_{k}\n"
            t = 8 * 3600 + int(rng.integers(0, 3600))
            for seq, stop in enumerate(pattern):
                if seq:
                    t += int(hop[seq]) * 60
                h, m = divmod(t // 60, 60)
                times += f"T{r}_{k},{h:02d}:{m:02d}:00,{h:02d}:{m:02d}:00,S{stop},{seq + 1}\n"
    files = {
        "stops.txt": stops,
        "routes.txt": routes,
        "trips.txt": trips,
        "stop_times.txt": times,
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        "start_date,end_date\nD,1,1,1,1,1,1,1,20220101,20221231\n",
    }
    feed = read_gtfs(write_feed(tmp_path / f"rand{seed}", files))
    return build_timetable(feed, "2022-09-14", TZ)


@pytest.mark.parametrize("seed", range(12))
def test_range_pareto_matches_brute_force_on_random_feeds(tmp_path, seed):
    tt = random_feed(tmp_path, seed)
    fp = straight_line_footpaths(tt, max_walk_s=240)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        src, dst = (int(v) for v in rng.choice(tt.n_stops, 2, replace=False))
        t = 8 * 3600 + int(rng.integers(-600, 3000))
        info, _ = run_raptor(
            tt,
            fp,
            np.array([src]),
            np.array([0]),
            np.array([dst]),
            np.array([0]),
            t,
            window_s=3600,
            max_transfers=3,
        )
        got = oracle.pareto_filter([(int(r[0]), int(r[3]), int(r[1])) for r in info])
        want = oracle.pareto_brute_force(tt, fp, {src: 0}, {dst: 0}, t, 3600, 4)
        assert got == want, (seed, src, dst, t)


def test_tiny_feed_journeys_and_no_service(tmp_path):
    tt = build_timetable(read_gtfs(write_feed(tmp_path / "tiny", TINY_FEED)), "2022-09-14", TZ)
    net = TransitNetwork(tt, Footpaths.empty(tt.n_stops))
    a, c, e, z = (tt.stop_index(s) for s in ("A", "C", "E", "Z"))
    # A -> E: bus 1 to Bridge (08:20), then the 08:20 run of the frequency line to Park
    [journey] = plan_stops(net, [a], [e], 8 * 3600)
    assert journey.transfers == 1 and journey.arrival == 8 * 3600 + 32 * 60
    legs = journey_legs(tt, journey)
    assert [leg.mode for leg in legs] == ["BUS", "TRAM"]
    assert legs[1].trip_id == "tf" and legs[1].start == legs[0].end
    assert legs[0].route_short_name == "1" and legs[0].trip_id == "t1"
    assert legs[0].headsign == "Bridge" and [s.place.name for s in legs[0].intermediate_stops] == [
        "Market"
    ]
    assert len(legs[0].lats) == 5  # drawn along shapes.txt, not stop to stop
    # a stop with no service that day: nothing to plan
    assert plan_stops(net, [z], [c], 8 * 3600) == []
    assert plan_stops(net, [a], [z], 8 * 3600) == []
    # after midnight: the night bus of the previous service day at 01:30
    b = tt.stop_index("B")
    [night] = plan_stops(net, [a], [b], 3600)
    assert night.rides[0].departure == 5400 and legs[0].start.tzinfo is not None
    # no-pickup/no-drop-off stop: the express cannot be left at Market
    a2 = tt.stop_index("A2")
    assert all(j.rides[0].alight_stop != b for j in plan_stops(net, [a2], [b], 8 * 3600))


def test_transfers_limit_and_pareto_set(tmp_path):
    tt = build_timetable(read_gtfs(write_feed(tmp_path / "tiny", TINY_FEED)), "2022-09-14", TZ)
    fp = straight_line_footpaths(tt, max_walk_s=120)
    net = TransitNetwork(tt, fp)
    a, e = tt.stop_index("A"), tt.stop_index("E")
    assert plan_stops(net, [a], [e], 8 * 3600, max_transfers=0) == []
    window = plan_stops(net, [a], [e], 8 * 3600, window_min=60)
    assert len(window) >= 2
    deps = [j.departure for j in window]
    arrs = [j.arrival for j in window]
    assert deps == sorted(deps) and arrs == sorted(arrs)
