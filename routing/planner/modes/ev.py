"""Electric cars: direct with charging stops when the battery cannot make it, and park & charge.

Energy model: consumption per km times the driven distance (of the fastest
route). Charging model: constant power up to 80 % of the capacity and half of
it above (the usual taper), where the power is the connector's capped by the
car's AC or DC limit; a stop charges what the rest of the trip needs (the energy
straight on to the destination plus the reserve), at most ``target_percent``,
unless the next hop needs more (at most 100 %). The battery never goes below
``reserve_percent`` in a plan.

Charging stops come from a label-setting search over the chargers usable by
the car right now (connector standard matches; live status AVAILABLE where the
operator publishes live data; status unknown -- register data, or a live feed
saying UNKNOWN -- is offered too, never out of order, removed or busy ones).
A point of unknown status costs ``PlannerSettings.unknown_availability_s`` extra
there (ranking it below known-available ones) and its legs say so. Labels are (time,
battery on arrival), a label is dropped when another at the same charger is
no later and has no less energy. The car matrix between chargers is static and
computed once per context; origin->charger and charger->destination times come
from one car Dijkstra tree each way.

After the legs are drawn, the battery is simulated again along the drawn
distances; an itinerary that would dip below zero is dropped (never shown).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import math
from typing import Any

import numpy as np

from routing.errors import SnapError
from routing.planner.context import ChargePoint, PlanContext
from routing.planner.legs import (
    availability_flags,
    cost,
    drawn_leg,
    point_leg,
    road_geometry,
    road_leg,
    seconds,
)
from routing.planner.modes import Outcome
from routing.planner.options import Answers, Candidate, LegsBuilder
from routing.planner.request import EvSpec, PlanRequest
from routing.planner.searches import Searches
from routing.stations.model import Availability, Charger
from routing.transit.itinerary import Leg, Place

log = logging.getLogger(__name__)

DC_STANDARDS = frozenset(
    {"IEC_62196_T2_COMBO", "IEC_62196_T1_COMBO", "CHADEMO", "GBT_DC", "CHAOJI"}
)
TAPER_FROM = 0.8
WALK_RADIUS_MPS = 1.4


def charge_seconds(from_kwh: float, to_kwh: float, power_kw: float, capacity_kwh: float) -> float:
    """Seconds to charge from ``from_kwh`` to ``to_kwh`` (full power below 80 %, half above)."""
    if to_kwh <= from_kwh:
        return 0.0
    knee = TAPER_FROM * capacity_kwh
    fast = max(0.0, min(to_kwh, knee) - from_kwh)
    slow = max(0.0, to_kwh - max(from_kwh, knee))
    return 3600.0 * (fast / power_kw + slow / (power_kw / 2.0))


def charge_point(charger: Charger, spec: EvSpec) -> ChargePoint | None:
    """The best connector of ``charger`` the car can use now, or None.

    A point known (live) to be available beats one of unknown status; among
    equals the most powerful wins.
    """
    best: ChargePoint | None = None
    wanted = frozenset(spec.connectors)
    for evse in charger.evses:
        if not evse.matches(wanted, 0.0):
            continue
        avail = charger.evse_availability(evse)
        if avail is Availability.NONE:
            continue
        live = avail is Availability.AVAILABLE
        for conn in evse.connectors:
            if conn.standard not in spec.connectors or not conn.power_kw:
                continue
            dc = conn.is_dc or (conn.power_type is None and conn.standard in DC_STANDARDS)
            power = min(float(conn.power_kw), spec.max_dc_kw if dc else spec.max_ac_kw)
            if best is None or (live, power) > (best.live, best.power_kw):
                best = ChargePoint(charger, evse.uid, conn.standard, power, live)
    return best


def unknown_wait_s(p: ChargePoint, ctx: PlanContext) -> float:
    """Extra seconds planned at a charging point of unknown status."""
    return 0.0 if p.live else float(ctx.settings.unknown_availability_s)


def charger_info(p: ChargePoint) -> dict[str, Any]:
    """What the plan relies on at a charger (``availability``: available or unknown)."""
    c = p.charger
    info: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "operator": c.operator,
        "evseUid": p.evse_uid,
        "connector": p.standard,
        "powerKw": round(p.power_kw, 1),
        "realtime": c.realtime,
        "availability": (Availability.AVAILABLE if p.live else Availability.UNKNOWN).value,
    }
    if not p.live:
        info["availabilityNote"] = "availability unknown: no live status (not reported broken)"
    return info


def _energy(metres: float, spec: EvSpec) -> float:
    return metres / 1000.0 * spec.consumption_kwh_per_km


def _car_leg(
    s: Searches, a: Place, b: Place, start: dt.datetime, secs: float, extra: dict[str, Any]
) -> Leg:
    return drawn_leg("CAR", a, b, start, secs, road_geometry(s, "car", a, b), extra)


def _simulate(
    legs: list[Leg], spec: EvSpec, plan_levels: list[float], ctx: PlanContext
) -> list[Leg] | None:
    """Annotate legs with battery levels along the drawn distances; None if it would go below 0.

    ``plan_levels`` are the planned departure levels of the charging legs in order.
    """
    kwh = spec.initial_kwh
    km = 0.0
    charged = 0.0
    levels = iter(plan_levels)
    for leg in legs:
        if leg.mode == "CAR":
            use = _energy(leg.distance_m, spec)
            leg.extra["ev"] = {
                "batteryStartKwh": round(float(kwh), 3),
                "energyKwh": round(float(use), 3),
                "batteryEndKwh": round(float(kwh - use), 3),
            }
            kwh -= use
            km += leg.distance_m / 1000.0
            if kwh < 0:
                log.warning(
                    "dropped an EV itinerary: battery would reach %.2f kWh on the drawn route", kwh
                )
                return None
        elif leg.mode == "CHARGING":
            target = max(float(next(levels)), kwh)
            add = float(min(target, spec.capacity_kwh) - kwh)
            leg.extra.update(
                {
                    "batteryStartKwh": round(kwh, 3),
                    "energyKwh": round(add, 3),
                    "batteryEndKwh": round(kwh + add, 3),
                    "cost": cost(add * ctx.costs.public_charging_per_kwh_eur),
                }
            )
            kwh += add
            charged += add
    first_car = next(leg for leg in legs if leg.mode == "CAR")
    first_car.extra["cost"] = cost(km * ctx.costs.ev_per_km_eur + ctx.costs.car_parking_eur)
    first_car.extra["costIncludesParkingEur"] = ctx.costs.car_parking_eur
    return legs


def ev(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Drive the EV; with charging stops when the battery cannot make it directly."""
    spec = req.ev
    assert spec is not None  # checked by PlanRequest
    try:
        a, b = s.end("car", "origin"), s.end("car", "destination")
    except SnapError as exc:
        return Outcome(reason=str(exc))
    secs = s.between("car", a, b)
    if not math.isfinite(secs):
        return Outcome(reason="no driving route between origin and destination")
    here, there = Place("Origin", *req.origin), Place("Destination", *req.destination)
    geometry = road_geometry(s, "car", here, there)
    need = _energy(geometry.metres, spec)
    start = req.depart_at
    if spec.initial_kwh - need >= spec.reserve_kwh:
        price = geometry.metres / 1000 * ctx.costs.ev_per_km_eur + ctx.costs.car_parking_eur

        def build_direct() -> list[Leg] | None:
            leg = drawn_leg("CAR", here, there, start, secs, geometry)
            return _simulate([leg], spec, [], ctx)

        return Outcome(
            [
                Candidate(
                    "ev", start.timestamp(), start.timestamp() + secs, 0, 0.0, price, build_direct
                )
            ]
        )
    return _with_charging(req, ctx, s, spec, need)


