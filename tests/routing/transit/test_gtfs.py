"""GTFS reading, validation, filters and the one-day timetable (inline feeds + the VRN cut)."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pytest

from routing.errors import DataError
from routing.transit.gtfs import read_gtfs
from routing.transit.timetable import build_timetable, load_timetable, timetable_trips
from tests.support.gtfs_samples import TINY_FEED, write_feed

TZ = "Europe/Berlin"


def feed_with(tmp_path, **changes):
    files = dict(TINY_FEED)
    for name, text in changes.items():
        key = name.replace("_txt", ".txt")
        if text is None:
            files.pop(key)
        else:
            files[key] = text
    target = tmp_path / f"feed{len(list(tmp_path.glob('feed*')))}"
    return write_feed(target, files)


@pytest.fixture
def tiny(tmp_path):
    return read_gtfs(write_feed(tmp_path / "tiny", TINY_FEED))


def slots_of(tt, trip_id):
    return [s for s in range(tt.n_trips) if tt.trip_ids[s] == trip_id]


def test_reads_zip_and_folder_alike(tmp_path):
    folder = read_gtfs(write_feed(tmp_path / "f", TINY_FEED))
    zipped = read_gtfs(write_feed(tmp_path / "f.zip", TINY_FEED, as_zip=True))
    assert folder.n_trips == zipped.n_trips == 12  # tf expanded into 6 instances
    assert np.array_equal(folder.st_arr, zipped.st_arr)
    assert list(folder.stops["stop_id"]) == ["A", "A2", "B", "C", "D", "E", "Z"]
    # platforms carry their parent station; the station itself is no boarding place
    assert folder.stops.set_index("stop_id").loc["A2", "parent_station"] == "STA"


def test_calendar_exceptions(tiny):
    assert tiny.active_services(dt.date(2022, 9, 14)) == {"WK"}
    assert tiny.active_services(dt.date(2022, 9, 15)) == set()  # WK removed that Thursday
    assert tiny.active_services(dt.date(2022, 9, 17)) == {"EXTRA"}  # added Saturday
    assert tiny.active_services(dt.date(2022, 9, 18)) == set()
    sat = build_timetable(tiny, "2022-09-17", TZ)
    # Saturday: the added trip, plus Friday's night trip still running after midnight
    assert sorted(zip(sat.trip_ids.tolist(), sat.trip_day_offset.tolist(), strict=False)) == [
        ("tn", -1),
        ("ts", 0),
    ]


def test_after_midnight_trip_belongs_to_previous_service_day(tiny):
    tt = build_timetable(tiny, "2022-09-14", TZ)
    night = slots_of(tt, "tn")
    offsets = sorted(int(tt.trip_day_offset[s]) for s in night)
    assert offsets == [-1, 0]  # Tuesday's 25:30 run (early Wednesday) and Wednesday's own
    early = next(s for s in night if tt.trip_day_offset[s] == -1)
    _stops, arr, dep = tt.slot_times(early)
    assert dep[0] == 5400 and arr[-1] == 6000  # 01:30 and 01:40 on the query date
    late = next(s for s in night if tt.trip_day_offset[s] == 0)
    assert tt.slot_times(late)[2][0] == 25 * 3600 + 1800
    # the 25:30 time of Wednesday is 01:30 local on Thursday
    assert tt.to_datetime(25 * 3600 + 1800).isoformat() == "2022-09-15T01:30:00+02:00"
    # Thursday has no WK service, but Wednesday's night trip still runs early Thursday
    thu = build_timetable(tiny, "2022-09-15", TZ)
    assert [int(thu.trip_day_offset[s]) for s in slots_of(thu, "tn")] == [-1]


def test_frequencies_expand_to_instances(tiny):
    tt = build_timetable(tiny, "2022-09-14", TZ)
    deps = sorted(int(tt.slot_times(s)[2][0]) for s in slots_of(tt, "tf"))
    assert deps == [8 * 3600 + 600 * i for i in range(6)]
    # the running times of the template trip are kept: 5 and 7 minutes
    for s in slots_of(tt, "tf"):
        _, arr, dep = tt.slot_times(s)
        assert list(arr - dep[0]) == [0, 300, 720]
    assert sorted(tt.trip_start[slots_of(tt, "tf")].tolist())[0] == "08:00:00"


def test_routes_are_fifo_and_indexed(tiny):
    tt = build_timetable(tiny, "2022-09-14", TZ)
    for r in range(tt.n_routes):
        n = tt.route_stop_first[r + 1] - tt.route_stop_first[r]
        m = tt.route_trip_first[r + 1] - tt.route_trip_first[r]
        base = tt.route_time_first[r]
        dep = np.asarray(tt.dep[base : base + n * m]).reshape(m, n)
        arr = np.asarray(tt.arr[base : base + n * m]).reshape(m, n)
        assert np.all(np.diff(dep, axis=0) >= 0) and np.all(np.diff(arr, axis=0) >= 0)
    # tf at 08:30 overtakes t3 (08:25) before Park: they must not share a route
    t3 = slots_of(tt, "t3")[0]
    overtaker = next(s for s in slots_of(tt, "tf") if tt.slot_times(s)[2][0] == 8 * 3600 + 1800)
    assert tt.slot_route[t3] != tt.slot_route[overtaker]
    # the stop -> route index lists every occurrence
    for s in range(tt.n_stops):
        for e in range(tt.stop_route_first[s], tt.stop_route_first[s + 1]):
            r, pos = tt.stop_routes[e], tt.stop_route_pos[e]
            assert tt.route_stops[tt.route_stop_first[r] + pos] == s
    # a stop without any service has no routes
    z = tt.stop_index("Z")
    assert tt.stop_route_first[z + 1] == tt.stop_route_first[z]


def test_pickup_dropoff_and_interpolated_times(tiny):
    tt = build_timetable(tiny, "2022-09-14", TZ)
    t4 = slots_of(tt, "t4")[0]
    stops, arr, _dep = tt.slot_times(t4)
    assert list(tt.stop_ids[stops]) == ["A2", "B", "D"]
    assert arr[1] == (arr[0] + arr[2]) // 2  # empty time interpolated
    cell = tt.slot_cell(t4, 1)
    assert not tt.board[cell] and not tt.alight[cell]


def test_trip_set_round_trip(tiny):
    tt = build_timetable(tiny, "2022-09-14", TZ)
    trips = timetable_trips(tt)
    for s in range(tt.n_trips):
        a, b = trips.first[s], trips.first[s + 1]
        stops, arr, _dep = tt.slot_times(s)
        assert np.array_equal(trips.stop[a:b], stops) and np.array_equal(trips.arr[a:b], arr)


def test_filters_agency_route_bbox(tmp_path):
    path = write_feed(tmp_path / "f", TINY_FEED)
    other = read_gtfs(path, agencies=["Other Bus"])
    assert set(other.trips["trip_id"]) == {"t4"}
    assert set(read_gtfs(path, agencies=["ag1"]).trips["trip_id"]) >= {"t1", "t3"}
    assert set(read_gtfs(path, routes=["2"]).trips["trip_id"]) == {"t3", "tf"}
    # a bbox around A..C cuts t3/tf away and keeps r1
    cut = read_gtfs(path, bbox=(8.59, 49.39, 8.625, 49.405))
    assert "t3" not in set(cut.trips["trip_id"]) and "t1" in set(cut.trips["trip_id"])
    assert set(cut.stops["stop_id"]) == {"A", "A2", "B", "C"}
    with pytest.raises(DataError, match="no agency matches"):
        read_gtfs(path, agencies=["GVB"])


def test_missing_required_file_and_column(tmp_path):
    with pytest.raises(DataError, match=r"required file stops\.txt is missing"):
        read_gtfs(feed_with(tmp_path, stops_txt=None))
    bad = TINY_FEED["stop_times.txt"].replace("stop_id,", "stop,", 1)
    with pytest.raises(DataError, match=r"stop_times\.txt lacks required column\(s\) stop_id"):
        read_gtfs(feed_with(tmp_path, stop_times_txt=bad))
    with pytest.raises(DataError, match=r"neither calendar\.txt nor calendar_dates\.txt"):
        read_gtfs(feed_with(tmp_path, calendar_txt=None, calendar_dates_txt=None))
    with pytest.raises(DataError, match="does not exist"):
        read_gtfs(tmp_path / "nothing.zip")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable GTFS zip"):
        read_gtfs(tmp_path / "junk.zip")


def test_unknown_trip_rows_are_skipped_with_a_warning(tmp_path, caplog):
    text = TINY_FEED["stop_times.txt"] + "ghost,09:00:00,09:00:00,A,1,,\n"
    with caplog.at_level(logging.WARNING):
        feed = read_gtfs(feed_with(tmp_path, stop_times_txt=text))
    assert feed.n_trips == 12
    assert any("line 21" in m and "trip_id = 'ghost'" in m for m in feed.warnings)
    with pytest.raises(DataError, match="line 21: field trip_id = 'ghost'"):
        read_gtfs(feed_with(tmp_path, stop_times_txt=text), strict=True)


def test_non_monotonic_trip_is_skipped(tmp_path):
    text = TINY_FEED["stop_times.txt"].replace(
        "t2,08:50:00,08:50:00,C,3", "t2,08:35:00,08:35:00,C,3"
    )
    feed = read_gtfs(feed_with(tmp_path, stop_times_txt=text))
    assert "t2" not in set(feed.trips["trip_id"])
    assert any("line 7: field arrival_time goes back in time" in m for m in feed.warnings)
    with pytest.raises(DataError, match="goes back in time within trip 't2'"):
        read_gtfs(feed_with(tmp_path, stop_times_txt=text), strict=True)


def test_bad_values_name_file_line_and_field(tmp_path):
    text = TINY_FEED["stop_times.txt"].replace("08:10:00,08:11:00", "08:1x:00,08:11:00")
    with pytest.raises(DataError, match=r"stop_times\.txt line 3: field arrival_time = '08:1x:00'"):
        read_gtfs(feed_with(tmp_path, stop_times_txt=text))
    cal = TINY_FEED["calendar.txt"].replace("20220930", "2022-09-30")
    with pytest.raises(DataError, match=r"calendar\.txt line 2: field end_date"):
        read_gtfs(feed_with(tmp_path, calendar_txt=cal))
    stops = TINY_FEED["stops.txt"].replace("49.4100,8.6300", "north,8.6300")
    with pytest.raises(DataError, match=r"stops\.txt line \d+: field stop_lat = 'north'"):
        read_gtfs(feed_with(tmp_path, stops_txt=stops))


def test_unknown_stop_rows_are_skipped(tmp_path):
    text = TINY_FEED["stop_times.txt"].replace(
        "t2,08:40:00,08:41:00,B,2", "t2,08:40:00,08:41:00,QQ,2"
    )
    feed = read_gtfs(feed_with(tmp_path, stop_times_txt=text))
    assert any("stop_id = 'QQ'" in m for m in feed.warnings)
    tt = build_timetable(feed, "2022-09-14", TZ)
    t2 = slots_of(tt, "t2")[0]
    assert list(tt.stop_ids[tt.slot_times(t2)[0]]) == ["A", "C"]


def test_date_outside_feed(tiny):
    with pytest.raises(DataError, match=r"outside the validity .*2022-09-01 \.\. 2022-09-30"):
        build_timetable(tiny, "2023-01-10", TZ)
    with pytest.raises(DataError, match="not YYYY-MM-DD"):
        build_timetable(tiny, "tomorrow", TZ)


def test_vrn_timetable_and_cache(hd_region, hd_data_dir, tmp_path):
    path = hd_region.source_file("gtfs", hd_data_dir)
    tt = load_timetable(path, "2022-09-14", timezone=TZ, cache_dir=tmp_path)
    assert tt.n_stops == 354 and tt.n_trips > 700
    assert {"RNV 5", "RNV 24", "757"} <= set(tt.route_short_names.tolist())
    again = load_timetable(path, "2022-09-14", timezone=TZ, cache_dir=tmp_path)
    assert np.array_equal(again.arr, tt.arr) and np.array_equal(again.trip_ids, tt.trip_ids)
    assert again.day_start == tt.day_start
    # a different filter is a different cache entry
    only_bus = load_timetable(
        path,
        "2022-09-14",
        timezone=TZ,
        cache_dir=tmp_path,
        filters={"agencies": ["Busverkehr Rhein-Neckar GmbH"]},
    )
    assert set(only_bus.route_short_names.tolist()) == {"757"}
