"""Live operations: the dispatcher follows real vehicles instead of driving its own plans.

In a simulated fleet (:class:`fleet.online.dispatcher.Dispatcher`) vehicles
drive their plans exactly, so every promise is kept by construction. On a
real day they do not: drivers start and end shifts, traffic delays them,
passengers do not show up, vehicles break down. :class:`LiveDispatcher` is
the same dispatcher (same insertion, re-optimisation and promises), but its
vehicles move only when their drivers report:

* **shifts** -- a vehicle joins at its position with its seats and
  wheelchair places (:meth:`LiveDispatcher.start_shift`) and leaves with its
  remaining pickups handed to other vehicles (:meth:`LiveDispatcher.end_shift`);
* **positions** -- a GPS fix moves the vehicle's start node to the snapped
  location; a fix older than the last one, stale, or further than a vehicle
  can drive since the last one is refused (:meth:`LiveDispatcher.position`);
* **stop events** -- ``arrived`` pins the stop as the vehicle's committed
  next node, ``picked_up`` boards the passengers (their drop-off deadline
  starts now), ``dropped_off`` ends the trip, ``no_show`` (only after waiting
  :attr:`LiveConfig.no_show_wait_s` at the pickup) frees the seats, and
  ``out_of_service`` (a breakdown) hands every future pickup to other
  vehicles and sends one to rescue the passengers on board.

After every report the vehicle's schedule is recomputed from where it
really is. When a promise can no longer be kept, the request is moved to
another vehicle that can still keep it; otherwise it stays, its windows are
widened to the new estimate and it is marked *delayed* (with the new ETA).
Every change a passenger can see is a *milestone* on the request record
(``assigned``, ``arriving``, ``picked_up``, ``delayed``, ``completed``,
``no_show``, ``cancelled_by_operator``), read by the booking service.

Everything is a deterministic function of the reports and the instants they
are applied at, so the API's dispatch log can replay it in every worker.
Times are dispatcher seconds; device timestamps (``ts``) are too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fleet.model import PICKUP
from fleet.online.dispatcher import EPS, Dispatcher
from fleet.online.promises import Promise
from fleet.online.protocol import (
    EventConflictError,
    ImplausibleEventError,
    UnknownTargetError,
)
from fleet.online.vehicle_state import Mode, RequestRecord
from routing.errors import RequestError
from routing.geo import haversine_scalar_m

#: A vehicle that is off shift: its shift "ends" before any instant.
OFF_SHIFT = -1.0


@dataclass(frozen=True, kw_only=True)
class LiveConfig:
    """Rules of live operation.

    Attributes
    ----------
    no_show_wait_s : float
        A no-show may be reported this long after the vehicle arrived at the
        pickup (and after the promised window opened).
    max_speed_mps : float
        Fastest plausible movement between two GPS fixes.
    gps_slack_m : float
        GPS error allowed on top of ``max_speed_mps`` (two fixes' error).
    stale_fix_s : float
        A fix older than this (against the dispatcher's clock) is refused.
    future_skew_s : float
        A device timestamp this far past the dispatcher's clock is refused.
    arriving_within_s : float
        A booking is ``arriving`` when its vehicle is heading to it and due within this.
    delay_tolerance_s : float
        A booking is ``delayed`` once its ETA is this far past its promise.
    delay_report_step_s : float
        A delayed booking gets a new ``delayed`` milestone when its ETA grows by this.
    rescue_window_s : float
        Pickup window of a rescue or of a pickup moved after a breakdown or a
        shift end when no vehicle can keep the original promise.
    stale_alert_s, silent_alert_s, off_plan_s : float
        Alerts: no GPS fix for this long; no stop event for this long while
        stops are due; a stop's ETA this far behind the one first planned.
    """

    no_show_wait_s: float = 180.0
    max_speed_mps: float = 45.0
    gps_slack_m: float = 200.0
    stale_fix_s: float = 300.0
    future_skew_s: float = 60.0
    arriving_within_s: float = 180.0
    delay_tolerance_s: float = 60.0
    delay_report_step_s: float = 120.0
    rescue_window_s: float = 3600.0
    stale_alert_s: float = 120.0
    silent_alert_s: float = 1200.0
    off_plan_s: float = 300.0


@dataclass
class LiveVehicle:
    """What the dispatcher knows of a real vehicle beyond :class:`VehicleState`.

    Attributes
    ----------
    on_shift, broken : bool
    fix_ts, fix_lat, fix_lon : float
        The last accepted GPS fix (device time; NaN before the first).
    fix_at : float
        Dispatcher time the last fix was applied.
    event_ts : float
        Device time of the last stop event (events must not go back in time).
    event_at : float
        Dispatcher time of the last report of any kind.
    at_stop : int
        Pool node the vehicle has arrived at and is serving (-1: driving).
    stop_opens : float
        When service at ``at_stop`` may start (its window's opening when it arrived).
    arrived_at : float
    odometer_m, empty_m : float
        Road metres driven between consecutive positions (fixes and stops), and of
        them with nobody on board.
    shift_started : float
    planned_at : float
        Dispatcher time its schedule was last recomputed.
    """

    on_shift: bool = False
    broken: bool = False
    fix_ts: float = math.nan
    fix_lat: float = math.nan
    fix_lon: float = math.nan
    fix_at: float = math.nan
    event_ts: float = -math.inf
    event_at: float = math.nan
    at_stop: int = -1
    stop_opens: float = -math.inf
    arrived_at: float = math.nan
    odometer_m: float = 0.0
    empty_m: float = 0.0
    shift_started: float = math.nan
    planned_at: float = -math.inf


def forward_times(
    route: np.ndarray, n: int, t0: float, tt: np.ndarray, serv: np.ndarray, early: np.ndarray
) -> np.ndarray:
    """Earliest service start at each position of ``route[:n]``, ignoring latest times.

    The vehicle leaves its start at ``t0``, drives the route in order, waits
    for windows that have not opened and serves each stop. This is the
    estimate when the promised windows can no longer all be kept.

    Parameters
    ----------
    route : ndarray of int64
        Pool nodes (start first, the shared end last).
    n : int
        Used length.
    t0 : float
        Departure from the start.
    tt, serv, early : ndarray
        Pool travel times, service times and window opens.

    Returns
    -------
    ndarray of float64, shape (n,)
        The last entry (the shared end) repeats the last stop's departure.
    """
    times = np.empty(n)
    times[0] = t0
    depart = t0 + float(serv[route[0]])
    for pos in range(1, n - 1):
        node = int(route[pos])
        start = max(depart + float(tt[int(route[pos - 1]), node]), float(early[node]))
        times[pos] = start
        depart = start + float(serv[node])
    if n > 1:
        times[n - 1] = depart
    return times


class LiveDispatcher(Dispatcher):
    """A dispatcher whose vehicles are driven by their drivers' reports (see module docstring).

    Every vehicle of the fleet spec is a slot a real vehicle can take: it is
    off shift (accepts no work) until :meth:`start_shift`.

    Parameters
    ----------
    *args, **kwargs
        As :class:`Dispatcher`.
    live : LiveConfig, optional
    """

    def __init__(self, *args: Any, live: LiveConfig | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live = live or LiveConfig()
        self.state = [LiveVehicle() for _ in self.vehicles]
        self.stranded: list[int] = []  # requests waiting for any vehicle (after a breakdown)
        self.stats.update({"replans": 0, "moved_on_delay": 0, "rescues": 0, "delayed": 0})
        for v in self.vehicles:
            self.shift_e[v.index] = OFF_SHIFT
            v.shift = (v.shift[0], OFF_SHIFT)
            v.version += 1  # no simulated execution: nothing scheduled for a live vehicle

    # ================================================================ lookups
    def vehicle_index(self, name: str) -> int:
        """Index of vehicle ``name``.

        Raises
        ------
        UnknownTargetError
        """
        for v in self.vehicles:
            if v.name == name:
                return v.index
        raise UnknownTargetError(
            f"no vehicle {name!r} in this fleet",
            fix=f"use one of {', '.join(v.name for v in self.vehicles)}",
        )

    def _on_shift(self, k: int) -> LiveVehicle:
        s = self.state[k]
        if not s.on_shift:
            raise EventConflictError(
                f"vehicle {self.vehicles[k].name} is not on shift",
                fix="start the shift first (POST .../shift/start)",
            )
        return s

    def _record_of(self, k: int, booking_id: str) -> RequestRecord:
        rec = self.request(booking_id)
        if rec is None or rec.status in ("rejected", "new"):
            raise UnknownTargetError(
                f"no booking {booking_id!r} in the plans",
                fix="use a booking id from the vehicle's manifest",
            )
        if rec.vehicle != k:
            other = self.vehicles[rec.vehicle].name if rec.vehicle >= 0 else "no vehicle"
            raise EventConflictError(
                f"booking {booking_id} is planned on {other}, not on {self.vehicles[k].name}",
                fix="read the manifest again: the booking was moved",
            )
        return rec

    def _check_ts(self, k: int, ts: float, now: float, *, event: bool) -> None:
        lv = self.state[k]
        if ts > now + self.live.future_skew_s:
            raise ImplausibleEventError(
                f"the timestamp is {ts - now:.0f} s in the future",
                fix="send the device time of the event; check the device clock",
            )
        if event and ts < lv.event_ts - EPS:
            raise EventConflictError(
                f"out of order: this event is {lv.event_ts - ts:.0f} s older than the last one "
                f"of vehicle {self.vehicles[k].name}",
                fix="send stop events in the order they happened",
            )

    # ================================================================ state changes
    def _count_drive(self, k: int, loc: int) -> None:
        """Add the road metres from where vehicle ``k`` was to ``loc`` to its odometer.

        Road distance between consecutive positions (GPS fixes, stops), not the
        straight line between fixes, which misses every bend between them.
        """
        v = self.vehicles[k]
        if loc == v.loc:
            return
        metres = float(self.travel.distance(v.loc, loc))
        if not math.isfinite(metres):
            metres = haversine_scalar_m(*self.travel.coords(v.loc), *self.travel.coords(loc))
        lv = self.state[k]
        lv.odometer_m += metres
        if v.n_onboard == 0:
            lv.empty_m += metres

    def _relocate(self, k: int, loc: int, now: float) -> None:
        """Vehicle ``k`` is at ``loc`` now (its start node and the passengers on board move)."""
        v = self.vehicles[k]
        v.loc = loc
        v.t_free = now
        nodes = [v.start, *(int(n) for n in self._onboard_nodes(k))]
        self.pool.move_many(nodes, [loc] * len(nodes))
        self._refresh(now)

    def _n_committed(self, k: int) -> int:
        """The start, the passengers on board and the stop being served."""
        n = super()._n_committed(k)
        return n + 1 if self.state[k].at_stop >= 0 else n

    def _refresh(self, now: float) -> None:
        super()._refresh(now)
        for k, lv in enumerate(self.state):
            if lv.at_stop >= 0:
                # Being served from the route's start (now, or the window's opening for a
                # vehicle that came early): nothing can go before it.
                self.pool.early[lv.at_stop] = self.pool.late[lv.at_stop] = self.shift_s[k]

    def _remove_request(self, k: int, rec: RequestRecord) -> None:
        row = self.routes[k, : self.lens[k]]
        keep = row[(row != rec.pickup_stop) & (row != rec.dropoff_stop)]
        self.routes[k, : keep.size] = keep
        self.lens[k] = keep.size

    def _milestone(
        self, rec: RequestRecord, status: str, eta: float = math.nan, reason: str = ""
    ) -> None:
        rec.extra.setdefault("milestones", []).append((status, self.now, eta, reason))

    # ================================================================ shifts
    def start_shift(
        self,
        name: str,
        loc: int,
        now: float,
        *,
        seats: int,
        wheelchairs: int,
        soc_kwh: float | None = None,
        shift_end: float = 1e9,
    ) -> None:
        """Vehicle ``name`` joins the fleet at ``loc`` now with this capacity.

        Raises
        ------
        EventConflictError
            Already on shift, or broken down.
        ImplausibleEventError
            No seat and no wheelchair place, or a shift end in the past.
        """
        self.advance_to(now)
        k = self.vehicle_index(name)
        lv = self.state[k]
        if lv.on_shift:
            raise EventConflictError(
                f"vehicle {name} is already on shift", fix="end the shift before starting another"
            )
        if seats < 0 or wheelchairs < 0 or seats + wheelchairs < 1:
            raise ImplausibleEventError(
                f"a vehicle needs at least one seat or wheelchair place (got {seats}, "
                f"{wheelchairs})",
                fix="send the seats and wheelchair places available on this shift",
            )
        if shift_end <= now:
            raise ImplausibleEventError(
                "the shift would end before it starts", fix="send a shift end in the future"
            )
        v = self.vehicles[k]
        v.seats, v.wheelchairs = int(seats), int(wheelchairs)
        solo = self.config.policy != "insertion"
        self.cap[k] = (v.seats, v.wheelchairs, 1 if solo else v.seats + v.wheelchairs)
        if soc_kwh is not None and self.fleet.battery is not None:
            v.soc_kwh = float(soc_kwh)
        self.state[k] = LiveVehicle(on_shift=True, event_at=now, shift_started=now)
        v.shift = (now, float(shift_end))
        self.shift_e[k] = float(shift_end)
        v.mode = Mode.IDLE
        self._relocate(k, loc, now)
        self._replan(k)
        self._rescue_stranded()

    def end_shift(self, name: str, now: float) -> dict[str, list[str]]:
        """Vehicle ``name`` leaves the fleet; its planned pickups go to other vehicles.

        Returns
        -------
        dict
            ``moved``, ``delayed``, ``cancelled``: booking ids by what happened to them.

        Raises
        ------
        EventConflictError
            Passengers are on board (or it is serving a stop).
        """
        self.advance_to(now)
        self._refresh(now)
        k = self.vehicle_index(name)
        lv = self._on_shift(k)
        v = self.vehicles[k]
        if v.n_onboard or lv.at_stop >= 0:
            raise EventConflictError(
                f"vehicle {name} has {v.n_onboard} booking(s) on board or is serving a stop",
                fix="drop everyone off (or report the stop done) before ending the shift",
            )
        lv.event_at = now
        return self._leave(k, reason=f"vehicle {name} ended its shift")

    def _leave(self, k: int, *, reason: str) -> dict[str, list[str]]:
        """Take vehicle ``k`` out of service and hand its planned pickups to others."""
        lv = self.state[k]
        v = self.vehicles[k]
        lv.on_shift = False
        lv.at_stop = -1
        self.shift_e[k] = OFF_SHIFT
        v.shift = (v.shift[0], OFF_SHIFT)
        planned = [
            self.records[int(self.pool.request[n])]
            for n in self._plan_nodes(k)
            if self.pool.kind[n] == PICKUP
        ]
        out: dict[str, list[str]] = {"moved": [], "delayed": [], "cancelled": []}
        for rec in planned:
            self._remove_request(k, rec)
            out[self._rehome(rec, k, reason=reason)].append(str(rec.trip.id))  # type: ignore[attr-defined]
        v.mode = Mode.IDLE
        self._replan(k)
        return out

    def _rehome(self, rec: RequestRecord, k: int, *, reason: str) -> str:
        """Plan a request taken off vehicle ``k`` elsewhere: ``moved``, ``delayed``, ``cancelled``.

        First with its promise; else with a pickup window of ``rescue_window_s``
        from now (delayed); else it is cancelled by the operator.
        """
        if self._insert_elsewhere(rec, k):
            self._milestone(rec, "assigned", self._eta(rec.pickup_stop), reason)
            return "moved"
        pool = self.pool
        p, d = rec.pickup_stop, rec.dropoff_stop
        pool.early[p] = max(pool.early[p], self.now)
        pool.late[p] = max(pool.late[p], self.now + self.live.rescue_window_s)
        pool.late[d] = max(pool.late[d], pool.late[p] + pool.serv[p] + rec.max_ride_s)
        if self._insert_elsewhere(rec, k):
            rec.extra["delayed"] = True
            self._milestone(rec, "delayed", self._eta(p), reason)
            self.stats["delayed"] += 1
            return "delayed"
        pool.free([p, d])
        rec.status = "cancelled_by_operator"
        rec.vehicle = -1
        self._milestone(rec, "cancelled_by_operator", reason=f"{reason}; no other shuttle can "
                        "take this trip")  # fmt: skip
        return "cancelled"

    def _insert_elsewhere(self, rec: RequestRecord, k: int) -> bool:
        """Insert a request's (unplanned) nodes into the best vehicle other than ``k``."""
        p, d = rec.pickup_stop, rec.dropoff_stop
        self._refresh(self.now)
        choice = self._best_vehicle(p, d, float(self.pool.early[p]), rec.direct_s, exclude=k)
        if choice is None:
            return False
        k2, i, j, _, _, _ = choice
        self._ensure_width(2)
        seq = np.empty(self.routes.shape[1] + 2, dtype=np.int64)
        m = self._inserted(k2, p, d, i, j, seq)
        rec.vehicle = k2
        rec.status = "assigned"
        self._apply(k2, seq, m)
        return True

    def _eta(self, node: int) -> float:
        t = float(self.pool.planned[node])
        return t if math.isfinite(t) else math.nan

    # ================================================================ positions
    def position(
        self,
        name: str,
        loc: int,
        lat: float,
        lon: float,
        ts: float,
        now: float,
        *,
        candidates: np.ndarray | None = None,
    ) -> None:
        """A GPS fix of vehicle ``name`` at device time ``ts``, snapped to ``loc``.

        ``candidates`` are the street locations near the fix (both directions of
        a street, a junction's arms); the vehicle is placed on the one from which
        its next stop is nearest in time, the street it drives on when it follows
        its plan (:meth:`match_street`), not merely the nearest one, whose
        opposite direction would add a turn-around to every ETA.

        Raises
        ------
        EventConflictError
            Not on shift, or the fix is not newer than the last one, or stale.
        ImplausibleEventError
            In the future, or further from the last fix than the vehicle can drive.
        """
        self.advance_to(now)
        k = self.vehicle_index(name)
        lv = self._on_shift(k)
        self._check_ts(k, ts, now, event=False)
        if math.isfinite(lv.fix_ts) and ts <= lv.fix_ts:
            raise EventConflictError(
                f"fix ignored: it is not newer than the last fix of {name} "
                f"({lv.fix_ts - ts:.0f} s older)",
                fix="send fixes in order; a late fix is not needed any more",
            )
        if ts < now - self.live.stale_fix_s:
            raise EventConflictError(
                f"fix ignored: it is {now - ts:.0f} s old (stale)",
                fix=f"send fixes within {self.live.stale_fix_s:.0f} s of taking them",
            )
        if math.isfinite(lv.fix_ts):
            moved_m = haversine_scalar_m(lv.fix_lat, lv.fix_lon, lat, lon)
            reach = self.live.max_speed_mps * (ts - lv.fix_ts) + self.live.gps_slack_m
            if moved_m > reach:
                raise ImplausibleEventError(
                    f"fix rejected: {moved_m:.0f} m from the last fix in {ts - lv.fix_ts:.0f} s "
                    "is physically impossible",
                    fix="check the GPS receiver; send the fix the vehicle is really at",
                )
        self._replan_silent(now)
        lv.fix_ts, lv.fix_lat, lv.fix_lon, lv.fix_at, lv.event_at = ts, lat, lon, now, now
        if lv.at_stop >= 0:
            self._refresh(now)  # standing at a stop: the stop is where it is
        else:
            loc = self.match_street(k, loc, candidates)
            self._count_drive(k, loc)
            self._relocate(k, loc, now)
        self._replan(k)

    def match_street(self, k: int, nearest: int, candidates: np.ndarray | None) -> int:
        """The street location of a fix of vehicle ``k``: the candidate nearest its next stop.

        A plain nearest-street snap ignores the direction of travel; a vehicle
        following its plan is on the candidate with the shortest drive to its
        next stop (ties: the nearest). Without a next stop, the nearest.

        Parameters
        ----------
        k : int
            Vehicle.
        nearest : int
            The nearest street location.
        candidates : ndarray of int64 or None
            Street locations near the fix.

        Returns
        -------
        int
        """
        plan = self._plan_nodes(k)
        if candidates is None or len(candidates) < 2 or plan.size == 0:
            return nearest
        others = [int(c) for c in candidates if int(c) != nearest]
        options = np.array([nearest, *others], dtype=np.int64)
        seconds, _ = self.travel.matrix(options, np.array([int(self.pool.loc[int(plan[0])])]))
        return int(options[int(np.argmin(seconds[:, 0]))])  # argmin: the first of ties

    # ================================================================ stop events
    def _stop_event(
        self, name: str, booking_id: str, ts: float, now: float
    ) -> tuple[int, LiveVehicle, RequestRecord]:
        """Vehicle index, live state and booking of a stop event, once its checks pass."""
        self.advance_to(now)
        k = self.vehicle_index(name)
        lv = self._on_shift(k)
        self._check_ts(k, ts, now, event=True)
        return k, lv, self._record_of(k, booking_id)

    def _replan_silent(self, now: float) -> None:
        """Recompute the schedules of vehicles with work that have not reported for a while.

        Time passes for a vehicle that does not report too: its ETAs slip, and a
        promise it can no longer keep should move to another vehicle now, not
        when it reports again. Done inside every applied report (each is in the
        dispatch log, so every worker does the same at the same instant); reads
        change nothing.
        """
        due = [
            k
            for k, lv in enumerate(self.state)
            if lv.on_shift and self.lens[k] > 2 and now - lv.planned_at > self.live.stale_alert_s
        ]
        if not due:
            return
        self._refresh(now)
        for k in due:
            self._replan(k)

    def arrived(self, name: str, booking_id: str, kind: str, ts: float, now: float) -> None:
        """Vehicle ``name`` is at the pickup or drop-off (``kind``) of a booking.

        Raises
        ------
        UnknownTargetError, EventConflictError, ImplausibleEventError
        """
        k, lv, rec = self._stop_event(name, booking_id, ts, now)
        if kind not in ("pickup", "dropoff"):
            raise ImplausibleEventError(
                f"stop kind {kind!r} is neither pickup nor dropoff", fix="send pickup or dropoff"
            )
        node = rec.pickup_stop if kind == "pickup" else rec.dropoff_stop
        if kind == "pickup" and rec.status != "assigned":
            raise EventConflictError(
                f"booking {booking_id} is {rec.status}: no pickup to arrive at",
                fix="read the manifest again",
            )
        if kind == "dropoff" and rec.status != "onboard":
            raise EventConflictError(
                f"booking {booking_id} is not on board: no drop-off to arrive at",
                fix="report picked_up first",
            )
        if lv.at_stop >= 0 and lv.at_stop != node:
            raise EventConflictError(
                f"vehicle {name} is still serving another stop",
                fix="report that stop done (picked_up, dropped_off or no_show) first",
            )
        self._front(k, node)
        lv.at_stop = node
        lv.stop_opens = float(self.pool.early[node])
        lv.arrived_at = now
        lv.event_ts, lv.event_at = ts, now
        self._count_drive(k, int(self.pool.loc[node]))
        self._relocate(k, int(self.pool.loc[node]), now)
        if kind == "pickup":
            # Early for the window: it waits there until it opens. Its route starts then,
            # so nothing can be planned before this stop (it would have to leave and
            # come back by the opening), and every later ETA counts from the opening.
            self.vehicles[k].t_free = max(now, lv.stop_opens)
            self._refresh(now)
        self._replan(k)
        if kind == "pickup" and rec.extra.get("arriving") != k:
            rec.extra["arriving"] = k
            self._milestone(rec, "arriving", now, "the shuttle is at the pickup")
        self._replan_silent(now)  # last: a refused event changes nothing

    def _front(self, k: int, node: int) -> None:
        """Move ``node`` to the first open position of vehicle ``k``'s route."""
        n = int(self.lens[k])
        row = self.routes[k, :n].copy()
        first = super()._n_committed(k)
        pos = int(np.flatnonzero(row == node)[0])
        if pos < first:  # pragma: no cover - on board pickups are never arrived at
            return
        rest = np.concatenate((row[first:pos], row[pos + 1 : n]))
        self.routes[k, first] = node
        self.routes[k, first + 1 : n] = rest

    def picked_up(
        self, name: str, booking_id: str, passengers: int, wheelchairs: int, ts: float, now: float
    ) -> None:
        """The passengers of a booking boarded vehicle ``name`` at its pickup.

        Raises
        ------
        UnknownTargetError, EventConflictError, ImplausibleEventError
        """
        k, lv, rec = self._stop_event(name, booking_id, ts, now)
        if rec.status == "onboard":
            raise EventConflictError(
                f"booking {booking_id} is already on board", fix="report dropped_off next"
            )
        if lv.at_stop != rec.pickup_stop:
            raise EventConflictError(
                f"picked_up before arrived: vehicle {name} has not reported arriving at the "
                f"pickup of {booking_id}",
                fix="report arrived (kind pickup) first",
            )
        if passengers < 0 or wheelchairs < 0 or passengers + wheelchairs < 1:
            raise ImplausibleEventError(
                "picked_up needs at least one person", fix="report no_show when nobody came"
            )
        if passengers > rec.seats or wheelchairs > rec.wheelchairs:
            raise ImplausibleEventError(
                f"booking {booking_id} is for {rec.seats} seat(s) and {rec.wheelchairs} "
                f"wheelchair place(s), not {passengers} and {wheelchairs}",
                fix="board only the booked passengers; others book their own ride",
            )
        pool = self.pool
        c, d = rec.pickup_stop, rec.dropoff_stop
        pool.demand[c] = (passengers, wheelchairs, 1)
        pool.demand[d] = (-passengers, -wheelchairs, -1)
        pool.late[d] = min(pool.late[d], now + pool.maxride[c])
        pool.maxride[c] = pool.maxride[d] = np.inf
        pool.serv[c] = 0.0
        rec.status = "onboard"
        rec.pickup_time = now
        rec.pickup_depart = now
        rec.extra["boarded"] = (passengers, wheelchairs)
        # boarding began on arrival, or when the window opened for an early vehicle
        rec.extra["service_start"] = max(lv.arrived_at, _promise(rec).pickup_earliest)
        self.vehicles[k].n_onboard += 1
        self.vehicles[k].mode = Mode.SERVING
        self.vehicles[k].t_free = now  # boarded: it may leave now
        lv.at_stop = -1
        lv.event_ts, lv.event_at = ts, now
        self._refresh(now)
        self._replan(k)
        self._milestone(rec, "picked_up", now)
        self._replan_silent(now)  # last: a refused event changes nothing

    def dropped_off(self, name: str, booking_id: str, ts: float, now: float) -> None:
        """The passengers of a booking left vehicle ``name`` at their drop-off.

        Raises
        ------
        UnknownTargetError, EventConflictError, ImplausibleEventError
        """
        k, lv, rec = self._stop_event(name, booking_id, ts, now)
        if rec.status != "onboard":
            raise EventConflictError(
                f"dropped_off without picked_up: booking {booking_id} is not on board of {name}",
                fix="report picked_up at the pickup first",
            )
        if lv.at_stop >= 0 and lv.at_stop != rec.dropoff_stop:
            raise EventConflictError(
                f"vehicle {name} is serving another stop",
                fix="report that stop done first",
            )
        v = self.vehicles[k]
        loc = int(self.pool.loc[rec.dropoff_stop])
        self._count_drive(k, loc)  # with the passengers still on board
        self._remove_request(k, rec)
        v.n_onboard -= 1
        self.pool.free([rec.pickup_stop, rec.dropoff_stop])
        rec.status = "done"
        rec.dropoff_time = now
        lv.at_stop = -1
        lv.event_ts, lv.event_at = ts, now
        if self.lens[k] == 2:
            v.mode = Mode.IDLE
        self._relocate(k, loc, now)
        self._replan(k)
        self._milestone(rec, "completed", now)
        self._replan_silent(now)  # last: a refused event changes nothing

    def no_show(self, name: str, booking_id: str, ts: float, now: float) -> None:
        """Nobody came to the pickup of a booking: its seats are freed.

        Allowed only after waiting ``no_show_wait_s`` at the pickup (counted
        from the arrival, and from the opening of the promised window).

        Raises
        ------
        UnknownTargetError, EventConflictError, ImplausibleEventError
        """
        k, lv, rec = self._stop_event(name, booking_id, ts, now)
        if lv.at_stop != rec.pickup_stop or rec.status != "assigned":
            raise EventConflictError(
                f"no_show before arrived: vehicle {name} is not at the pickup of {booking_id}",
                fix="report arrived (kind pickup) and wait at the pickup first",
            )
        opened = _promise(rec).pickup_earliest
        allowed = max(lv.arrived_at, opened) + self.live.no_show_wait_s
        if now < allowed - EPS:
            raise EventConflictError(
                f"too early for a no-show: wait another {allowed - now:.0f} s at the pickup",
                fix=f"passengers get {self.live.no_show_wait_s:.0f} s from the arrival "
                "(and from the start of their window)",
            )
        self._remove_request(k, rec)
        self.pool.free([rec.pickup_stop, rec.dropoff_stop])
        rec.status = "no_show"
        self.vehicles[k].t_free = now
        lv.at_stop = -1
        lv.event_ts, lv.event_at = ts, now
        if self.lens[k] == 2:
            self.vehicles[k].mode = Mode.IDLE
        self._refresh(now)
        self._replan(k)
        self._milestone(rec, "no_show", now, f"nobody came within {self.live.no_show_wait_s:.0f} s")
        self._replan_silent(now)  # last: a refused event changes nothing

    def out_of_service(
        self, name: str, ts: float, now: float, *, reason: str = "breakdown"
    ) -> dict[str, list[str]]:
        """Vehicle ``name`` broke down: its pickups go elsewhere, its passengers are rescued.

        Every passenger on board gets a rescue: a pickup where the vehicle
        stands now, with a window of ``rescue_window_s``, planned on the best
        other vehicle (or, with none on shift, on the next that starts one).

        Returns
        -------
        dict
            ``moved``, ``delayed``, ``cancelled`` (planned pickups) and ``rescued``,
            ``stranded`` (passengers on board).
        """
        self.advance_to(now)
        self._refresh(now)
        k = self.vehicle_index(name)
        lv = self._on_shift(k)
        self._check_ts(k, ts, now, event=True)
        v = self.vehicles[k]
        lv.event_ts, lv.event_at = ts, now
        lv.broken = True
        onboard = [self.records[int(self.pool.request[n])] for n in self._onboard_nodes(k)]
        if lv.at_stop >= 0 and self.pool.kind[lv.at_stop] != PICKUP:
            lv.at_stop = -1  # arrived at a drop-off but not dropped off: still on board
        for rec in onboard:
            self._remove_request(k, rec)
        v.n_onboard = 0
        out = self._leave(k, reason=f"vehicle {name} is out of service ({reason})")
        out["rescued"], out["stranded"] = [], []
        for rec in onboard:
            self._prepare_rescue(rec, v.loc)
            self.stats["rescues"] += 1
            if self._insert_elsewhere(rec, k):
                self._milestone(rec, "delayed", self._eta(rec.pickup_stop),
                                f"vehicle {name} is out of service; another shuttle picks you "
                                "up where you are")  # fmt: skip
                out["rescued"].append(str(rec.trip.id))  # type: ignore[attr-defined]
            else:
                rec.status = "stranded"
                rec.vehicle = -1
                self.stranded.append(rec.index)
                self._milestone(rec, "delayed", math.nan,
                                f"vehicle {name} is out of service; waiting for a rescue "
                                "vehicle")  # fmt: skip
                out["stranded"].append(str(rec.trip.id))  # type: ignore[attr-defined]
        return out

    def _prepare_rescue(self, rec: RequestRecord, loc: int) -> None:
        """Turn an on-board passenger's nodes into a new pickup at ``loc`` and their drop-off."""
        pool = self.pool
        p, d = rec.pickup_stop, rec.dropoff_stop
        pool.move(p, loc)
        seats, chairs = rec.extra.get("boarded", (rec.seats, rec.wheelchairs))
        pool.demand[p] = (seats, chairs, 1)
        pool.demand[d] = (-seats, -chairs, -1)
        pool.early[p] = self.now
        pool.late[p] = self.now + self.live.rescue_window_s
        pool.serv[p] = self.rules.boarding_s
        pool.maxride[p] = pool.maxride[d] = np.inf
        pool.late[d] = pool.late[p] + self.rules.boarding_s + rec.max_ride_s
        rec.status = "assigned"
        rec.extra["delayed"] = True
        rec.extra["rescue"] = True

    def _rescue_stranded(self) -> None:
        """Plan passengers still waiting for a rescue (a vehicle may have joined)."""
        waiting, self.stranded = self.stranded, []
        for idx in waiting:
            rec = self.records[idx]
            if self._insert_elsewhere(rec, -1):
                self._milestone(rec, "delayed", self._eta(rec.pickup_stop),
                                "a rescue shuttle is on its way")  # fmt: skip
            else:
                rec.status = "stranded"
                self.stranded.append(idx)

    # ================================================================ schedules and delays
    def _replan(self, k: int) -> None:
        """Planned times of vehicle ``k`` from where it is, delays handled (nothing simulated)."""
        v = self.vehicles[k]
        v.version += 1
        self.state[k].planned_at = self.now
        n = int(self.lens[k])
        ok, times = self._schedule(self.routes[k], n, k)
        if not ok:
            self._resolve_delays(k)
            n = int(self.lens[k])
            ok, times = self._schedule(self.routes[k], n, k)
        route = self.routes[k, :n]
        if not ok:  # pragma: no cover - _resolve_delays widens every window it must
            self.stats["schedule_misses"] += 1
            p = self.pool
            times = forward_times(route, n, float(self.shift_s[k]), p.tt, p.serv, p.early)
        self.pool.planned[route] = times
        self._note_progress(k)

    def _resolve_delays(self, k: int) -> None:
        """Vehicle ``k`` cannot keep every promise: move requests away, else widen and mark them."""
        pool = self.pool
        self.stats["replans"] += 1
        tried: set[int] = set()
        while True:  # move late pickups, one at a time, to vehicles that keep their promise
            n = int(self.lens[k])
            open_nodes = set(self.routes[k, self._n_committed(k) : n - 1].tolist())
            movable = [
                rec
                for rec in self._late_requests(k)
                if rec.index not in tried
                and rec.status == "assigned"
                and rec.pickup_stop in open_nodes
            ]
            if not movable:
                break
            rec = movable[0]
            tried.add(rec.index)
            saved = self.routes[k, :n].copy()
            self._remove_request(k, rec)
            if self._insert_elsewhere(rec, k):
                self.stats["moved_on_delay"] += 1
                self._milestone(rec, "assigned", self._eta(rec.pickup_stop),
                                "moved to another shuttle to keep your pickup time")  # fmt: skip
                continue
            self.routes[k, :n] = saved
            self.lens[k] = n
            rec.vehicle = k
        if not self._late_requests(k):
            return
        # Keep the rest with new estimates: widen each window to its forward time.
        n = int(self.lens[k])
        route = self.routes[k, :n]
        times = forward_times(route, n, float(self.shift_s[k]), pool.tt, pool.serv, pool.early)
        for pos in range(1, n - 1):
            node = int(route[pos])
            if times[pos] > pool.late[node] - EPS:
                pool.late[node] = times[pos] + 1.0
                if pool.kind[node] == PICKUP:
                    pool.maxride[node] = np.inf
                    pool.maxride[int(pool.pair[node])] = np.inf
                self.records[int(pool.request[node])].extra["delayed"] = True
        for pos in range(1, n - 1):  # ride limits a late pickup can no longer keep
            node = int(route[pos])
            if pool.kind[node] == PICKUP and math.isfinite(pool.maxride[node]):
                d = int(pool.pair[node])
                pd = int(np.flatnonzero(route == d)[0])
                if times[pd] - times[pos] - pool.serv[node] > pool.maxride[node] - EPS:
                    pool.maxride[node] = pool.maxride[d] = np.inf
                    pool.late[d] = max(pool.late[d], times[pd] + 1.0)

    def _late_requests(self, k: int) -> list[RequestRecord]:
        """Requests of vehicle ``k`` whose windows or ride limit its forward schedule misses."""
        pool = self.pool
        n = int(self.lens[k])
        route = self.routes[k, :n]
        times = forward_times(route, n, float(self.shift_s[k]), pool.tt, pool.serv, pool.early)
        where = {int(node): pos for pos, node in enumerate(route.tolist())}
        out: list[RequestRecord] = []
        for pos in range(1, n - 1):
            node = int(route[pos])
            rec = self.records[int(pool.request[node])]
            miss = times[pos] > pool.late[node] + EPS
            if not miss and pool.kind[node] == PICKUP and math.isfinite(pool.maxride[node]):
                pd = where[int(pool.pair[node])]
                miss = times[pd] - times[pos] - pool.serv[node] > pool.maxride[node] + EPS
            if miss and rec not in out:
                out.append(rec)
        return out

    def _note_progress(self, k: int) -> None:
        """Milestones a passenger sees from vehicle ``k``'s new schedule."""
        pool = self.pool
        lv = self.state[k]
        plan = self._plan_nodes(k)
        heading = int(plan[0]) if plan.size else -1
        if lv.at_stop >= 0:
            heading = lv.at_stop
        # the plan holds the drop-offs of the passengers on board too
        stops = [*([lv.at_stop] if lv.at_stop >= 0 else []), *plan.tolist()]
        for node in stops:
            node = int(node)
            rec = self.records[int(pool.request[node])]
            if rec.promise is None:
                continue  # being decided now
            eta = self._eta(node)
            if pool.kind[node] == PICKUP:
                # on its way once it must leave within a minute (not hours before a pickup)
                due = eta - float(pool.tt[self.vehicles[k].start, node]) <= self.now + 60.0
                if (
                    node == heading
                    and (due or lv.at_stop == node)
                    and rec.extra.get("heading") != k
                ):
                    rec.extra["heading"] = k
                    self._milestone(rec, "assigned", eta, f"{self.vehicles[k].name} is on its way")
                if (
                    node == heading
                    and eta - self.now <= self.live.arriving_within_s
                    and rec.extra.get("arriving") != k
                ):
                    rec.extra["arriving"] = k
                    self._milestone(rec, "arriving", eta)
                promised = _promise(rec).pickup_latest
            else:
                promised = _promise(rec).dropoff_latest
            if eta > promised + self.live.delay_tolerance_s:
                last = float(rec.extra.get("reported_eta", -math.inf))
                if not rec.extra.get("delay_noted") or eta > last + self.live.delay_report_step_s:
                    if not rec.extra.get("delay_noted"):
                        self.stats["delayed"] += 1
                    rec.extra["delay_noted"] = True
                    rec.extra["delayed"] = True
                    rec.extra["reported_eta"] = eta
                    what = "pickup" if pool.kind[node] == PICKUP else "arrival"
                    self._milestone(rec, "delayed", eta, f"the shuttle is late; new {what} ETA")

    # ================================================================ cancellation
    def cancel(self, request_id: str, now: float) -> bool:
        """As :meth:`Dispatcher.cancel`; not once the vehicle heads to the pickup or is there."""
        rec = self.request(request_id)
        if rec is not None and rec.status == "assigned" and rec.vehicle >= 0:
            lv = self.state[rec.vehicle]
            if lv.at_stop == rec.pickup_stop or rec.extra.get("heading") == rec.vehicle:
                raise RequestError(
                    f"request {request_id}: the shuttle is on its way to the pickup or there"
                )
        if rec is not None and rec.status == "stranded":
            raise RequestError(f"request {request_id} is on board of a vehicle out of service")
        return super().cancel(request_id, now)

    # ================================================================ re-optimisation
    def reoptimise(self, now: float) -> dict[str, float]:
        """Plan stranded passengers first, then as :meth:`Dispatcher.reoptimise`."""
        self.advance_to(now)
        self._refresh(now)
        self._rescue_stranded()
        return super().reoptimise(now)

    # ================================================================ views
    def milestones(self, booking_id: str) -> list[tuple[str, float, float, str]]:
        """``(status, at, eta, reason)`` of a booking in order (dispatcher seconds)."""
        rec = self.request(booking_id)
        if rec is None:
            return []
        return list(rec.extra.get("milestones", []))

    def manifest(self, name: str) -> list[dict[str, Any]]:
        """The next stops of vehicle ``name`` in order: the driver's work list.

        Each stop: ``booking``, ``kind`` (pickup/dropoff), ``lat``, ``lon``,
        ``eta``, ``window`` (earliest, latest), ``passengers``, ``wheelchairs``
        and ``status`` (``arrived`` for the stop being served, else ``planned``).
        """
        k = self.vehicle_index(name)
        lv = self.state[k]
        pool = self.pool
        nodes = [*([lv.at_stop] if lv.at_stop >= 0 else []), *self._plan_nodes(k).tolist()]
        # on-board passengers' drop-offs are in the plan; their pickups are done
        out = []
        seen = set()
        for node in nodes:
            node = int(node)
            if node in seen:
                continue
            seen.add(node)
            rec = self.records[int(pool.request[node])]
            lat, lon = self.travel.coords(int(pool.loc[node]))
            seats, chairs = rec.extra.get("boarded", (rec.seats, rec.wheelchairs))
            out.append(
                {
                    "booking": str(rec.trip.id),  # type: ignore[attr-defined]
                    "kind": "pickup" if pool.kind[node] == PICKUP else "dropoff",
                    "lat": lat,
                    "lon": lon,
                    "eta": self._eta(node),
                    "window": (float(pool.early[node]), float(pool.late[node])),
                    "passengers": int(seats),
                    "wheelchairs": int(chairs),
                    "status": "arrived" if node == lv.at_stop else "planned",
                    "rescue": bool(rec.extra.get("rescue")) and pool.kind[node] == PICKUP,
                }
            )
        return out

    def booking_live(self, booking_id: str) -> dict[str, Any] | None:
        """Where a booking's vehicle is and when it comes (None when not planned on one).

        The position (``lat``, ``lon``: NaN otherwise) is shown only once the
        vehicle is on its way to this passenger or carries them: before that it
        is serving other riders, whose whereabouts are theirs.
        """
        rec = self.request(booking_id)
        if rec is None or rec.vehicle < 0 or rec.status not in ("assigned", "onboard"):
            return None
        k = rec.vehicle
        lv = self.state[k]
        v = self.vehicles[k]
        if rec.status != "onboard" and rec.extra.get("heading") != k:
            lat = lon = at = math.nan
        elif math.isfinite(lv.fix_lat):
            lat, lon, at = lv.fix_lat, lv.fix_lon, lv.fix_ts
        else:
            (lat, lon), at = self.travel.coords(v.loc), lv.event_at
        return {
            "vehicle": v.name,
            "lat": lat,
            "lon": lon,
            "position_at": at,
            "pickup_eta": self._eta(rec.pickup_stop) if rec.status == "assigned" else math.nan,
            "dropoff_eta": self._eta(rec.dropoff_stop),
            "delayed": bool(rec.extra.get("delayed")),
        }

    def vehicles_view(self) -> list[dict[str, Any]]:
        """As :meth:`Dispatcher.vehicles_view`, with shift, last fix and the live delay."""
        out = super().vehicles_view()
        for v, row in zip(self.vehicles, out, strict=True):
            lv = self.state[v.index]
            if math.isfinite(lv.fix_lat):
                row["lat"], row["lon"] = lv.fix_lat, lv.fix_lon
            row["on_shift"] = lv.on_shift
            row["broken"] = lv.broken
            row["last_fix_at"] = lv.fix_ts
            row["last_event_at"] = lv.event_at
            row["at_stop"] = lv.at_stop >= 0
            row["delay_s"] = self._vehicle_delay(v.index)
            row["odometer_m"] = round(lv.odometer_m, 1)
            row["mode"] = (
                "out_of_service" if lv.broken else row["mode"] if lv.on_shift else "off_shift"
            )
        return out

    def _vehicle_delay(self, k: int) -> float:
        """How far vehicle ``k``'s stops run behind the times first promised (seconds, >= 0)."""
        worst = 0.0
        pool = self.pool
        for node in self.routes[k, 1 : self.lens[k] - 1].tolist():
            rec = self.records[int(pool.request[node])]
            if rec.promise is None or rec.extra.get("rescue"):
                continue
            if rec.status == "onboard" and pool.kind[node] == PICKUP:
                continue
            p = _promise(rec)
            first = p.pickup_eta if pool.kind[node] == PICKUP else p.dropoff_eta
            worst = max(worst, self._eta(node) - first)
        return worst if math.isfinite(worst) else 0.0

    def day_kpis(self) -> dict[str, float]:
        """The day's service figures from the requests and the vehicles' odometers.

        Returns
        -------
        dict
            ``served``, ``no_shows``, ``cancelled_by_operator``, ``open``,
            ``on_time_pickup_share`` (boarding began within the promised window),
            ``wait_mean_s``, ``wait_p95_s`` (boarding began after the requested time),
            ``vehicle_km``, ``empty_km``, ``occupancy`` (passenger-km of the
            direct trips per vehicle-km), ``delayed`` (requests ever delayed),
            ``replans``, ``rescues``.
        """
        picked = [r for r in self.records if math.isfinite(r.pickup_time) and r.promise]
        # service start (arrival, or the window's opening), not the end of boarding
        starts = [float(r.extra.get("service_start", r.pickup_time)) for r in picked]
        waits = np.array(
            [t - _promise(r).pickup_earliest for r, t in zip(picked, starts, strict=True)]
        )
        on_time = [
            t <= _promise(r).pickup_latest + EPS
            for r, t in zip(picked, starts, strict=True)
            if not r.extra.get("rescue")
        ]
        done = [r for r in self.records if r.status == "done"]
        pkm = sum(r.direct_m * sum(r.extra.get("boarded", (r.seats, r.wheelchairs))) for r in done)
        vkm = sum(s.odometer_m for s in self.state) / 1000.0
        return {
            "served": float(len(done)),
            "no_shows": float(sum(r.status == "no_show" for r in self.records)),
            "cancelled_by_operator": float(
                sum(r.status == "cancelled_by_operator" for r in self.records)
            ),
            "open": float(
                sum(r.status in ("assigned", "onboard", "stranded") for r in self.records)
            ),
            "on_time_pickup_share": float(np.mean(on_time)) if on_time else math.nan,
            "wait_mean_s": float(waits.mean()) if waits.size else math.nan,
            "wait_p95_s": float(np.percentile(waits, 95)) if waits.size else math.nan,
            "vehicle_km": vkm,
            "empty_km": sum(s.empty_m for s in self.state) / 1000.0,
            "occupancy": pkm / 1000.0 / vkm if vkm > 0 else math.nan,
            "delayed": float(sum(bool(r.extra.get("delayed")) for r in self.records)),
            "replans": float(self.stats["replans"]),
            "rescues": float(self.stats["rescues"]),
        }

    def alerts(self) -> list[dict[str, Any]]:
        """What needs a dispatcher's attention now.

        Returns
        -------
        list of dict
            ``kind`` (``delayed_booking``, ``off_plan``, ``stale_gps``,
            ``no_driver_events``, ``stranded``), ``vehicle`` or ``booking``,
            ``since`` (dispatcher seconds) and ``message``.
        """
        cfg = self.live
        now = self.now
        out: list[dict[str, Any]] = []
        for v in self.vehicles:
            lv = self.state[v.index]
            if not lv.on_shift:
                continue
            last_fix = lv.fix_at if math.isfinite(lv.fix_at) else lv.shift_started
            if now - last_fix > cfg.stale_alert_s:
                minutes = (now - last_fix) / 60
                out.append(_alert("stale_gps", last_fix, f"no GPS fix for {minutes:.0f} min",
                                  vehicle=v.name))  # fmt: skip
            if self.lens[v.index] > 2 and now - lv.event_at > cfg.silent_alert_s:
                minutes = (now - lv.event_at) / 60
                out.append(_alert("no_driver_events", lv.event_at,
                                  f"no driver report for {minutes:.0f} min with stops due",
                                  vehicle=v.name))  # fmt: skip
            delay = self._vehicle_delay(v.index)
            if delay > cfg.off_plan_s:
                out.append(_alert("off_plan", now, f"{delay / 60:.0f} min behind its plan",
                                  vehicle=v.name))  # fmt: skip
        for rec in self.records:
            booking = str(rec.trip.id)  # type: ignore[attr-defined]
            if rec.extra.get("delayed") and rec.status in ("assigned", "onboard"):
                out.append(_alert("delayed_booking", self._delay_since(rec), "running late",
                                  booking=booking))  # fmt: skip
            elif rec.status == "stranded":
                out.append(_alert("stranded", self._delay_since(rec),
                                  "on board of a broken-down vehicle, no rescue yet",
                                  booking=booking))  # fmt: skip
        return out

    @staticmethod
    def _delay_since(rec: RequestRecord) -> float:
        for status, at, _, _ in rec.extra.get("milestones", []):
            if status == "delayed":
                return float(at)
        return math.nan

    def is_live(self, k: int) -> bool:
        """Whether vehicle ``k`` is on shift."""
        return self.state[k].on_shift


def _alert(
    kind: str, since: float, message: str, *, vehicle: str = "", booking: str = ""
) -> dict[str, Any]:
    """One alert row (see :meth:`LiveDispatcher.alerts`)."""
    return {"kind": kind, "vehicle": vehicle or None, "booking": booking or None,
            "since": since, "message": message}  # fmt: skip


def _promise(rec: RequestRecord) -> Promise:
    """The promise a planned request was given."""
    assert isinstance(rec.promise, Promise)
    return rec.promise
