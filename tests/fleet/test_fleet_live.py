"""Live operations: a dispatcher that follows real vehicles' reports.

Scenarios on a straight-line plane (8 m/s) where every travel time is known
by hand: shifts, GPS fixes, stop events, delays, no-shows and breakdowns.
Independent checks: ETAs against a hand computation from the coordinates
(:func:`hand_eta`, sharing no code with the dispatcher), seat counts against
the bookings on board, and two dispatchers fed the same reports agree.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fleet.online.dispatcher import DispatchConfig, FleetSpec
from fleet.online.live import LiveConfig, LiveDispatcher, forward_times
from fleet.online.promises import PromiseRules, Trip
from fleet.online.protocol import (
    EventConflictError,
    ImplausibleEventError,
    UnknownTargetError,
)
from fleet.online.travel import EuclideanTravel
from routing.errors import RequestError

SPEED = 8.0


def make(n_vehicles: int = 2, **live) -> tuple[LiveDispatcher, EuclideanTravel, dict[str, int]]:
    travel = EuclideanTravel(speed_mps=SPEED)
    points = {
        "depot": (0.0, 0.0),
        "a": (800.0, 0.0),
        "b": (4000.0, 0.0),
        "c": (800.0, 800.0),
        "far": (20000.0, 0.0),
        "west": (-1600.0, 0.0),
    }
    locs = {name: travel.add_point(x, y) for name, (x, y) in points.items()}
    rules = PromiseRules(max_wait_s=900.0, pickup_tolerance_s=300.0, boarding_s=30.0,
                         alighting_s=30.0)  # fmt: skip
    d = LiveDispatcher(
        travel,
        FleetSpec(n_vehicles=n_vehicles, seats=4, wheelchairs=1, depots=(locs["depot"],)),
        DispatchConfig(rules=rules),
        live=LiveConfig(**live),
    )
    return d, travel, locs


def trip(
    tid: str, o: int, dest: int, t: float, passengers: int = 1, pickup: float | None = None
) -> Trip:
    return Trip(id=tid, origin=(0.0, 0.0), destination=(0.0, 0.0), request_time=t,
                earliest_pickup=t if pickup is None else pickup, passengers=passengers,
                origin_loc=o, destination_loc=dest)  # fmt: skip


def latlon(travel: EuclideanTravel, loc: int) -> tuple[float, float]:
    return travel.coords(loc)


def fix(d: LiveDispatcher, travel: EuclideanTravel, name: str, loc: int, t: float) -> None:
    lat, lon = latlon(travel, loc)
    d.position(name, loc, lat, lon, t, t)


def statuses(d: LiveDispatcher, tid: str) -> list[str]:
    return [m[0] for m in d.milestones(tid)]


def hand_eta(points: list[tuple[float, float]], t0: float, services: list[float]) -> float:
    """Arrival at the last point driving straight lines at SPEED, serving in between."""
    t = t0
    for (x0, y0), (x1, y1), s in zip(points, points[1:], [0.0, *services], strict=False):
        t += s + math.hypot(x1 - x0, y1 - y0) / SPEED
    return t


def test_vehicles_are_off_shift_until_a_driver_starts_one() -> None:
    d, _travel, locs = make()
    assert not d.quote(trip("q", locs["a"], locs["b"], 100.0), 100.0).accepted
    d.start_shift("V001", locs["depot"], 100.0, seats=3, wheelchairs=0)
    got = d.submit(trip("r1", locs["a"], locs["b"], 100.0), 100.0)
    assert got.accepted and got.extra["vehicle_id"] == "V001"
    # the shift's capacity, not the fleet spec's, decides: 4 people do not fit in 3 seats
    assert not d.quote(trip("q4", locs["a"], locs["b"], 100.0, passengers=4), 100.0).accepted
    with pytest.raises(EventConflictError, match="already on shift"):
        d.start_shift("V001", locs["depot"], 101.0, seats=3, wheelchairs=0)
    with pytest.raises(UnknownTargetError, match="V009"):
        d.start_shift("V009", locs["depot"], 101.0, seats=3, wheelchairs=0)
    with pytest.raises(ImplausibleEventError, match="at least one seat"):
        d.start_shift("V002", locs["depot"], 101.0, seats=0, wheelchairs=0)


def test_a_trip_served_by_reports_reaches_every_milestone_with_hand_checked_etas() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    fix(d, travel, "V001", locs["depot"], 10.0)
    # heading to the pickup 800 m away at 8 m/s: there at 10 + 100 s
    [pickup, dropoff] = d.manifest("V001")
    assert (pickup["booking"], pickup["kind"], dropoff["kind"]) == ("r1", "pickup", "dropoff")
    assert pickup["eta"] == pytest.approx(hand_eta([(0, 0), (800, 0)], 10.0, []))
    assert dropoff["eta"] == pytest.approx(hand_eta([(0, 0), (800, 0), (4000, 0)], 10.0, [30.0]))
    assert statuses(d, "r1") == ["assigned", "arriving"]
    d.arrived("V001", "r1", "pickup", 110.0, 110.0)
    d.picked_up("V001", "r1", 1, 0, 140.0, 140.0)
    assert d.vehicles_view()[0]["onboard"] == 1
    d.arrived("V001", "r1", "dropoff", 540.0, 540.0)
    d.dropped_off("V001", "r1", 570.0, 570.0)
    assert statuses(d, "r1") == ["assigned", "arriving", "picked_up", "completed"]
    assert d.request("r1").status == "done"
    assert d.manifest("V001") == []
    kpis = d.day_kpis()
    assert kpis["served"] == 1 and kpis["on_time_pickup_share"] == 1.0
    # road metres: 800 to the pickup (empty), 3,200 with the passenger on board
    assert kpis["vehicle_km"] == pytest.approx(4.0) and kpis["empty_km"] == pytest.approx(0.8)
    assert kpis["occupancy"] == pytest.approx(3.2 / 4.0)


def test_bad_reports_are_refused_and_change_nothing() -> None:
    d, travel, locs = make()
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.start_shift("V002", locs["west"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    owner = d.request("r1").vehicle
    me, other = ("V001", "V002") if owner == 0 else ("V002", "V001")
    before = (d.routes.copy(), d.lens.copy(), d.milestones("r1"))
    with pytest.raises(EventConflictError, match="picked_up before arrived"):
        d.picked_up(me, "r1", 1, 0, 5.0, 5.0)
    with pytest.raises(EventConflictError, match="dropped_off without picked_up"):
        d.dropped_off(me, "r1", 5.0, 5.0)
    with pytest.raises(EventConflictError, match=f"planned on {me}"):
        d.arrived(other, "r1", "pickup", 5.0, 5.0)
    with pytest.raises(UnknownTargetError, match="no booking"):
        d.arrived(me, "nope", "pickup", 5.0, 5.0)
    with pytest.raises(ImplausibleEventError, match="in the future"):
        d.arrived(me, "r1", "pickup", 500.0, 5.0)
    fix(d, travel, me, locs["depot"] if me == "V001" else locs["west"], 20.0)
    lat, lon = latlon(travel, locs["far"])
    with pytest.raises(ImplausibleEventError, match="physically impossible"):
        d.position(me, locs["far"], lat, lon, 30.0, 30.0)
    lat, lon = latlon(travel, locs["a"])
    with pytest.raises(EventConflictError, match="not newer"):
        d.position(me, locs["a"], lat, lon, 15.0, 30.0)
    with pytest.raises(EventConflictError, match="stale"):
        d.position(me, locs["a"], lat, lon, 25.0, 1000.0)
    d.arrived(me, "r1", "pickup", 1000.0, 1000.0)
    with pytest.raises(EventConflictError, match="out of order"):
        d.no_show(me, "r1", 900.0, 1001.0)
    with pytest.raises(EventConflictError, match="too early for a no-show"):
        d.no_show(me, "r1", 1001.0, 1001.0)
    with pytest.raises(ImplausibleEventError, match="booking r1 is for 1 seat"):
        d.picked_up(me, "r1", 3, 0, 1002.0, 1002.0)
    assert before[2] != d.milestones("r1")  # arrived is a real change ...
    assert d.request("r1").status == "assigned"  # ... the refused ones were not


def test_no_show_after_the_wait_frees_the_seats() -> None:
    d, _travel, locs = make(n_vehicles=1, no_show_wait_s=120.0)
    d.start_shift("V001", locs["depot"], 0.0, seats=1, wheelchairs=0)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    assert not d.quote(trip("r2", locs["a"], locs["b"], 0.0), 0.0).accepted  # the one seat
    d.arrived("V001", "r1", "pickup", 100.0, 100.0)
    with pytest.raises(EventConflictError, match="wait another 20 s"):
        d.no_show("V001", "r1", 200.0, 200.0)
    d.no_show("V001", "r1", 220.0, 220.0)
    assert d.request("r1").status == "no_show"
    assert statuses(d, "r1")[-1] == "no_show"
    assert d.lens[0] == 2  # nothing planned: the seat is free
    assert d.submit(trip("r2", locs["a"], locs["b"], 220.0), 220.0).accepted


def test_a_late_vehicle_hands_the_pickup_to_one_that_can_keep_the_promise() -> None:
    d, travel, locs = make()
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    got = d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    assert got.extra["vehicle_id"] == "V001"
    # V002 joins right at the pickup; V001 is stuck at the depot for 15 minutes
    d.start_shift("V002", locs["a"], 10.0, seats=4, wheelchairs=1)
    for t in range(30, 1000, 60):
        fix(d, travel, "V001", locs["depot"], float(t))
        if d.request("r1").vehicle == 1:
            break
    rec = d.request("r1")
    assert rec.vehicle == 1, "moved to V002, which is at the pickup"
    assert d.stats["moved_on_delay"] == 1
    assert d.manifest("V001") == []
    assert d.manifest("V002")[0]["booking"] == "r1"
    assert rec.promise.pickup_latest >= d.manifest("V002")[0]["eta"]


def test_without_another_vehicle_the_booking_is_delayed_with_its_new_eta() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    got = d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    stuck_until = got.pickup_latest + 600.0
    t = 30.0
    while t < stuck_until:
        fix(d, travel, "V001", locs["depot"], t)
        t += 60.0
    [pickup, dropoff] = d.manifest("V001")
    # delay propagates: each ETA is the hand-computed drive from where it stands now
    assert pickup["eta"] == pytest.approx(hand_eta([(0, 0), (800, 0)], t - 60.0, []))
    assert dropoff["eta"] == pytest.approx(
        hand_eta([(0, 0), (800, 0), (4000, 0)], t - 60.0, [30.0])
    )
    delays = [m for m in d.milestones("r1") if m[0] == "delayed"]
    assert delays and delays[-1][2] > got.pickup_latest
    # a new delayed milestone only when the ETA moved on by the report step
    etas = [m[2] for m in delays]
    assert all(b - a > d.live.delay_report_step_s for a, b in itertools.pairwise(etas))
    assert any(a["kind"] == "delayed_booking" for a in d.alerts())
    assert any(a["kind"] == "off_plan" for a in d.alerts())


def test_a_breakdown_moves_pickups_and_rescues_passengers_on_board() -> None:
    d, travel, locs = make(n_vehicles=3)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("onboard", locs["a"], locs["b"], 0.0), 0.0)
    d.arrived("V001", "onboard", "pickup", 100.0, 100.0)
    d.picked_up("V001", "onboard", 2 - 1, 0, 130.0, 130.0)
    d.submit(trip("later", locs["c"], locs["b"], 130.0), 130.0)
    assert d.request("later").vehicle == 0
    fix(d, travel, "V001", locs["a"], 140.0)
    out = d.out_of_service("V001", 150.0, 150.0, reason="engine")
    # nobody else on shift: the pickup cannot be kept, the passenger waits for a rescue
    assert out["cancelled"] == ["later"] and out["stranded"] == ["onboard"]
    assert d.request("later").status == "cancelled_by_operator"
    assert "engine" in d.milestones("later")[-1][3]
    assert any(a["kind"] == "stranded" for a in d.alerts())
    with pytest.raises(EventConflictError, match="not on shift"):
        fix(d, travel, "V001", locs["a"], 160.0)
    d.start_shift("V002", locs["depot"], 200.0, seats=4, wheelchairs=1)
    rescue = d.request("onboard")
    assert rescue.vehicle == 1 and rescue.status == "assigned"
    [pickup, _] = d.manifest("V002")
    assert pickup["rescue"] and (pickup["lat"], pickup["lon"]) == pytest.approx(
        latlon(travel, locs["a"])
    )
    d.arrived("V002", "onboard", "pickup", 300.0, 300.0)
    d.picked_up("V002", "onboard", 1, 0, 310.0, 310.0)
    d.dropped_off("V002", "onboard", 800.0, 800.0)
    assert d.request("onboard").status == "done"
    assert d.day_kpis()["rescues"] == 1


def test_a_breakdown_hands_planned_pickups_to_vehicles_on_shift() -> None:
    d, _travel, locs = make(n_vehicles=2)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["c"], locs["b"], 0.0), 0.0)
    d.start_shift("V002", locs["west"], 1.0, seats=4, wheelchairs=1)
    out = d.out_of_service("V001", 5.0, 5.0)
    assert out["moved"] == ["r1"] and d.request("r1").vehicle == 1
    assert statuses(d, "r1")[-1] == "assigned"


def test_shift_end_is_refused_with_passengers_on_board_then_hands_work_on() -> None:
    d, _travel, locs = make()
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    d.submit(trip("r2", locs["c"], locs["b"], 0.0), 0.0)
    d.arrived("V001", "r1", "pickup", 100.0, 100.0)
    d.picked_up("V001", "r1", 1, 0, 120.0, 120.0)
    with pytest.raises(EventConflictError, match="on board"):
        d.end_shift("V001", 130.0)
    d.start_shift("V002", locs["c"], 130.0, seats=4, wheelchairs=1)
    d.arrived("V001", "r1", "dropoff", 500.0, 500.0)
    d.dropped_off("V001", "r1", 510.0, 510.0)
    if d.request("r2").vehicle == 0:
        out = d.end_shift("V001", 520.0)
        assert out["moved"] + out["delayed"] == ["r2"]
    else:
        d.end_shift("V001", 520.0)
    assert d.request("r2").vehicle == 1
    assert d.vehicles_view()[0]["mode"] == "off_shift"


def test_the_same_reports_give_the_same_plans_in_two_dispatchers() -> None:
    def day() -> tuple:
        d, travel, locs = make(n_vehicles=2)
        d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
        d.start_shift("V002", locs["west"], 0.0, seats=4, wheelchairs=1)
        for i, (o, x) in enumerate((("a", "b"), ("c", "b"), ("west", "a"))):
            d.submit(trip(f"r{i}", locs[o], locs[x], 10.0 * i), 10.0 * i)
        for t in range(30, 600, 30):
            fix(d, travel, "V001", locs["depot"], float(t))
        d.reoptimise(600.0)
        return (
            d.routes[:, : int(d.lens.max())].tolist(),
            [d.milestones(f"r{i}") for i in range(3)],
            d.pool.planned[d.pool.alive].tolist(),
        )

    assert day() == day()


def test_forward_times_match_a_hand_drive() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    d.submit(trip("r2", locs["c"], locs["b"], 0.0), 0.0)
    n = int(d.lens[0])
    route = d.routes[0, :n]
    pool = d.pool
    times = forward_times(route, n, 50.0, pool.tt, pool.serv, pool.early)
    xy = (
        [travel._x[int(pool.loc[node])] for node in route[:-1]],
        [travel._y[int(pool.loc[node])] for node in route[:-1]],
    )
    t = 50.0
    for pos in range(1, n - 1):
        leg = math.hypot(xy[0][pos] - xy[0][pos - 1], xy[1][pos] - xy[1][pos - 1]) / SPEED
        t = max(t + (pool.serv[route[pos - 1]] if pos > 1 else 0.0) + leg, 0.0)
        assert times[pos] == pytest.approx(t)
    assert np.all(np.diff(times[:-1]) >= 0)


def test_a_booking_for_later_is_not_on_its_way_until_the_vehicle_must_leave() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("later", locs["a"], locs["b"], 0.0, pickup=7200.0), 0.0)
    fix(d, travel, "V001", locs["depot"], 30.0)
    assert statuses(d, "later") == []  # two hours early: nobody is on the way yet
    assert math.isnan(d.booking_live("later")["lat"])  # nor does the rider see the vehicle
    for t in (7000.0, 7090.0):
        fix(d, travel, "V001", locs["depot"], t)
    # 800 m at 8 m/s: it must leave by 7,100 s for the 7,200 s pickup
    assert statuses(d, "later")[0] == "assigned"
    assert d.booking_live("later")["lat"] == pytest.approx(latlon(travel, locs["depot"])[0])
    with pytest.raises(RequestError, match="on its way"):
        d.cancel("later", 7090.0)


def test_a_booking_for_later_can_be_cancelled_before_the_vehicle_leaves() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("later", locs["a"], locs["b"], 0.0, pickup=7200.0), 0.0)
    fix(d, travel, "V001", locs["depot"], 30.0)
    assert d.cancel("later", 60.0)
    assert d.manifest("V001") == []


def test_a_fix_is_placed_on_the_street_toward_the_next_stop() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["b"], locs["a"], 0.0), 0.0)
    behind = travel.add_point(1000.0, 5.0)  # the nearest street point, away from the stop
    ahead = travel.add_point(1010.0, 0.0)  # 10 m on, toward the pickup at (4000, 0)
    lat, lon = travel.coords(behind)
    d.position("V001", behind, lat, lon, 10.0, 10.0, candidates=np.array([behind, ahead]))
    assert d.vehicles[0].loc == ahead
    # an idle vehicle, or no candidates: the nearest street
    d.position("V001", behind, lat, lon, 20.0, 20.0)
    assert d.vehicles[0].loc == behind


def test_a_vehicle_early_at_the_pickup_plans_boarding_when_the_window_opens() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0, pickup=600.0), 0.0)
    d.arrived("V001", "r1", "pickup", 100.0, 100.0)
    fix(d, travel, "V001", locs["a"], 130.0)
    [pickup, dropoff] = d.manifest("V001")
    # boarding when the window opens (600 s), 30 s, then 3,200 m at 8 m/s
    assert pickup["eta"] == pytest.approx(600.0)
    assert dropoff["eta"] == pytest.approx(600.0 + 30.0 + 3200.0 / SPEED)


def test_time_passes_for_a_vehicle_that_does_not_report() -> None:
    d, travel, locs = make()
    d.start_shift("V001", locs["west"], 0.0, seats=4, wheelchairs=1)
    got = d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    assert got.extra["vehicle_id"] == "V001"
    d.start_shift("V002", locs["c"], 10.0, seats=4, wheelchairs=1)
    # V001 stays silent; V002's reports make the dispatcher look at it again
    t = 30.0
    while d.request("r1").vehicle == 0 and t < 2000.0:
        fix(d, travel, "V002", locs["c"], t)
        t += 30.0
    assert d.request("r1").vehicle == 1, "moved once V001 could no longer make it"
    assert t - 30.0 <= got.pickup_latest  # before the promise broke, not after


def test_nothing_is_planned_before_the_stop_a_vehicle_waits_at() -> None:
    d, travel, locs = make(n_vehicles=1)
    d.start_shift("V001", locs["depot"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0, pickup=1500.0), 0.0)
    d.arrived("V001", "r1", "pickup", 100.0, 100.0)
    # a short trip that would fit in the 23 minutes the vehicle waits
    got = d.submit(trip("r2", locs["c"], locs["depot"], 110.0), 110.0)
    stops = d.manifest("V001")
    assert (stops[0]["booking"], stops[0]["status"]) == ("r1", "arrived")
    if got.accepted:
        assert got.pickup_eta >= 1500.0  # only after boarding r1
    for t in (200.0, 400.0):
        fix(d, travel, "V001", locs["a"], t)
        assert d.request("r1").vehicle == 0 and d.manifest("V001")[0]["booking"] == "r1"


def test_a_refused_report_changes_no_plan_not_even_a_silent_vehicles() -> None:
    d, _, locs = make()
    d.start_shift("V001", locs["west"], 0.0, seats=4, wheelchairs=1)
    d.submit(trip("r1", locs["a"], locs["b"], 0.0), 0.0)
    d.start_shift("V002", locs["c"], 10.0, seats=4, wheelchairs=1)
    d.submit(trip("r2", locs["c"], locs["b"], 10.0), 10.0)
    owner = "V002" if d.request("r2").vehicle == 1 else "V001"
    before = (d.routes.copy(), d.lens.copy(), d.milestones("r1"))
    # long after r1's window: a silent V001 would be re-planned by an applied report
    with pytest.raises(EventConflictError, match="picked_up before arrived"):
        d.picked_up(owner, "r2", 1, 0, 1500.0, 1500.0)
    assert np.array_equal(d.routes, before[0]) and np.array_equal(d.lens, before[1])
    assert d.milestones("r1") == before[2]
