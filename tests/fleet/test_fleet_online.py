"""Online dispatcher: promises, committed stops, en-route insertion, wheelchairs, re-optimisation.

Scenarios run on Euclidean travel (fast, exact) and are checked by the
independent audit of :mod:`fleet.simulation.audit`, which re-drives every
vehicle from its depot and tests every promise without the dispatcher's code.
"""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pytest

from fleet.online.dispatcher import DispatchConfig, Dispatcher, FleetSpec
from fleet.online.promises import PromiseRules, Trip
from fleet.online.protocol import (
    NotCancellableError,
    QuoteExpiredError,
    ShuttleQuote,
    ShuttleRequest,
)
from fleet.online.provider import ShuttleProvider
from fleet.online.service import OnlineShuttle
from fleet.online.travel import EuclideanTravel
from fleet.simulation.audit import audit
from fleet.simulation.events import TripStream
from fleet.simulation.simulator import SimulationConfig, collect_result, run_simulation
from routing.errors import RequestError
from routing.planner.providers import Direction, LegProvider, ProviderQuery


def plane(n_points: int = 300, size: float = 6000.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    tr = EuclideanTravel(speed_mps=8.0)
    pts = rng.uniform(0, size, (n_points, 2))
    locs = [tr.add_point(x, y) for x, y in pts]
    depot = tr.add_point(size / 2, size / 2)
    return tr, locs, depot


def random_trips(locs, n: int, seed: int, *, every_s: float = 40.0, chair_every: int = 9):
    rng = np.random.default_rng(seed)
    t = 6 * 3600.0
    out = []
    for i in range(n):
        t += float(rng.exponential(every_s))
        o, d = rng.choice(len(locs), 2, replace=False)
        lead = float(rng.choice([0.0, 0.0, 0.0, 1200.0]))
        pax = int(rng.choice([1, 1, 1, 2, 3]))
        chair = int(i % chair_every == 0)
        out.append(
            Trip(
                id=f"R{i:04d}",
                origin=(0.0, 0.0),
                destination=(0.0, 0.0),
                request_time=t,
                earliest_pickup=t + lead,
                passengers=max(pax - chair, 0),
                wheelchairs=chair,
                origin_loc=locs[o],
                destination_loc=locs[d],
            )
        )
    return out


def sim_config(**kw) -> SimulationConfig:
    base: dict = {
        "n_vehicles": 4,
        "capacity": 4,
        "wheelchair_places": 1,
        "reoptimise_every_s": 120.0,
        "rebalance_every_s": 300.0,
        "seed": 1,
    }
    base.update(kw)
    return SimulationConfig(**base)


def run(trips, tr, depot, **kw):
    cfg = sim_config(depots=(tr.coords(depot),), **kw)
    stream = TripStream(trips, 0.0, "UTC", [""] * len(trips))
    return run_simulation(stream, config=cfg, travel=tr)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_promises_never_broken_under_load(seed):
    tr, locs, depot = plane(seed=seed)
    trips = random_trips(locs, 160, seed)
    res = run(trips, tr, depot)
    rep = audit(res, tr)
    assert rep.ok, rep.violations[:5]
    k = res.kpis
    assert 0 < k["served"] < 160 and k["rejected"] == 160 - k["served"]
    assert k["shared_ride_share"] > 0  # pooling happened
    assert res.stats["reoptimisations"] > 0
    # every accepted request was served; rejected ones carry a reason
    assert set(res.requests["status"]) <= {"done", "rejected"}
    assert (res.requests.loc[res.requests.status == "rejected", "reason"] != "").all()


def test_idle_vehicles_move_toward_demand():
    tr = EuclideanTravel(speed_mps=8.0)
    depot = tr.add_point(0, 0)
    rng = np.random.default_rng(8)
    corner = [tr.add_point(x, y) for x, y in rng.uniform(5000, 6000, (30, 2))]
    trips = [
        Trip(id=f"C{i}", origin=(0, 0), destination=(0, 0), request_time=600.0 * i,
             earliest_pickup=600.0 * i, origin_loc=corner[i % 30],
             destination_loc=corner[(i + 7) % 30])
        for i in range(1, 25)
    ]  # fmt: skip
    res = run(trips, tr, depot, n_vehicles=3, reoptimise_every_s=0.0)
    assert audit(res, tr).ok
    assert res.stats["repositionings"] > 0 and res.kpis["repositioning_km"] > 0
    late = res.requests.iloc[12:]
    # once the fleet waits near the demand, pickups are quick
    assert (late.pickup_time - late.earliest_pickup).mean() < 120.0


def dispatcher(tr, depot, n=2, **fleet_kw) -> Dispatcher:
    spec: dict = {"n_vehicles": n, "seats": 4, "wheelchairs": 1, "depots": (depot,)}
    spec.update(fleet_kw)
    return Dispatcher(tr, FleetSpec(**spec), DispatchConfig(), seed=0)


def test_committed_stops_and_passengers_on_board_stay_committed():
    tr, locs, depot = plane(seed=3)
    d = dispatcher(tr, depot, n=3)
    trips = random_trips(locs, 120, 3, every_s=30.0)
    for i, trip in enumerate(trips):
        d.advance_to(trip.request_time)
        d._refresh(trip.request_time)
        before = [d.vehicle_snapshot(k) for k in range(3)]
        d.submit(trip, trip.request_time)
        if i % 7 == 0:
            st = d.reoptimise(trip.request_time)
            assert st["cost_after"] <= st["cost_before"] + 1e-6
        after = [d.vehicle_snapshot(k) for k in range(3)]
        for b, a in zip(before, after, strict=True):
            # where the vehicle plans from and who is on board do not change by a decision
            assert (a["loc"], a["onboard"]) == (b["loc"], b["onboard"])
            assert a["t_free"] == pytest.approx(b["t_free"])
    d.finish()
    # each vehicle serves its stops in the order it committed to them
    for k in range(3):
        committed = [(r, kind) for v, _, r, kind in d.commits if v == k]
        served = [(s.request, 1 if s.kind == "pickup" else 2) for s in d.stops if s.vehicle == k]
        assert committed == served
    cfg = sim_config(n_vehicles=3)
    res = collect_result(d, TripStream(trips, 0.0, "UTC", [""] * len(trips)), cfg)
    res.depots = [depot] * 3
    rep = audit(res, tr)
    assert rep.ok, rep.violations[:5]


def test_route_plan_is_what_reoptimisation_reads_and_hands_back():
    """The dispatcher's public route plan: a copy; adopting it unchanged changes nothing."""
    tr, locs, depot = plane(seed=3)
    d = dispatcher(tr, depot, n=3)
    for trip in random_trips(locs, 40, 3, every_s=30.0):
        d.submit(trip, trip.request_time)
    d.advance_to(600.0)
    plan = d.route_plan()
    assert plan.size == 3 and plan.vehicles.tolist() == [0, 1, 2]
    for a in range(plan.size):
        k = int(plan.vehicles[a])
        # committed: the start and the passengers on board; open: the stops after them
        assert int(plan.committed[a]) == 1 + d.vehicles[k].n_onboard
        start, end = int(plan.committed[a]), int(d.lens[k]) - 1
        assert plan.open_nodes(a).tolist() == d.routes[k, start:end].tolist()
    plan.routes[:] = -1  # a copy: the dispatcher's routes are untouched
    assert d.route_plan().routes.min() >= 0
    fresh = d.route_plan()
    assert d.adopt(fresh) == 0 and not fresh.changed_rows(d.route_plan())
    # A plan that moves a committed stop is refused.
    a = int(np.argmax(fresh.lens))
    moved = fresh.routes.copy()
    moved[a, 0] = moved[a, 1]
    with pytest.raises(ValueError, match="committed"):
        d.adopt(fresh.with_routes(moved, fresh.lens))


def test_insertion_while_driving_with_a_passenger_on_board():
    tr = EuclideanTravel(speed_mps=10.0)
    depot = tr.add_point(0, 0)
    a1 = tr.add_point(6000, 0)
    z0, z1 = tr.add_point(1000, 0), tr.add_point(1500, 0)
    b0, b1 = tr.add_point(2000, 100), tr.add_point(5000, 100)
    d = dispatcher(tr, depot, n=1)

    def trip(name, o, dest, t):
        return Trip(id=name, origin=(0, 0), destination=(0, 0), request_time=t,
                    earliest_pickup=t, origin_loc=o, destination_loc=dest)  # fmt: skip

    pa = d.submit(trip("A", depot, a1, 0.0), 0.0)
    pz = d.submit(trip("Z", z0, z1, 0.0), 0.0)
    assert pa.accepted and pz.accepted
    d.advance_to(60.0)  # A boarded; the vehicle drives to Z's pickup (committed)
    d._refresh(60.0)
    before = d.vehicle_snapshot(0)
    assert before["onboard"] == [0, 1] and d.records[0].status == "onboard"
    assert before["loc"] == z0 and before["t_free"] == pytest.approx(160.0)
    pb = d.submit(trip("B", b0, b1, 60.0), 60.0)
    assert pb.accepted and pb.vehicle == 0
    after = d.vehicle_snapshot(0)
    assert (after["loc"], after["onboard"], after["t_free"]) == (
        before["loc"], before["onboard"], before["t_free"],
    )  # fmt: skip
    d.finish()
    a, z, b = d.records
    assert b.pickup_time < a.dropoff_time  # B boarded while A was on board
    assert pb.pickup_earliest <= b.pickup_time <= pb.pickup_latest + 1e-6
    for rec, p in ((a, pa), (z, pz), (b, pb)):
        assert rec.dropoff_time <= p.dropoff_latest + 1e-6
        assert rec.dropoff_time - rec.pickup_depart <= p.max_ride_s + 1e-6


def test_wheelchair_requests_only_on_vehicles_with_a_place():
    tr, locs, depot = plane(seed=4)
    trips = random_trips(locs, 80, 4, chair_every=3)
    res = run(trips, tr, depot, n_vehicles=3, wheelchair_places=(0, 1, 0))
    assert audit(res, tr).ok
    done = res.requests[res.requests.status == "done"]
    assert (done.loc[done.wheelchairs > 0, "vehicle"] == 1).all()
    assert (done.wheelchairs > 0).sum() > 0
    none = run(trips[:10], tr, depot, n_vehicles=2, wheelchair_places=0)
    rej = none.requests[none.requests.wheelchairs > 0]
    assert (rej.status == "rejected").all() and rej.reason.str.contains("wheelchair").all()


def test_reoptimisation_never_worsens_and_keeps_every_promise():
    tr, locs, depot = plane(seed=5)
    d = Dispatcher(
        tr,
        FleetSpec(n_vehicles=4, seats=4, wheelchairs=1, depots=(depot,)),
        DispatchConfig(wait_weight=3.0, detour_weight=0.0, reoptimise_iterations=30),
        seed=2,
    )
    trips = random_trips(locs, 100, 5, every_s=20.0)
    gains = []
    for i, trip in enumerate(trips):
        d.submit(trip, trip.request_time)
        if i % 10 == 9:
            promised = {
                r.index: (r.promise.pickup_latest, r.promise.dropoff_latest)
                for r in d.records
                if r.status == "assigned"
            }
            windows = {
                idx: (
                    d.pool.late[d.records[idx].pickup_stop],
                    d.pool.late[d.records[idx].dropoff_stop],
                )
                for idx in promised
            }
            st = d.reoptimise(trip.request_time)
            assert st["cost_after"] <= st["cost_before"] + 1e-6
            gains.append(st["cost_before"] - st["cost_after"])
            for idx, (lp, ld) in windows.items():  # the promise windows were not relaxed
                rec = d.records[idx]
                if rec.status == "assigned":
                    assert d.pool.late[rec.pickup_stop] <= lp + 1e-9
                    assert d.pool.late[rec.dropoff_stop] <= ld + 1e-9
    assert max(gains) > 0
    d.finish()
    res = collect_result(d, TripStream(trips, 0.0, "UTC", [""] * len(trips)), sim_config())
    res.depots = [depot] * 4
    rep = audit(res, tr)
    assert rep.ok, rep.violations[:5]


def test_rejects_with_reasons():
    tr, locs, depot = plane(seed=6)
    d = dispatcher(tr, depot, n=1, shift=(0.0, 3600.0))
    far = tr.add_point(1e6, 1e6)
    p = d.submit(Trip(id="x", origin=(0, 0), destination=(0, 0), request_time=0.0,
                      earliest_pickup=0.0, origin_loc=locs[0],
                      destination_loc=far), 0.0)  # fmt: skip
    assert not p.accepted and "promise" in p.reason
    p = d.submit(Trip(id="y", origin=(0, 0), destination=(0, 0), request_time=0.0,
                      earliest_pickup=0.0, latest_arrival=10.0, origin_loc=locs[0],
                      destination_loc=locs[1]), 0.0)  # fmt: skip
    assert not p.accepted and "latest arrival" in p.reason
    with pytest.raises(RequestError):
        PromiseRules(boarding_s=0.0)


def test_quote_changes_nothing_and_booking_keeps_the_quote():
    tr, locs, depot = plane(seed=7)
    d = dispatcher(tr, depot, n=3)
    for trip in random_trips(locs, 10, 7):
        d.submit(trip, trip.request_time)
    now = d.now
    trip = Trip(id="Q", origin=(0, 0), destination=(0, 0), request_time=now,
                earliest_pickup=now + 1500, origin_loc=locs[5],
                destination_loc=locs[9])  # fmt: skip
    state = (d.routes.copy(), d.lens.copy(), len(d.records))
    q = d.quote(trip, now)
    assert q.accepted
    assert np.array_equal(d.routes, state[0]) and np.array_equal(d.lens, state[1])
    assert len(d.records) == state[2]
    b = d.book(trip, now, q)
    assert b.accepted
    for f in ("pickup_earliest", "pickup_latest", "dropoff_latest", "pickup_eta", "dropoff_eta",
              "vehicle", "price_eur"):  # fmt: skip
        assert getattr(b, f) == pytest.approx(getattr(q, f)), f


def fake_query(point, when, direction, stops):
    lat = np.array([s[0] for s in stops])
    lon = np.array([s[1] for s in stops])
    timetable = SimpleNamespace(
        stop_lat=lat, stop_lon=lon, stop_names=np.array([f"Stop {i}" for i in range(len(stops))]),
        stop_ids=np.array([f"s{i}" for i in range(len(stops))]),
    )  # fmt: skip
    ctx = SimpleNamespace(transit=SimpleNamespace(timetable=timetable))
    return ProviderQuery(point, when, direction, None, ctx, None)  # type: ignore[arg-type]


def test_shuttle_provider_quotes_match_bookings():
    tr = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
    home = (49.400, 8.680)
    stops = [(49.410, 8.690), (49.405, 8.700), (49.3999, 8.6801), (49.5, 8.9)]
    depot = tr.locate(49.402, 8.682)
    d = Dispatcher(tr, FleetSpec(n_vehicles=2, depots=(depot,)), seed=0)
    origin = dt.datetime(2022, 9, 14, tzinfo=dt.UTC).timestamp()
    prov = ShuttleProvider(d, origin_unix=origin, max_stops=3)
    assert isinstance(prov, LegProvider)
    when = dt.datetime(2022, 9, 14, 8, 0, tzinfo=dt.UTC)
    ans = prov.stop_legs(fake_query(home, when, Direction.ACCESS, stops))
    # too near (stop 2) and too far (stop 3) are not offered
    assert sorted(leg.stop for leg in ans.legs) == [0, 1]
    leg = min(ans.legs, key=lambda x: x.duration_s)
    built = leg.build(when)
    assert built and built[0].mode == "ODM"
    assert built[0].end == when + dt.timedelta(seconds=leg.duration_s)
    offer = leg.booking["offerId"]
    quoted = prov._offers[offer][1]
    got = prov.book(offer, booking_id="B1")
    for f in ("pickup_earliest", "pickup_latest", "dropoff_latest", "pickup_eta", "dropoff_eta"):
        assert getattr(got, f) == pytest.approx(getattr(quoted, f)), f
    assert d.request("B1").status == "assigned"
    with pytest.raises(RequestError):
        prov.book(offer)
    egress = prov.stop_legs(fake_query(home, when, Direction.EGRESS, stops))
    assert egress.legs and all(x.duration_s >= d.rules.max_wait_s for x in egress.legs)
    later = egress.legs[0].build(when + dt.timedelta(minutes=20))
    assert later is not None and later[0].extra["booking"]["provider"] == "shuttle"


def test_online_shuttle_implements_the_protocol():
    """Quote, commit, cancel and the vehicle view in UNIX seconds, at the pinned instant."""
    tr = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
    depot = tr.locate(49.402, 8.682)

    def make() -> Dispatcher:
        return Dispatcher(tr, FleetSpec(n_vehicles=1, depots=(depot,), shift=(0.0, 1e9)), seed=0)

    svc = OnlineShuttle(make, origin_unix=999_000.0)
    svc.pin_clock(1_000_000.0)
    d = svc.dispatcher
    req = ShuttleRequest((49.40, 8.68), (49.41, 8.70), earliest_pickup=1_000_300.0)
    q = svc.quote(req)
    assert q.accepted and q.pickup_earliest == pytest.approx(1_000_300.0)
    assert q.pickup_latest <= q.pickup_earliest + 900 + 1e-6
    svc.commit("bk-1", req, q)
    view = svc.vehicles()
    assert view[0]["stops"] and view[0]["stops"][0]["request"] == "bk-1"
    assert view[0]["stops"][0]["eta"] >= 1_000_300.0
    svc.cancel("bk-1")
    assert d.request("bk-1").status == "cancelled" and not svc.vehicles()[0]["stops"]
    svc.commit("bk-2", req, q)  # the same promise can be kept again
    assert d.request("bk-2").status == "assigned"
    bad = ShuttleQuote(**{**q.to_dict(), "extra": {}})
    with pytest.raises(QuoteExpiredError):
        svc.commit("bk-3", req, bad)
    assert math.isfinite(view[0]["free_at"])
    # Served by now: the pickup is under way, so the booking can no longer be cancelled.
    svc.pin_clock(1_000_300.0 - 10.0)  # the vehicle has set off for the pickup
    assert [m.status for m in svc.progress(["bk-2"])["bk-2"]] == ["assigned"]
    with pytest.raises(NotCancellableError, match="can no longer be cancelled"):
        svc.cancel("bk-2")
    # reset: empty plans on a fresh dispatcher at the new origin.
    svc.reset(2_000_000.0)
    assert svc.dispatcher is not d and svc.origin_unix == 2_000_000.0
    assert not svc.vehicles()[0]["stops"]


def test_shuttle_provider_forgets_offers_it_can_no_longer_keep(monkeypatch):
    import fleet.online.provider as provider_module

    tr = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
    depot = tr.locate(49.402, 8.682)
    d = Dispatcher(tr, FleetSpec(n_vehicles=2, depots=(depot,)), seed=0)
    prov = ShuttleProvider(d, origin_unix=0.0)
    monkeypatch.setattr(provider_module, "MAX_OPEN_OFFERS", 5)
    for i in range(12):
        prov._quote((49.400, 8.680), (49.410, 8.690 + i * 1e-3), d.now + 600)
    assert len(prov._offers) <= 5
    # Once every pickup window has passed, the next quote drops them all.
    d.advance_to(d.now + 6 * 3600)
    prov._quote((49.400, 8.680), (49.410, 8.690), d.now + 600)
    assert len(prov._offers) == 1


def test_try_book_plans_like_quote_then_book_and_refusals_leave_no_trace():
    """One-step booking (the API's) vs the obvious quote-then-book on the same requests."""
    tr = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
    depot = tr.locate(49.402, 8.682)
    fleet = FleetSpec(n_vehicles=2, seats=3, depots=(depot,))
    one_step = Dispatcher(tr, fleet, seed=0)
    two_step = Dispatcher(tr, fleet, seed=0)
    rng = np.random.default_rng(3)
    now, refused = 0.0, 0
    for i in range(60):
        now += float(rng.uniform(10, 90))
        trip = Trip(
            id=f"T{i}",
            origin=(49.40 + rng.uniform(-0.02, 0.02), 8.68 + rng.uniform(-0.02, 0.02)),
            destination=(49.41 + rng.uniform(-0.02, 0.02), 8.70 + rng.uniform(-0.02, 0.02)),
            request_time=now,
            earliest_pickup=now + float(rng.uniform(300, 1800)),
            passengers=int(rng.integers(1, 4)),
        )
        records_before = len(one_step.records)
        got = one_step.try_book(trip, now)
        quoted = two_step.quote(trip, now)
        assert got.accepted == quoted.accepted
        if quoted.accepted:
            assert two_step.book(trip, now, quoted).accepted
            assert got.pickup_latest == pytest.approx(quoted.pickup_latest)
            assert got.dropoff_latest == pytest.approx(quoted.dropoff_latest)
            assert one_step.request(trip.id).status == "assigned"
        else:
            refused += 1
            assert len(one_step.records) == records_before and one_step.request(trip.id) is None
        assert one_step.vehicles_view() == two_step.vehicles_view()
    assert refused > 0
    one_step.finish()
    two_step.finish()
    assert [(r.trip.id, r.status, r.pickup_time) for r in one_step.records] == [
        (r.trip.id, r.status, r.pickup_time) for r in two_step.records if r.status != "rejected"
    ]