def _with_charging(
    req: PlanRequest, ctx: PlanContext, s: Searches, spec: EvSpec, need: float
) -> Outcome:
    no_go = (
        f"the battery ({spec.initial_kwh:.1f} kWh) cannot cover the {need:.1f} kWh of the direct "
        f"route with {spec.reserve_kwh:.1f} kWh reserve"
    )
    if ctx.chargers is None:
        return Outcome(reason=f"{no_go}, and no chargers are loaded")
    points = []
    for charger in ctx.chargers.snapshot():
        p = charge_point(charger, spec)
        if p is not None and ctx.charger_node(charger) >= 0:
            points.append(p)
    if not points:
        return Outcome(
            reason=f"{no_go}, and no charger with a free "
            f"{'/'.join(spec.connectors)} connector is usable"
        )
    nodes = np.array([ctx.charger_node(p.charger) for p in points], np.int64)
    mt, mm = ctx.charger_matrix(
        [p.charger for p in points], cache=not s.naive, weights=s.weights("car"), at=s.at
    )
    ot, om = s.end_to_nodes("car", "origin", nodes)
    dt_, dm = s.end_to_nodes("car", "destination", nodes)
    st = ctx.settings
    n = len(points)
    dest = n
    tick = itertools.count()
    # label: (time, tick, node, arrival kWh, stops, parent label or None, departure kWh at parent)
    heap: list[tuple[Any, ...]] = []
    labels: dict[int, list[tuple[float, float]]] = {}

    def push(
        t: float,
        node: int,
        kwh: float,
        stops: int,
        parent: tuple[Any, ...] | None,
        dep_parent: float,
    ) -> None:
        for t0, k0 in labels.get(node, ()):
            if t0 <= t and k0 >= kwh - 1e-9:
                return
        labels.setdefault(node, []).append((t, kwh))
        heapq.heappush(heap, (t, next(tick), node, kwh, stops, parent, dep_parent))

    for k in range(n):
        e = _energy(om[k], spec)
        if math.isfinite(ot[k]) and spec.initial_kwh - e >= spec.reserve_kwh:
            push(ot[k], k, spec.initial_kwh - e, 1, None, spec.initial_kwh)
    found = None
    while heap:
        label = heapq.heappop(heap)
        t, _, node, kwh, stops, _, _ = label
        if node == dest:
            found = label
            break
        p = points[node]
        nexts = [(dest, dt_[node], dm[node])] + (
            [(j, mt[node, j], mm[node, j]) for j in range(n) if j != node]
            if stops < st.max_charging_stops
            else []
        )
        for j, secs, metres in nexts:
            if not math.isfinite(secs):
                continue
            e = _energy(metres, spec)
            needed = e + spec.reserve_kwh
            if needed > spec.capacity_kwh:
                continue
            # Charge what the rest of the trip needs (straight on from here), at most to the
            # target level, unless the next hop itself needs more.
            finish = (
                _energy(dm[node], spec) + spec.reserve_kwh if math.isfinite(dm[node]) else math.inf
            )
            dep = max(kwh, min(spec.capacity_kwh, max(needed, min(spec.target_kwh, finish))))
            if dep - kwh < 0.01:
                continue  # a stop without charging is only a detour
            wait = (
                st.park_car_s
                + unknown_wait_s(p, ctx)
                + charge_seconds(kwh, dep, p.power_kw, spec.capacity_kwh)
            )
            push(t + wait + secs, j, dep - e, stops + (j != dest), label, dep)
    if found is None:
        return Outcome(
            reason=f"{no_go}, and no sequence of at most {st.max_charging_stops} charging "
            "stops reaches the destination"
        )
    chain = []
    lab = found
    while lab is not None:
        chain.append(lab)
        lab = lab[5]
    chain.reverse()  # charger labels then the destination label
    stops_chain = [
        (points[c[2]], c[3], found_dep)
        for c, found_dep in zip(chain[:-1], [x[6] for x in chain[1:]], strict=True)
    ]
    start = req.depart_at
    arrival = start.timestamp() + found[0]
    charged = sum(dep - arr for _, arr, dep in stops_chain)
    total_m = float(om[chain[0][2]]) + float(dm[chain[-2][2]])
    for x, y in itertools.pairwise(chain[:-1]):
        total_m += float(mm[x[2], y[2]])
    price = (
        total_m / 1000 * ctx.costs.ev_per_km_eur
        + charged * ctx.costs.public_charging_per_kwh_eur
        + ctx.costs.car_parking_eur
    )
    times = [c[0] for c in chain]

    def build():
        legs: list[Leg] = []
        here = Place("Origin", *req.origin)
        t_prev = 0.0
        for i, (p, arr_kwh, dep_kwh) in enumerate(stops_chain):
            where = Place(p.charger.name, p.charger.lat, p.charger.lon)
            info = charger_info(p)
            legs.append(
                _car_leg(
                    s,
                    here,
                    where,
                    start + seconds(t_prev),
                    times[i] - t_prev,
                    {"toCharger": info, **availability_flags(info)},
                )
            )
            wait = (
                st.park_car_s
                + unknown_wait_s(p, ctx)
                + charge_seconds(arr_kwh, dep_kwh, p.power_kw, spec.capacity_kwh)
            )
            legs.append(
                point_leg(
                    "CHARGING",
                    where,
                    legs[-1].end,
                    wait,
                    {"charger": info, **availability_flags(info)},
                )
            )
            here = where
            t_prev = times[i] + wait
        legs.append(
            _car_leg(
                s,
                here,
                Place("Destination", *req.destination),
                start + seconds(t_prev),
                times[-1] - t_prev,
                {},
            )
        )
        return _simulate(legs, spec, [dep for _, _, dep in stops_chain], ctx)

    return Outcome(
        [
            Candidate(
                "ev", start.timestamp(), arrival, 0, 0.0, price, build, 2 * len(stops_chain) + 1
            )
        ]
    )


