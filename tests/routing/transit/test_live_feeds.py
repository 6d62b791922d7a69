"""Live feed updaters against a local HTTP server whose GTFS-RT answers change over time.

The timetable is the tiny inline feed; the server runs on 127.0.0.1 in a
thread; polling is driven with an explicit clock (``step(now)``), so "within
one poll interval" is exact and no test depends on wall-clock speed.
"""

from __future__ import annotations

import time

import pytest
from google.transit import gtfs_realtime_pb2

from api.live.feeds import LiveFeeds
from routing.live_sources import LiveSource
from routing.transit.door_to_door import TransitNetwork, plan_stops
from routing.transit.gtfs import read_gtfs
from routing.transit.raptor import Footpaths
from routing.transit.timetable import build_timetable
from tests.support.feed_server import FeedServer
from tests.support.gtfs_samples import TINY_FEED, write_feed

H = 3600
TU = gtfs_realtime_pb2.TripUpdate
TD = gtfs_realtime_pb2.TripDescriptor


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    folder = write_feed(tmp_path_factory.mktemp("tiny") / "tiny", TINY_FEED)
    tt = build_timetable(read_gtfs(folder), "2022-09-14", "Europe/Berlin")
    return TransitNetwork(tt, Footpaths.empty(tt.n_stops))


@pytest.fixture
def server():
    with FeedServer() as srv:
        yield srv


def feed(*entities) -> bytes:
    """A FeedMessage with the given filled entities, serialized."""
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = 1663135200
    for i, fill in enumerate(entities):
        entity = message.entity.add()
        entity.id = str(i)
        fill(entity)
    return message.SerializeToString()


def delay(trip: str, seconds: int, seq: int = 2):
    def fill(entity):
        entity.trip_update.trip.trip_id = trip
        stu = entity.trip_update.stop_time_update.add()
        stu.stop_sequence = seq
        stu.arrival.delay = seconds

    return fill


def cancel(trip: str):
    def fill(entity):
        entity.trip_update.trip.trip_id = trip
        entity.trip_update.trip.schedule_relationship = TD.CANCELED

    return fill


def source(server, path="/tu.pb", key="tu", kind="gtfs_rt_trip_updates", **kw) -> LiveSource:
    opts = {"interval_s": 30.0, "timeout_s": 0.5, "max_age_s": 120.0, **kw}
    return LiveSource(key=key, kind=kind, url=server.url(path), **opts)


def live(network, tmp_path, *sources, clock=lambda: 0.0) -> LiveFeeds:
    return LiveFeeds(
        {s.key: s for s in sources}, spool_dir=tmp_path / "spool", transit=network, clock=clock
    )


def arrival(feeds: LiveFeeds, a: str = "A", b: str = "C", at: int = 8 * H) -> int | None:
    """Earliest arrival planned on the current snapshot (what a request would get)."""
    net = feeds.current().network
    tt = net.timetable
    found = plan_stops(net, [tt.stop_index(a)], [tt.stop_index(b)], at)
    return min((j.arrival for j in found), default=None)


SCHEDULED = 8 * H + 1200  # t1 reaches C at 08:20


def test_growing_delay_is_followed_within_one_interval(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 120)))
    feeds = live(network, tmp_path, source(server))
    assert arrival(feeds) == SCHEDULED and not feeds.current().realtime
    assert feeds.step(now=1000.0)
    assert arrival(feeds) == SCHEDULED + 120 and feeds.current().realtime
    server.set("/tu.pb", body=feed(delay("t1", 300)))
    assert not feeds.step(now=1010.0)  # not due yet: the interval is 30 s
    assert arrival(feeds) == SCHEDULED + 120
    assert feeds.step(now=1030.0)  # one interval later the plan follows
    assert arrival(feeds) == SCHEDULED + 300
    row = feeds.health(now=1031.0)[0]
    assert row["version"] == 2 and row["entities"] == 1 and row["errors_total"] == 0
    assert row["age_s"] == pytest.approx(1.0) and row["ok"]
    assert len(server.hits("/tu.pb")) == 2


