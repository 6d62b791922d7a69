"""GTFS-Realtime TripUpdates applied to a day's timetable (messages built in code)."""

from __future__ import annotations

import numpy as np
import pytest
from google.transit import gtfs_realtime_pb2

from routing.errors import DataError
from routing.transit.door_to_door import TransitNetwork, plan_stops
from routing.transit.gtfs import read_gtfs
from routing.transit.raptor import Footpaths
from routing.transit.realtime import apply_trip_updates
from routing.transit.timetable import build_timetable
from tests.support import transit_oracle as oracle
from tests.support.gtfs_samples import TINY_FEED, write_feed

H = 3600


@pytest.fixture
def tt(tmp_path):
    return build_timetable(
        read_gtfs(write_feed(tmp_path / "tiny", TINY_FEED)), "2022-09-14", "Europe/Berlin"
    )


def message(*updates):
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = 1663135200
    for i, (trip_id, fill) in enumerate(updates):
        entity = feed.entity.add()
        entity.id = str(i)
        entity.trip_update.trip.trip_id = trip_id
        fill(entity.trip_update)
    return feed


def times(tt, trip_id):
    slot = next(s for s in range(tt.n_trips) if tt.trip_ids[s] == trip_id)
    _, arr, dep = tt.slot_times(slot)
    return list(arr), list(dep)


def arrival(tt, a, b, t):
    net = TransitNetwork(tt, Footpaths.empty(tt.n_stops))
    found = plan_stops(net, [tt.stop_index(a)], [tt.stop_index(b)], t)
    return min((j.arrival for j in found), default=None)


def test_delay_propagates_downstream(tt):
    def fill(tu):
        stu = tu.stop_time_update.add()
        stu.stop_sequence = 2
        stu.arrival.delay = 300

    new, report = apply_trip_updates(tt, message(("t1", fill)))
    assert report.updated_trips == 1
    arr, dep = times(new, "t1")
    assert arr == [8 * H, 8 * H + 900, 8 * H + 1500]  # first stop unchanged, then +5 min
    assert dep == [8 * H, 8 * H + 960, 8 * H + 1500]
    assert times(tt, "t1")[0] == [8 * H, 8 * H + 600, 8 * H + 1200]  # the original is untouched
    assert arrival(new, "A", "C", 8 * H) == 8 * H + 1500
    # serialized bytes work as well
    again, _ = apply_trip_updates(tt, message(("t1", fill)).SerializeToString())
    assert np.array_equal(again.arr, new.arr)


def test_absolute_times_and_stop_id_matching(tt):
    def fill(tu):
        stu = tu.stop_time_update.add()
        stu.stop_id = "B"
        stu.departure.time = tt.day_start + 8 * H + 720  # 08:12 instead of 08:11

    new, _ = apply_trip_updates(tt, message(("t1", fill)))
    arr, dep = times(new, "t1")
    assert dep[1] == 8 * H + 720 and arr[2] == 8 * H + 1260


def test_cancelled_trip_is_not_used(tt):
    def cancel(tu):
        tu.trip.schedule_relationship = gtfs_realtime_pb2.TripDescriptor.CANCELED

    assert arrival(tt, "A", "C", 8 * H) == 8 * H + 1200
    new, report = apply_trip_updates(tt, message(("t1", cancel)))
    assert report.cancelled_trips == 1 and "t1" not in set(new.trip_ids.tolist())
    assert arrival(new, "A", "C", 8 * H) == 8 * H + 50 * 60  # the next bus, t2


def test_skipped_stop_cannot_be_used(tt):
    def skip(tu):
        stu = tu.stop_time_update.add()
        stu.stop_sequence = 2
        stu.schedule_relationship = gtfs_realtime_pb2.TripUpdate.StopTimeUpdate.SKIPPED

    new, report = apply_trip_updates(tt, message(("t1", skip)))
    assert report.skipped_stops == 1
    assert arrival(new, "A", "B", 8 * H) == 8 * H + 40 * 60  # t1 passes Market: wait for t2
    assert arrival(new, "A", "C", 8 * H) == 8 * H + 1200  # riding through is still fine


def test_overtaking_after_delay_keeps_routes_fifo_and_matches_oracle(tt):
    def late(tu):
        stu = tu.stop_time_update.add()
        stu.stop_sequence = 1
        stu.departure.delay = 40 * 60  # t1 now leaves at 08:40, after t2

    new, _ = apply_trip_updates(tt, message(("t1", late)))
    for r in range(new.n_routes):
        n = new.route_stop_first[r + 1] - new.route_stop_first[r]
        m = new.route_trip_first[r + 1] - new.route_trip_first[r]
        base = new.route_time_first[r]
        dep = np.asarray(new.dep[base : base + n * m]).reshape(m, n)
        assert np.all(np.diff(dep, axis=0) >= 0)
    fp = Footpaths.empty(new.n_stops)
    conns = oracle.connections(new)
    for a in range(new.n_stops):
        for b in range(new.n_stops):
            if a != b:
                want = oracle.csa_earliest_arrival(new, fp, {a: 0}, {b: 0}, 8 * H, conns)
                got = arrival(new, str(new.stop_ids[a]), str(new.stop_ids[b]), 8 * H)
                assert (got if got is not None else float("inf")) == want


def test_unmatched_and_garbage(tt):
    def fill(tu):
        tu.stop_time_update.add().stop_sequence = 1

    new, report = apply_trip_updates(tt, message(("nope", fill)))
    assert report.unmatched_trips == ["nope"]
    assert np.array_equal(new.arr, tt.arr)
    with pytest.raises(DataError, match="cannot be decoded"):
        apply_trip_updates(tt, b"\xff\x00garbage")


def test_platform_change_moves_the_call_to_the_assigned_stop(tt):
    def moved(tu):
        stu = tu.stop_time_update.add()
        stu.stop_sequence = 1
        stu.stop_time_properties.assigned_stop_id = "A2"

    assert arrival(tt, "A2", "C", 8 * H) != 8 * H + 1200
    new, report = apply_trip_updates(tt, message(("t1", moved)))
    assert report.changed_stops == 1 and report.assigned == {("t1", "A"): "A2"}
    assert arrival(new, "A2", "C", 8 * H) == 8 * H + 1200  # board t1 at the new platform
    assert arrival(new, "A", "C", 8 * H) == 8 * H + 50 * 60  # not at the old one: t2
    assert report.regrouped_routes >= 1


def test_every_trip_delayed_at_once_matches_the_oracle(tt):
    def fill_for(seconds):
        def fill(tu):
            stu = tu.stop_time_update.add()
            stu.stop_sequence = 1
            stu.departure.delay = seconds

        return fill

    trips = sorted(set(tt.trip_ids.tolist()))
    new, report = apply_trip_updates(
        tt, message(*[(t, fill_for(60 * (i * 7 % 45))) for i, t in enumerate(trips)])
    )
    assert report.updated_trips >= len(trips) and not report.unmatched_trips
    fp = Footpaths.empty(new.n_stops)
    conns = oracle.connections(new)
    for a in range(new.n_stops):
        for b in range(new.n_stops):
            if a != b:
                want = oracle.csa_earliest_arrival(new, fp, {a: 0}, {b: 0}, 7 * H, conns)
                got = arrival(new, str(new.stop_ids[a]), str(new.stop_ids[b]), 7 * H)
                assert (got if got is not None else float("inf")) == want


def test_missing_header_is_refused(tt):
    with pytest.raises(DataError, match="no FeedHeader"):
        apply_trip_updates(tt, b"")