def ev_park_charge(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Drive to a usable charger near the destination, leave the car charging, walk the rest."""
    spec = req.ev
    assert spec is not None
    if ctx.chargers is None:
        return Outcome(reason="no chargers loaded")
    radius = req.max_walk_s * WALK_RADIUS_MPS
    near = ctx.chargers.nearby(*req.destination, radius, standards=spec.connectors)
    points = [p for p in (charge_point(n.item, spec) for n in near) if p is not None]
    if not points:
        return Outcome(
            reason=f"no charger with a usable {'/'.join(spec.connectors)} connector within "
            f"{radius / 1000:.1f} km of the destination"
        )
    try:
        s.end("car", "origin")
    except SnapError as exc:
        return Outcome(reason=str(exc))
    usable = []
    for p in points:
        node = ctx.charger_node(p.charger)
        wsnap = s.place("walk", p.charger.id, p.charger.lat, p.charger.lon)
        if node >= 0 and wsnap is not None:
            usable.append((p, node, wsnap))
    drives, metres_to = s.end_to_nodes("car", "origin", np.array([u[1] for u in usable], np.int64))
    options = []
    too_far = 0
    for (p, _, wsnap), drive, metres in zip(
        usable, drives.tolist(), metres_to.tolist(), strict=True
    ):
        walk, _ = s.to_destination("walk", wsnap, req.max_walk_s)
        if not (math.isfinite(walk) and math.isfinite(drive)):
            continue
        if spec.initial_kwh - _energy(metres, spec) < spec.reserve_kwh:
            too_far += 1
            continue
        wait = ctx.settings.park_car_s + unknown_wait_s(p, ctx)
        options.append((drive + wait + walk, drive, walk, p, metres))
    if not options:
        why = "the battery cannot reach them" if too_far else "none is reachable by car and on foot"
        return Outcome(reason=f"chargers near the destination exist but {why}")
    options.sort(key=lambda o: (o[0], o[3].charger.id))
    start = req.depart_at
    out = []
    for total, drive, walk, p, metres in options[: ctx.settings.max_charger_candidates]:
        # estimate; the drawn legs give the exact one
        price = metres / 1000 * ctx.costs.ev_per_km_eur + ctx.costs.car_parking_eur
        out.append(
            Candidate(
                "ev_park_charge",
                start.timestamp(),
                start.timestamp() + total,
                0,
                walk,
                price,
                _park_builder(req, ctx, s, spec, p, drive, walk),
                2,
            )
        )
    return Outcome(out)


def _park_builder(
    req: PlanRequest,
    ctx: PlanContext,
    s: Searches,
    spec: EvSpec,
    p: ChargePoint,
    drive: float,
    walk: float,
) -> LegsBuilder:
    def build() -> list[Leg] | None:
        c = p.charger
        where = Place(c.name, c.lat, c.lon)
        info = charger_info(p)
        full = charge_seconds(0.0, spec.target_kwh, p.power_kw, spec.capacity_kwh)
        info["minutesToTargetFromEmpty"] = round(full / 60, 1)
        car = _car_leg(
            s,
            Place("Origin", *req.origin),
            where,
            req.depart_at,
            drive,
            {"toCharger": info, "parkAndCharge": True, **availability_flags(info)},
        )
        on_foot = road_leg(
            s,
            "walk",
            where,
            Place("Destination", *req.destination),
            car.end + seconds(ctx.settings.park_car_s + unknown_wait_s(p, ctx)),
            walk,
            extra={"fromCharger": info},
        )
        return _simulate([car, on_foot], spec, [], ctx)

    return build