def test_cancelled_trip_is_dropped_at_the_next_poll(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    feeds = live(network, tmp_path, source(server))
    feeds.step(now=0.0)
    assert arrival(feeds) == SCHEDULED + 60
    server.set("/tu.pb", body=feed(cancel("t1")))
    feeds.step(now=30.0)
    assert arrival(feeds) == 8 * H + 50 * 60  # t2
    assert feeds.current().report.cancelled_trips == 1


def test_server_error_keeps_last_good_data_backs_off_then_expires(
    network, server, tmp_path
) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 240)))
    feeds = live(network, tmp_path, source(server))
    feeds.step(now=0.0)
    server.set("/tu.pb", status=500)
    feeds.step(now=30.0)
    updater = feeds.updaters["tu"]
    assert arrival(feeds) == SCHEDULED + 240  # a broken feed never breaks planning
    row = feeds.health(now=30.0)[0]
    assert row["errors_total"] == 1 and row["consecutive_failures"] == 1
    assert "HTTP 500" in row["last_error"] and not row["ok"] and not row["expired"]
    assert 30 + 15 <= updater.next_poll_at <= 30 + 30  # interval x jitter in [0.5, 1]
    feeds.step(now=updater.next_poll_at)
    second = updater.next_poll_at
    assert feeds.health(now=second)[0]["consecutive_failures"] == 2
    assert updater.failures == 2
    # Past max_age (120 s) without a good answer: back to the schedule, and it says so.
    feeds.step(now=121.0)
    assert feeds.current().realtime is False
    assert arrival(feeds) == SCHEDULED
    status = feeds.current().status()
    assert not status["applied"] and "expired" in status["message"] and "tu" in status["message"]
    # The feed recovers: realtime again at the next poll.
    server.set("/tu.pb", body=feed(delay("t1", 90)))
    feeds.step(now=updater.next_poll_at)
    assert arrival(feeds) == SCHEDULED + 90 and feeds.current().status()["applied"]
    assert feeds.health(now=updater.next_poll_at)[0]["consecutive_failures"] == 0


def test_hanging_feed_times_out_and_planning_goes_on(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 180)))
    feeds = live(network, tmp_path, source(server, timeout_s=0.3))
    feeds.step(now=0.0)
    server.set("/tu.pb", body=feed(delay("t1", 999)), hang_s=2.0)
    feeds.step(now=30.0)
    row = feeds.health(now=30.0)[0]
    assert "timeout" in row["last_error"] or "within" in row["last_error"]
    assert arrival(feeds) == SCHEDULED + 180


