"""An independent check of a simulated day: re-drive every vehicle and test every promise.

It uses nothing of the dispatcher but its output tables and the travel
model: each vehicle is driven again from its depot through its recorded legs,
stops and charging sessions in execution order, recomputing travel times,
loads and battery energy, and every served request is checked against its
promise (pickup inside the promised window, drop-off by the promised latest
time, ride within the maximum ride time). Any difference is a violation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleet.online.travel import TravelModel
    from fleet.simulation.simulator import SimulationResult

TOL = 1e-3


@dataclass
class AuditReport:
    """Violations found (empty when everything holds) and what was checked."""

    violations: list[str] = field(default_factory=list)
    served: int = 0
    legs: int = 0
    min_soc_kwh: float = math.inf

    @property
    def ok(self) -> bool:
        """True when nothing was violated."""
        return not self.violations

    def summary(self) -> str:
        """One line."""
        if self.ok:
            return f"OK: {self.served} served requests and {self.legs} legs re-driven"
        return f"{len(self.violations)} violations, first: {self.violations[0]}"


def audit(result: SimulationResult, travel: TravelModel) -> AuditReport:
    """Re-drive every vehicle of ``result`` and check every promise (see module docstring)."""
    rep = AuditReport()
    cfg = result.config
    battery = cfg.battery()
    req = result.requests.reset_index(drop=True)
    by_record = {int(rec): i for i, rec in enumerate(req["record"]) if rec >= 0}
    legs = list(result.legs.itertuples(index=False))
    stops = list(result.stops.itertuples(index=False)) if len(result.stops) else []
    charges = list(result.charges.itertuples(index=False)) if len(result.charges) else []
    n = cfg.n_vehicles
    wp = cfg.wheelchair_places
    places = [int(wp[k % len(wp)]) if isinstance(wp, tuple) else int(wp) for k in range(n)]
    pos = list(result.depots)
    clock = [cfg.shift_start_s] * n
    soc = [battery.initial * battery.capacity_kwh if battery else math.inf] * n
    seats = [0] * n
    chairs = [0] * n
    persons_on = [0] * n
    onboard: list[set[int]] = [set() for _ in range(n)]
    picked: dict[int, tuple[int, float, float]] = {}  # request -> (vehicle, start, depart)
    dropped: dict[int, tuple[int, float]] = {}
    bad = rep.violations

    for k, what, i in result.history:
        if what == "leg":
            leg = legs[i]
            rep.legs += 1
            if int(leg.origin) != pos[k]:
                bad.append(f"vehicle {k}: leg {i} starts at {leg.origin}, vehicle is at {pos[k]}")
            if leg.depart < clock[k] - TOL:
                bad.append(f"vehicle {k}: leg {i} leaves at {leg.depart:.1f} before {clock[k]:.1f}")
            expect = travel.time(int(leg.origin), int(leg.destination))
            if abs(leg.arrive - leg.depart - expect) > TOL:
                bad.append(
                    f"vehicle {k}: leg {i} takes {leg.arrive - leg.depart:.2f} s, "
                    f"the road takes {expect:.2f} s"
                )
            if leg.kind != "reposition":
                want_m = travel.distance(int(leg.origin), int(leg.destination))
                if abs(leg.metres - want_m) > 1e-3 * max(1.0, want_m):
                    bad.append(f"vehicle {k}: leg {i} is {leg.metres:.1f} m, road {want_m:.1f} m")
            if int(leg.persons) != persons_on[k]:
                bad.append(
                    f"vehicle {k}: leg {i} records {leg.persons} on board, "
                    f"re-driven {persons_on[k]}"
                )
            pos[k] = int(leg.destination)
            clock[k] = float(leg.arrive)
            if battery:
                soc[k] -= battery.kwh(float(leg.metres))
                rep.min_soc_kwh = min(rep.min_soc_kwh, soc[k])
                if soc[k] < -1e-9:
                    bad.append(f"vehicle {k}: battery at {soc[k]:.2f} kWh after leg {i}")
        elif what == "stop":
            st = stops[i]
            r = int(st.request)
            if int(st.loc) != pos[k]:
                bad.append(f"vehicle {k}: stop {i} at {st.loc}, vehicle is at {pos[k]}")
            if st.service_start < clock[k] - TOL:
                bad.append(f"vehicle {k}: stop {i} served at {st.service_start:.1f} before arrival")
            dur = cfg.boarding_s if st.kind == "pickup" else cfg.alighting_s
            if abs(st.depart - st.service_start - dur) > TOL:
                bad.append(f"vehicle {k}: stop {i} takes {st.depart - st.service_start:.1f} s")
            if st.kind == "pickup":
                seats[k] += int(st.seats)
                chairs[k] += int(st.wheelchairs)
                persons_on[k] += int(st.seats) + int(st.wheelchairs)
                onboard[k].add(r)
                picked[r] = (k, float(st.service_start), float(st.depart))
                if seats[k] > cfg.capacity or chairs[k] > places[k]:
                    bad.append(
                        f"vehicle {k}: {seats[k]} seats / {chairs[k]} wheelchairs used after "
                        f"stop {i} (capacity {cfg.capacity} / {places[k]})"
                    )
            else:
                if r not in onboard[k]:
                    bad.append(f"vehicle {k}: drops request {r} that is not on board")
                onboard[k].discard(r)
                seats[k] -= int(st.seats)
                chairs[k] -= int(st.wheelchairs)
                persons_on[k] -= int(st.seats) + int(st.wheelchairs)
                dropped[r] = (k, float(st.service_start))
            clock[k] = float(st.depart)
        else:  # charge
            ch = charges[i]
            if int(ch.loc) != pos[k]:
                bad.append(f"vehicle {k}: charges at {ch.loc}, vehicle is at {pos[k]}")
            if ch.start < clock[k] - TOL or ch.end < ch.start:
                bad.append(f"vehicle {k}: charging session {i} has impossible times")
            if battery:
                if abs(ch.kwh_before - soc[k]) > 1e-6:
                    bad.append(
                        f"vehicle {k}: charging starts at {ch.kwh_before:.3f} kWh, "
                        f"re-driven {soc[k]:.3f}"
                    )
                if ch.kwh_after > battery.capacity_kwh + 1e-9:
                    bad.append(f"vehicle {k}: charged above capacity")
                soc[k] = float(ch.kwh_after)
            clock[k] = float(ch.end)

    # promises of the served requests
    for r, (k, start, depart) in picked.items():
        row = req.iloc[by_record[r]]
        if r not in dropped:
            bad.append(f"request {row.request_id} picked up but never dropped off")
            continue
        k2, drop = dropped[r]
        if k2 != k:
            bad.append(f"request {row.request_id} dropped by vehicle {k2}, picked by {k}")
        if start < row.promised_pickup_earliest - TOL or start > row.promised_pickup_latest + TOL:
            bad.append(
                f"request {row.request_id}: pickup {start:.1f} outside promised window "
                f"[{row.promised_pickup_earliest:.1f}, {row.promised_pickup_latest:.1f}]"
            )
        if drop > row.promised_dropoff_latest + TOL:
            bad.append(
                f"request {row.request_id}: drop-off {drop:.1f} after promised "
                f"{row.promised_dropoff_latest:.1f}"
            )
        if drop - depart > row.max_ride_s + TOL:
            bad.append(
                f"request {row.request_id}: ride {drop - depart:.1f} s over the maximum "
                f"{row.max_ride_s:.1f} s"
            )
        rep.served += 1
    for row in req.itertuples():
        if row.status == "done" and row.record not in picked:
            bad.append(f"request {row.request_id} is marked done but was never picked up")
        if row.status == "rejected" and row.record in picked:
            bad.append(f"request {row.request_id} was rejected but served")
        if row.status in ("assigned", "onboard"):
            bad.append(f"request {row.request_id} was accepted but never completed")
    return rep