def test_malformed_and_zero_byte_answers_are_refused(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    feeds = live(network, tmp_path, source(server))
    feeds.step(now=0.0)
    server.set("/tu.pb", body=b"\xff\x00garbage")
    feeds.step(now=30.0)
    assert "cannot be decoded" in feeds.health(now=30.0)[0]["last_error"]
    assert arrival(feeds) == SCHEDULED + 60 and feeds.updaters["tu"].applied_version == 1
    server.set("/tu.pb", body=b"")  # no header: not a GTFS-RT message
    feeds.step(now=feeds.updaters["tu"].next_poll_at)
    assert feeds.health()[0]["errors_total"] == 2
    assert arrival(feeds) == SCHEDULED + 60


def test_suddenly_empty_feed_means_no_delays(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    feeds = live(network, tmp_path, source(server))
    feeds.step(now=0.0)
    server.set("/tu.pb", body=feed())  # a valid message without entities
    feeds.step(now=30.0)
    assert arrival(feeds) == SCHEDULED
    assert feeds.current().realtime and feeds.health(now=30.0)[0]["entities"] == 0


def test_conditional_requests_get_304_and_renew_the_age(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    feeds = live(network, tmp_path, source(server))
    feeds.step(now=0.0)
    feeds.step(now=30.0)
    first, second = server.hits("/tu.pb")
    assert "If-None-Match" not in first and second["If-None-Match"].startswith('"')
    row = feeds.health(now=30.0)[0]
    assert row["version"] == 1 and row["not_modified_total"] == 1 and row["age_s"] == 0
    feeds.step(now=200.0)  # still answered (304) at every poll: never expires
    assert not feeds.health(now=200.0)[0]["expired"]


def test_several_workers_fetch_once_and_see_the_same_version(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 120)))
    a = live(network, tmp_path, source(server))
    b = live(network, tmp_path, source(server))
    a.step(now=0.0)
    b.step(now=0.0)
    assert a.updaters["tu"].spool.leader and not b.updaters["tu"].spool.leader
    assert len(server.hits("/tu.pb")) == 1
    assert arrival(a) == arrival(b) == SCHEDULED + 120
    server.set("/tu.pb", body=feed(delay("t1", 420)))
    b.step(now=30.0)  # the follower does not poll
    assert len(server.hits("/tu.pb")) == 1 and arrival(b) == SCHEDULED + 120
    a.step(now=30.0)
    b.step(now=30.5)
    assert len(server.hits("/tu.pb")) == 2
    assert arrival(a) == arrival(b) == SCHEDULED + 420
    assert b.health(now=31.0)[0]["version"] == a.health(now=31.0)[0]["version"] == 2
    # The leader goes away: the follower takes over polling.
    a.stop()
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    b.step(now=60.0)
    assert b.updaters["tu"].spool.leader and arrival(b) == SCHEDULED + 60


def test_auth_header_value_comes_from_the_environment(
    network, server, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ELSTER_TEST_RT_TOKEN", "Bearer s3cret")
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    src = source(server, auth_header="Authorization", auth_env="ELSTER_TEST_RT_TOKEN")
    feeds = live(network, tmp_path, src)
    feeds.step(now=0.0)
    assert server.hits("/tu.pb")[0]["Authorization"] == "Bearer s3cret"
    monkeypatch.delenv("ELSTER_TEST_RT_TOKEN")
    feeds.step(now=30.0)
    assert "ELSTER_TEST_RT_TOKEN" in feeds.health(now=30.0)[0]["last_error"]


def test_alerts_and_vehicle_positions(network, server, tmp_path) -> None:
    def alert(entity):
        entity.alert.header_text.translation.add(text="Baustelle", language="de")
        entity.alert.effect = gtfs_realtime_pb2.Alert.DETOUR
        entity.alert.informed_entity.add(route_id="r1")
        entity.alert.informed_entity.add(stop_id="B")

    def vehicle(entity):
        entity.vehicle.trip.trip_id = "t1"
        entity.vehicle.vehicle.id = "bus-7"
        entity.vehicle.position.latitude = 49.4
        entity.vehicle.position.longitude = 8.605
        entity.vehicle.position.bearing = 90

    def nowhere(entity):
        entity.vehicle.vehicle.id = "ghost"  # no position: skipped

    server.set("/alerts.pb", body=feed(alert))
    server.set("/vp.pb", body=feed(vehicle, nowhere))
    feeds = live(
        network,
        tmp_path,
        source(server, "/alerts.pb", key="al", kind="gtfs_rt_alerts"),
        source(server, "/vp.pb", key="vp", kind="gtfs_rt_vehicle_positions"),
    )
    feeds.step(now=0.0)
    snap = feeds.current()
    assert [a.header for a in snap.alerts.matching(route_id="r1")] == ["Baustelle"]
    assert snap.alerts.for_stop("B") and not snap.alerts.for_stop("C")
    assert not snap.alerts.matching(route_id="r2")
    (v,) = snap.vehicles
    assert (v.id, v.route_id, v.lon, v.bearing) == ("bus-7", "r1", 8.605, 90.0)
    assert not snap.realtime  # no trip updates: times are the schedule


def test_threads_follow_the_feed_with_short_intervals(network, server, tmp_path) -> None:
    server.set("/tu.pb", body=feed(delay("t1", 60)))
    feeds = LiveFeeds(
        {"tu": source(server, interval_s=0.2, max_age_s=60.0)},
        spool_dir=tmp_path / "spool",
        transit=network,
    )
    feeds.start()
    try:
        for want in (60, 600):
            server.set("/tu.pb", body=feed(delay("t1", want)))
            deadline = time.monotonic() + 20
            while arrival(feeds) != SCHEDULED + want and time.monotonic() < deadline:
                time.sleep(0.05)
            assert arrival(feeds) == SCHEDULED + want
    finally:
        feeds.stop()


def test_conditional_get_errors_name_the_address(server) -> None:
    from api.live.fetch import conditional_get
    from routing.errors import FetchError

    server.set("/big.pb", body=b"x" * 5000)
    with pytest.raises(FetchError, match=r"larger than 1,000 bytes; refused$") as info:
        conditional_get(server.url("/big.pb"), timeout_s=2, max_bytes=1000)
    assert str(info.value).count("http://") == 1
    with pytest.raises(FetchError, match="HTTP 404"):
        conditional_get(server.url("/missing.pb"), timeout_s=2)
    result = conditional_get(server.url("/big.pb"), timeout_s=2)
    again = conditional_get(server.url("/big.pb"), timeout_s=2, etag=result.etag)
    assert result.modified and not again.modified and again.body == b""
