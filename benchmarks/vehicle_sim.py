"""Vehicle simulator: drives a shuttle day through the HTTP API like real drivers and riders.

A discrete-event simulation that owns the server's clock file
(``ELSTER_CLOCK_FILE``, advanced event by event with :func:`api.clock.write_clock`)
and talks to the server over HTTP only:

* **passengers** book ahead like the app does (``POST /shuttle/bookings``),
  read their booking's live ETA when the vehicle sets off to them, and are at
  the pickup from the start of their promised window (or never, a no-show);
* **drivers** get a credential, start their shifts at depots, follow
  ``GET /vehicles/{id}/manifest`` (re-read after every report: the plan
  changes), drive each leg along the server's own shuttle route
  (``GET /route?profile=shuttle``), send GPS fixes interpolated along the leg
  geometry, report ``arrived``, ``picked_up``, ``dropped_off`` and, after the
  no-show wait, ``no_show``; one vehicle reports ``out_of_service`` at mid-day
  with passengers on board; shifts end after the last drop-off.

Reality differs from the model: a leg takes the route's model time times a
lognormal factor (median 1, ``sigma`` 0.2) and a few legs meet a 10-minute
incident. With ``--exact`` vehicles drive the model's times exactly, every
passenger shows up and nothing breaks down. Everything is seeded.

Run: ``python -m benchmarks.vehicle_sim --base-url http://127.0.0.1:8000
--clock-file clock --api-key KEY`` against a server started with
``ELSTER_SHUTTLE_OPERATION=live`` on that clock file (``benchmarks.fleet_live``
starts one itself).
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np

from api.clock import write_clock
from routing.geo import haversine_scalar_m
from routing.polyline import decode_polyline

log = logging.getLogger(__name__)

API = "/api/v1"
TZ = ZoneInfo("Europe/Berlin")
#: Depots in Heidelberg the shifts start from: the main station and Bismarckplatz.
DEPOTS = ((49.4036, 8.6757), (49.4094, 8.6937))
#: Speed of a leg the router refuses (straight line).
FALLBACK_SPEED_MPS = 8.0
#: Legs longer than this (model seconds) get a time profile from PROFILE_POINTS.
PROFILE_MIN_S = 90.0
PROFILE_POINTS = (0.2, 0.4, 0.6, 0.8)
#: A day that has not ended this long after the last shift end is stuck (a bug).
DRAIN_S = 4 * 3600.0
#: Statuses a booking ends in.
FINAL = ("completed", "no_show", "cancelled_by_operator", "cancelled")


class SimulationError(RuntimeError):
    """The server answered a simulator call unexpectedly (the message holds the answer)."""


@dataclass(frozen=True, kw_only=True)
class Trip:
    """One ride a passenger books.

    Attributes
    ----------
    id : str
        The simulator's name for it (the server's booking id is learnt at booking).
    book_at, pickup_after : float
        When the passenger books and the earliest pickup asked for (UNIX seconds).
    origin, destination : (lat, lon)
    passengers, wheelchairs : int
    no_show : bool
        The passenger never comes to the pickup.
    """

    id: str
    book_at: float
    pickup_after: float
    origin: tuple[float, float]
    destination: tuple[float, float]
    passengers: int = 1
    wheelchairs: int = 0
    no_show: bool = False


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """How the simulated day goes.

    Attributes
    ----------
    vehicles : int
        Vehicles that take a shift (``V001`` ...; the server must have as many).
    seats, wheelchairs : int
        Capacity each vehicle reports at shift start.
    shift_start, shift_end : float
        UNIX seconds: shifts start at the depots; from ``shift_end`` on a
        vehicle with nothing left to do ends its shift.
    exact : bool
        Vehicles drive the model's times exactly (no noise, no incidents, no breakdown).
    sigma : float
        Spread of the lognormal travel-time factor (median 1).
    incidents : int
        Legs that meet an incident of ``incident_s`` (seeded vehicle and time).
    incident_s : float
    breakdown_at : float or None
        From this instant on, the first vehicle driving with passengers on
        board breaks down (``out_of_service``); None: no breakdown.
    fix_every_s : float
        Seconds between GPS fixes (driving, and waiting or idle).
    no_show_wait_s : float
        The server's ``ELSTER_SHUTTLE_NO_SHOW_WAIT_S``.
    boarding_s, alighting_s : float
        Time the passengers take to get in and out (the model's service times).
    seed : int
    """

    vehicles: int
    seats: int = 8
    wheelchairs: int = 1
    shift_start: float
    shift_end: float
    exact: bool = False
    sigma: float = 0.2
    incidents: int = 4
    incident_s: float = 600.0
    breakdown_at: float | None = None
    fix_every_s: float = 45.0
    no_show_wait_s: float = 180.0
    boarding_s: float = 30.0
    alighting_s: float = 30.0
    seed: int = 7


@dataclass
class Ride:
    """What the simulator knows of one booked ride (ground truth and what the rider read)."""

    trip: Trip
    booking: str = ""
    token: str = ""
    window: tuple[float, float] = (math.nan, math.nan)
    eta_at_setoff: float = math.nan
    picked_up: float = math.nan  # boarding start of the first pickup
    dropped_off: float = math.nan
    onboard: bool = False
    rescued: bool = False
    no_show_reported: bool = False
    seat_freed: bool = False  # the booking left the manifest right after the no-show


@dataclass
class Leg:
    """A vehicle driving to a stop."""

    booking: str
    kind: str
    lats: np.ndarray
    lons: np.ndarray
    cum_m: np.ndarray
    depart: float
    drive_s: float
    stall_at: float = math.inf  # drive seconds after which the incident holds it
    stall_s: float = 0.0
    model_s: float = 0.0  # the plan's (model) time of the leg
    planned: float = math.nan  # the manifest's ETA of the stop at set-off
    #: Time profile: the share of the drive done (``knot_share``) at each distance (``knot_m``).
    knot_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    knot_share: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def arrive(self) -> float:
        return self.depart + self.drive_s + self.stall_s

    def where(self, t: float) -> tuple[float, float]:
        """Position at time ``t`` along the geometry, on the leg's time profile."""
        driven = t - self.depart
        if driven > self.stall_at:
            driven = max(self.stall_at, driven - self.stall_s)
        frac = 1.0 if self.drive_s <= 0 else min(max(driven / self.drive_s, 0.0), 1.0)
        total = float(self.cum_m[-1])
        if total <= 0:
            return float(self.lats[-1]), float(self.lons[-1])
        if self.knot_m.size:
            d = float(np.interp(frac, self.knot_share, self.knot_m))
        else:
            d = frac * total
        i = int(np.searchsorted(self.cum_m, d, side="right")) - 1
        i = min(max(i, 0), len(self.cum_m) - 2)
        seg = float(self.cum_m[i + 1] - self.cum_m[i])
        w = 0.0 if seg <= 0 else (d - float(self.cum_m[i])) / seg
        lat = float(self.lats[i] + w * (self.lats[i + 1] - self.lats[i]))
        lon = float(self.lons[i] + w * (self.lons[i + 1] - self.lons[i]))
        return round(lat, 6), round(lon, 6)


@dataclass
class Driver:
    """One vehicle and its driver."""

    name: str
    token: dict[str, str]
    lat: float
    lon: float
    rng: random.Random
    state: str = "off"  # off, idle, driving, at_stop, done, broken
    leg: Leg | None = None
    stop: dict[str, Any] = field(default_factory=dict)  # the stop being served
    arrived: float = math.nan
    wake_version: int = 0
    last_fix: float = -math.inf
    incidents: list[float] = field(default_factory=list)
    onboard: set[str] = field(default_factory=set)


class VehicleSimulator:
    """Drives one day (see module docstring).

    Parameters
    ----------
    client : httpx.Client
        Talks to the server (``base_url`` set).
    clock_file : Path
        The server's ``ELSTER_CLOCK_FILE``.
    api_key : str
        An operator key (credentials, KPIs).
    trips : list of Trip
    config : SimConfig
    """

    def __init__(
        self,
        client: httpx.Client,
        clock_file: Path,
        api_key: str,
        trips: list[Trip],
        config: SimConfig,
    ) -> None:
        self.http = client
        self.clock_file = clock_file
        self.ops = {"X-API-Key": api_key}
        self.cfg = config
        self.trips = sorted(trips, key=lambda t: (t.book_at, t.id))
        self.rides: dict[str, Ride] = {}  # by booking id
        self.refused: list[str] = []
        self.t = -math.inf
        self.queue: list[tuple[float, int, str, Any]] = []
        self.seq = 0
        self.rng = random.Random(config.seed)
        self.drivers: list[Driver] = []
        self.counts: Counter[str] = Counter()
        self.broken: str | None = None
        self.breakdown_changes: dict[str, Any] = {}
        self.arrival_vs_plan: list[float] = []

    # ------------------------------------------------------------ clock and HTTP
    def _at(self, t: float) -> None:
        if t > self.t:
            self.t = t
            write_clock(self.clock_file, t)

    def _iso(self, t: float) -> str:
        return datetime.fromtimestamp(t, TZ).isoformat()

    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        got = self.http.request(method, API + path, **kw)
        self.counts[f"{method} {path.split('/')[1]}"] += 1
        if got.status_code not in ok:
            raise SimulationError(f"{method} {path} -> {got.status_code}: {got.text[:400]}")
        return got

    def _report(self, d: Driver, path: str, **body: Any) -> dict[str, Any]:
        self.seq += 1
        body = {"reportId": f"{d.name}-{self.seq:08d}", "ts": self._iso(self.t), **body}
        got = self._call("POST", f"/vehicles/{d.name}/{path}", json=body, headers=d.token)
        return dict(got.json())

    def _manifest(self, d: Driver) -> list[dict[str, Any]]:
        got = self._call("GET", f"/vehicles/{d.name}/manifest", headers=d.token)
        return list(got.json()["stops"])

    def _fix(self, d: Driver, lat: float, lon: float) -> None:
        if self.t <= d.last_fix:
            return  # one fix per instant (the server ignores a fix not newer than the last)
        d.lat, d.lon, d.last_fix = lat, lon, self.t
        self.seq += 1
        body = {"reportId": f"{d.name}-{self.seq:08d}", "ts": self._iso(self.t), "lat": lat,
                "lon": lon}  # fmt: skip
        got = self._call("POST", f"/vehicles/{d.name}/positions", json=body, headers=d.token,
                         ok=(200, 409, 422))  # fmt: skip
        if got.status_code != 200:  # a device keeps going when a fix is refused
            self.counts["fixes refused"] += 1
            log.info("%s: fix refused: %s", d.name, got.text[:200])

    def _route(self, a: tuple[float, float], b: tuple[float, float]) -> dict[str, Any]:
        """The server's shuttle route (SimulationError when it refuses, e.g. outside the box)."""
        params = {"fromPlace": f"{a[0]},{a[1]}", "toPlace": f"{b[0]},{b[1]}", "profile": "shuttle"}
        return dict(self._call("GET", "/route", params=params).json())

    # ------------------------------------------------------------ events
    def _push(self, t: float, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, payload))

    def _wake(self, d: Driver, t: float) -> None:
        d.wake_version += 1
        self._push(t, "driver", (d, d.wake_version))

    def run(self) -> dict[str, Any]:
        """Drive the day to its end; return what happened (see :meth:`summary`)."""
        cfg = self.cfg
        wall = time.perf_counter()
        self._at(cfg.shift_start)
        for i in range(cfg.vehicles):
            name = f"V{i + 1:03d}"
            got = self._call("POST", f"/fleet/vehicles/{name}/credential", headers=self.ops)
            lat, lon = DEPOTS[i % len(DEPOTS)]
            d = Driver(name, {"X-Vehicle-Token": got.json()["token"]}, lat, lon,
                       random.Random(f"{cfg.seed}-{name}"))  # fmt: skip
            self.drivers.append(d)
            self._push(cfg.shift_start + 5.0 * i, "shift", d)
        if not cfg.exact:
            span = cfg.shift_end - cfg.shift_start
            for _ in range(cfg.incidents):
                k = self.rng.randrange(cfg.vehicles)
                self.drivers[k].incidents.append(
                    cfg.shift_start + self.rng.uniform(0.1, 0.9) * span
                )
            if cfg.breakdown_at is not None:
                self._push(cfg.breakdown_at, "breakdown", None)
        for trip in self.trips:
            self._push(trip.book_at, "book", trip)
        same, last = 0, -math.inf
        events, next_log = 0, -math.inf
        while self.queue:
            t, _, kind, payload = heapq.heappop(self.queue)
            same = same + 1 if t == last else 0
            last = t
            if same > 10 * len(self.drivers) + 100 or t > cfg.shift_end + DRAIN_S:
                raise SimulationError(f"the day is stuck at {self._iso(t)}: {self._states()}")
            if t >= next_log:
                log.info("%s: %d events, %s", self._iso(t), events, self._states())
                next_log = t + 1800.0
            events += 1
            self._at(t)
            if kind == "book":
                self._book(payload)
            elif kind == "shift":
                self._shift_start(payload)
            elif kind == "breakdown":
                self._breakdown()
            elif kind == "driver":
                d, version = payload
                if version == d.wake_version:
                    self._step(d)
        return self.summary(time.perf_counter() - wall)

    def _states(self) -> str:
        """Where each driver is (for the error of a stuck day)."""
        legs = [d.leg and (d.leg.booking[:8], d.leg.kind, d.leg.arrive) for d in self.drivers]
        return "; ".join(
            f"{d.name} {d.state} {leg}" for d, leg in zip(self.drivers, legs, strict=True)
        )

    def _book(self, trip: Trip) -> None:
        body = {
            "from": {"lat": trip.origin[0], "lon": trip.origin[1]},
            "to": {"lat": trip.destination[0], "lon": trip.destination[1]},
            "pickupAfter": self._iso(trip.pickup_after),
            "passengers": trip.passengers,
            "wheelchairs": trip.wheelchairs,
        }
        got = self._call("POST", "/shuttle/bookings", json=body, ok=(201, 409, 422),
                         headers={"Idempotency-Key": f"sim-{self.cfg.seed}-{trip.id}"})  # fmt: skip
        if got.status_code != 201:
            if "no shuttle can serve" not in got.text:
                raise SimulationError(f"booking {trip.id} -> {got.status_code}: {got.text[:300]}")
            self.refused.append(trip.id)
            return
        b = got.json()
        window = b["quote"]["pickupWindow"]
        ride = Ride(trip, booking=b["id"], token=b["token"])
        ride.window = (_unix(window["start"]), _unix(window["end"]))
        self.rides[ride.booking] = ride
        for d in self.drivers:  # the driver app is told of new work (a push in reality)
            if d.state == "idle" and d.name == b["quote"].get("vehicleId"):
                self._wake(d, self.t)

    def _shift_start(self, d: Driver) -> None:
        self._report(d, "shift/start", lat=d.lat, lon=d.lon, seats=self.cfg.seats,
                     wheelchairs=self.cfg.wheelchairs)  # fmt: skip
        d.state, d.last_fix = "idle", self.t
        self._wake(d, self.t)

    # ------------------------------------------------------------ the driver
    def _step(self, d: Driver) -> None:
        """Whatever the driver does now, by state."""
        if d.state == "driving":
            self._drive(d)
        elif d.state == "at_stop":
            self._serve(d)
        elif d.state == "idle":
            self._fix(d, d.lat, d.lon)
            self._next(d, self._manifest(d))

    def _next(self, d: Driver, stops: list[dict[str, Any]]) -> None:
        """Set off to the manifest's first stop, or wait (or end the shift when the day is over)."""
        if not stops:
            d.state, d.leg = "idle", None
            if self.t >= self.cfg.shift_end and not d.onboard and self._day_over():
                self._report(d, "shift/end")
                d.state = "done"
                return
            self._wake(d, self.t + self.cfg.fix_every_s)
            return
        first = stops[0]
        if first["status"] == "arrived":  # pragma: no cover - the driver is at that stop
            self._begin_stop(d, first)
            return
        self._set_off(d, first)

    def _day_over(self) -> bool:
        """No more bookings to come."""
        return not any(kind == "book" for _, _, kind, _ in self.queue)

    def _set_off(self, d: Driver, stop: dict[str, Any]) -> None:
        """Drive to ``stop`` along the server's route, in the plan's time (times the noise).

        The leg's model time is the plan's: the stop's ETA less now. Where
        the plan waits at a pickup for its window, and where the server has no
        ETA, it is the route's duration instead (the two agree within seconds
        on most legs; they differ where the dispatcher's and the router's
        snapping do).
        """
        target = (float(stop["lat"]), float(stop["lon"]))
        here = (d.lat, d.lon)
        if haversine_scalar_m(*here, *target) < 1.0:
            lats, lons, route_s = np.array([d.lat, target[0]]), np.array([d.lon, target[1]]), 0.0
        else:
            try:
                route = self._route(here, target)
                geo = route["legGeometry"]
                lats, lons = decode_polyline(geo["points"], geo["precision"])
                route_s = float(route["duration"])
            except SimulationError as exc:
                # A stop the router refuses (its node lies just outside the region's
                # box): drive the straight line at city speed.
                self.counts["routes refused"] += 1
                log.info("%s: no route to %s (%s); straight line", d.name, target, exc)
                lats, lons = np.zeros(0), np.zeros(0)
                route_s = haversine_scalar_m(*here, *target) / FALLBACK_SPEED_MPS
            lats, lons = (
                np.concatenate(([d.lat], lats, [target[0]])),
                np.concatenate(([d.lon], lons, [target[1]])),
            )
        seg = [haversine_scalar_m(lats[i], lons[i], lats[i + 1], lons[i + 1])
               for i in range(len(lats) - 1)]  # fmt: skip
        cum = np.concatenate(([0.0], np.cumsum(seg)))
        model_s = route_s
        planned = _unix(stop["eta"]) if stop.get("eta") else math.nan
        waits = (
            stop["kind"] == "pickup"
            and stop.get("windowStart")
            and (planned <= _unix(stop["windowStart"]) + 1.0)
        )
        if math.isfinite(planned) and planned > self.t and not waits:
            model_s = planned - self.t
        drive = model_s if self.cfg.exact else model_s * d.rng.lognormvariate(0.0, self.cfg.sigma)
        leg = Leg(stop["booking"], stop["kind"], lats, lons, cum, self.t, drive, model_s=model_s)
        leg.planned = planned
        if route_s > PROFILE_MIN_S:
            leg.knot_m, leg.knot_share = self._profile(lats, lons, cum, target, route_s)
        due = [t for t in d.incidents if t <= self.t + drive]
        if due and drive > 0:
            d.incidents.remove(due[0])
            leg.stall_at, leg.stall_s = drive * d.rng.uniform(0.2, 0.8), self.cfg.incident_s
        d.leg, d.state = leg, "driving"
        ride = self.rides.get(leg.booking)
        if leg.kind == "pickup" and ride is not None and math.isnan(ride.eta_at_setoff):
            live = self._read(ride).get("live") or {}
            if live.get("pickupEta"):
                ride.eta_at_setoff = _unix(live["pickupEta"])
        self._wake(d, min(self.t + self.cfg.fix_every_s, leg.arrive))

    def _profile(
        self,
        lats: np.ndarray,
        lons: np.ndarray,
        cum: np.ndarray,
        target: tuple[float, float],
        route_s: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Share of the leg's model time done at a few points along it.

        Fast roads and slow streets alternate: driving the geometry at one
        speed would put the vehicle minutes ahead of or behind the model, and
        every GPS fix would move its ETAs. The route from each point to the
        stop says how much model time is left there.
        """
        knots_m, shares = [0.0], [0.0]
        for part in PROFILE_POINTS:
            at = part * float(cum[-1])
            p = (
                round(float(np.interp(at, cum, lats)), 6),
                round(float(np.interp(at, cum, lons)), 6),
            )
            try:
                left = float(self._route(p, target)["duration"])
            except SimulationError:
                continue  # a point the router cannot place (off the network): skip it
            knots_m.append(at)
            shares.append(min(max(1.0 - left / route_s, shares[-1]), 1.0))
        knots_m.append(float(cum[-1]))
        shares.append(1.0)
        return np.asarray(knots_m), np.maximum.accumulate(np.asarray(shares))

    def _drive(self, d: Driver) -> None:
        leg = d.leg
        assert leg is not None
        if self.t >= leg.arrive - 1e-6:
            self._fix(d, float(leg.lats[-1]), float(leg.lons[-1]))
            stops = self._manifest(d)
            if stops and (stops[0]["booking"], stops[0]["kind"]) == (leg.booking, leg.kind):
                if leg.kind == "dropoff":  # no window to wait for: arrival against the plan
                    self.arrival_vs_plan.append(self.t - leg.planned)
                self._report(d, "events", kind="arrived", booking=leg.booking, stop=leg.kind)
                d.arrived = self.t
                self._begin_stop(d, stops[0])
            else:
                self._next(d, stops)  # the plan changed under way
            return
        self._fix(d, *leg.where(self.t))
        stops = self._manifest(d)
        if not stops or (stops[0]["booking"], stops[0]["kind"]) != (leg.booking, leg.kind):
            self._next(d, stops)  # re-routed: from here to the new first stop
            return
        self._wake(d, min(self.t + self.cfg.fix_every_s, leg.arrive))

    def _begin_stop(self, d: Driver, stop: dict[str, Any]) -> None:
        d.state, d.stop, d.leg = "at_stop", stop, None
        if math.isnan(d.arrived):
            d.arrived = self.t
        self._wake(d, self._stop_done_at(d))

    def _stop_done_at(self, d: Driver) -> float:
        stop = d.stop
        if stop["kind"] == "dropoff":
            return d.arrived + self.cfg.alighting_s
        ride = self.rides[stop["booking"]]
        if stop["rescue"] or ride.onboard:
            return d.arrived + self.cfg.boarding_s  # the riders of the broken-down vehicle
        ready = max(d.arrived, ride.window[0])
        if ride.trip.no_show:
            return ready + self.cfg.no_show_wait_s + 1.0
        return ready + self.cfg.boarding_s

    def _serve(self, d: Driver) -> None:
        done_at = self._stop_done_at(d)
        if self.t < done_at - 1e-6:
            self._fix(d, d.lat, d.lon)
            self._wake(d, min(self.t + self.cfg.fix_every_s, done_at))
            return
        stop = d.stop
        ride = self.rides[stop["booking"]]
        if stop["kind"] == "dropoff":
            self._report(d, "events", kind="dropped_off", booking=ride.booking)
            ride.dropped_off, ride.onboard = self.t, False
            d.onboard.discard(ride.booking)
        elif ride.trip.no_show and not stop["rescue"]:
            self._report(d, "events", kind="no_show", booking=ride.booking)
            ride.no_show_reported = True
            stops = self._manifest(d)
            ride.seat_freed = all(s["booking"] != ride.booking for s in stops)
            d.arrived, d.stop = math.nan, {}
            self._next(d, stops)
            return
        else:
            people = {"passengers": stop["passengers"], "wheelchairs": stop["wheelchairs"]}
            self._report(d, "events", kind="picked_up", booking=ride.booking, **people)
            if stop["rescue"]:
                ride.rescued = True
            else:
                ride.picked_up = max(d.arrived, ride.window[0])
            ride.onboard = True
            d.onboard.add(ride.booking)
        d.arrived = math.nan
        d.stop = {}
        self._next(d, self._manifest(d))

    def _breakdown(self) -> None:
        """The first vehicle driving with passengers on board breaks down where it is."""
        for d in self.drivers:
            if d.state == "driving" and d.onboard and d.leg is not None:
                self._fix(d, *d.leg.where(self.t))
                answer = self._report(d, "events", kind="out_of_service", reason="engine failure")
                self.broken, self.breakdown_changes = d.name, answer.get("changes", {})
                self.breakdown_changes["onboard"] = sorted(d.onboard)
                for booking in d.onboard:
                    self.rides[booking].onboard = False
                d.onboard.clear()
                d.state, d.leg = "broken", None
                d.wake_version += 1
                for other in self.drivers:  # their plans changed: re-read now
                    if other.state == "idle":
                        self._wake(other, self.t)
                return
        if self.t < self.cfg.shift_end:  # nobody on board right now: a bit later
            self._push(self.t + 60.0, "breakdown", None)

    # ------------------------------------------------------------ results
    def _read(self, ride: Ride) -> dict[str, Any]:
        got = self._call("GET", f"/shuttle/bookings/{ride.booking}",
                         headers={"X-Booking-Token": ride.token})  # fmt: skip
        return dict(got.json())

    def summary(self, wall_s: float) -> dict[str, Any]:
        """The day's figures: promises, stranded riders, ETA errors, statuses, server KPIs."""
        final: dict[str, str] = {}
        events: dict[str, list[str]] = {}
        for ride in self.rides.values():
            b = self._read(ride)
            final[ride.booking] = b["status"]
            events[ride.booking] = [e["status"] for e in b["events"]]
        kpis = self._call("GET", "/fleet/kpis", headers=self.ops).json()
        alerts = self._call("GET", "/fleet/alerts", headers=self.ops).json()
        stranded = [
            r.booking
            for r in self.rides.values()
            if final[r.booking] not in FINAL
            or (math.isfinite(r.picked_up) and math.isnan(r.dropped_off))
            or (final[r.booking] == "completed" and math.isnan(r.dropped_off))
        ]
        showed = [r for r in self.rides.values() if not r.trip.no_show]
        kept = [r for r in showed if r.picked_up <= r.window[1] + 1e-6]
        timed = [r for r in showed if math.isfinite(r.picked_up + r.eta_at_setoff)]
        errors = np.array([abs(r.picked_up - r.eta_at_setoff) for r in timed])
        late = np.array([r.picked_up - r.window[1] for r in showed if math.isfinite(r.picked_up)])
        broken = self.breakdown_changes.get("onboard", [])
        return {
            "mode": "exact" if self.cfg.exact else "realistic",
            "requests": len(self.trips),
            "booked": len(self.rides),
            "refused": len(self.refused),
            "no_show_riders": sum(r.trip.no_show for r in self.rides.values()),
            "promises_kept_share": len(kept) / len(showed) if showed else math.nan,
            "promises_kept": len(kept),
            "riders_showed_up": len(showed),
            "late_pickup_p95_s": float(np.percentile(late, 95)) if late.size else math.nan,
            "stranded": len(stranded),
            "stranded_bookings": stranded,
            "eta_error_p50_s": float(np.percentile(errors, 50)) if errors.size else math.nan,
            "eta_error_p95_s": float(np.percentile(errors, 95)) if errors.size else math.nan,
            "eta_samples": int(errors.size),
            "replans": kpis.get("replans"),
            "kpis": kpis,
            "alerts_at_end": len(alerts),
            "statuses": dict(Counter(final.values())),
            "breakdown": {
                "vehicle": self.broken,
                "onboard": broken,
                "changes": {k: v for k, v in self.breakdown_changes.items() if k != "onboard"},
                "rescued_and_completed": sum(
                    self.rides[b].rescued and final[b] == "completed" for b in broken
                ),
            },
            "dropoff_arrival_minus_plan_s": _spread(self.arrival_vs_plan),
            "no_shows_reported": sum(r.no_show_reported for r in self.rides.values()),
            "no_show_seats_freed": sum(r.seat_freed for r in self.rides.values()),
            "rides": {
                r.booking: {
                    "trip": r.trip.id,
                    "window": r.window,
                    "picked_up": r.picked_up,
                    "eta_at_setoff": r.eta_at_setoff,
                    "dropped_off": r.dropped_off,
                }
                for r in self.rides.values()
            },
            "http_calls": dict(self.counts),
            "wall_s": wall_s,
            "events": events,
            "final": final,
        }


def _spread(values: list[float]) -> dict[str, float]:
    """p5, p50, p95 of a list (NaN when empty)."""
    a = np.asarray([v for v in values if math.isfinite(v)])
    if not a.size:
        return {"p5": math.nan, "p50": math.nan, "p95": math.nan, "n": 0}
    p5, p50, p95 = np.percentile(a, [5, 50, 95])
    return {"p5": float(p5), "p50": float(p50), "p95": float(p95), "n": int(a.size)}


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def day_bounds(day: date, start: dtime, end: dtime) -> tuple[float, float]:
    """UNIX seconds of two local times of ``day`` (Europe/Berlin)."""
    a = datetime.combine(day, start, TZ).timestamp()
    b = datetime.combine(day, end, TZ).timestamp()
    return a, b


def demand_trips(
    *,
    n: int,
    day: date,
    start: dtime,
    end: dtime,
    seed: int,
    no_show_share: float = 0.05,
    lead_min: tuple[float, float] = (20.0, 90.0),
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> list[Trip]:
    """Seeded rides from the Heidelberg demand model, booked ahead like the app does.

    Parameters
    ----------
    n : int
        Requests in the window ``start``-``end`` of ``day`` (local time).
    seed : int
    no_show_share : float
        Share of passengers who never come (drawn per trip, at least one when > 0).
    lead_min : (float, float)
        Minutes between booking and the earliest pickup (uniform), never before ``start``.
    data_dir, cache_dir : Path, optional
        Where the Heidelberg sources and the build cache are (default: the project's).

    Returns
    -------
    list of Trip
    """
    from demand.model import build_demand_model
    from routing.regions import load_region

    model = build_demand_model(load_region("heidelberg"), data_dir=data_dir, cache_dir=cache_dir)
    return trips_from_demand(model, n=n, day=day, start=start, end=end, seed=seed,
                             no_show_share=no_show_share, lead_min=lead_min)  # fmt: skip


def trips_from_demand(
    model: Any,
    *,
    n: int,
    day: date,
    start: dtime,
    end: dtime,
    seed: int,
    no_show_share: float = 0.05,
    lead_min: tuple[float, float] = (20.0, 90.0),
) -> list[Trip]:
    """As :func:`demand_trips` on a built demand model."""
    from demand.requests import generate_requests

    frame, _ = generate_requests(model, day=day, n_requests=n, seed=seed, window=(start, end))
    rng = random.Random(seed)
    first = datetime.combine(day, start, TZ).timestamp()
    trips = []
    for row in frame.itertuples(index=False):
        pickup = float(row.earliest_pickup.timestamp())
        trips.append(
            Trip(
                id=str(row.request_id),
                book_at=max(first - 1800.0, pickup - 60.0 * rng.uniform(*lead_min)),
                pickup_after=pickup,
                origin=(round(float(row.origin_lat), 6), round(float(row.origin_lon), 6)),
                destination=(round(float(row.destination_lat), 6),
                             round(float(row.destination_lon), 6)),
                passengers=int(row.passengers),
                wheelchairs=int(bool(row.wheelchair)),
                no_show=rng.random() < no_show_share,
            )
        )  # fmt: skip
    if no_show_share > 0 and trips and not any(t.no_show for t in trips):
        k = rng.randrange(len(trips))
        trips[k] = Trip(**{**trips[k].__dict__, "no_show": True})
    return trips


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Drive a day against a running live-operation server; print and return the summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    ap.add_argument("--clock-file", type=Path, required=True, help="its ELSTER_CLOCK_FILE")
    ap.add_argument("--api-key", required=True, help="an operator key of ELSTER_API_KEYS")
    ap.add_argument("--vehicles", type=int, default=8, help="must not exceed the server's fleet")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--date", default="2026-12-08")
    ap.add_argument("--start", default="07:00", help="local start of bookable pickups")
    ap.add_argument("--end", default="19:00", help="local end of bookable pickups")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-show-wait-s", type=float, default=180.0)
    ap.add_argument(
        "--exact",
        action="store_true",
        help="vehicles follow the model exactly: no noise, no no-shows, no breakdown",
    )
    ap.add_argument("--out", type=Path, help="write the summary as JSON here")  # fmt: skip
    args = ap.parse_args(argv)
    day = date.fromisoformat(args.date)
    start, end = dtime.fromisoformat(args.start), dtime.fromisoformat(args.end)
    if end <= start:
        ap.error(f"--end {args.end} is not after --start {args.start}; give a later --end")
    if not args.clock_file.is_file():
        ap.error(f"--clock-file {args.clock_file} does not exist; give the server's "
                 "ELSTER_CLOCK_FILE")  # fmt: skip
    from benchmarks.common import region_data_dir
    from routing.regions import load_region

    trips = demand_trips(n=args.requests, day=day, start=start, end=end, seed=args.seed,
                         no_show_share=0.0 if args.exact else 0.05,
                         data_dir=region_data_dir(load_region("heidelberg")))  # fmt: skip
    config = day_config(day=day, start=start, end=end, vehicles=args.vehicles, seed=args.seed,
                        exact=args.exact, no_show_wait_s=args.no_show_wait_s)  # fmt: skip
    try:
        with httpx.Client(base_url=args.base_url, timeout=60) as client:
            result = VehicleSimulator(client, args.clock_file, args.api_key, trips, config).run()
    except httpx.HTTPError as exc:
        raise SystemExit(
            f"cannot reach the server at {args.base_url} ({exc}); start it with "
            "ELSTER_SHUTTLE_OPERATION=live and check --base-url"
        ) from None
    except SimulationError as exc:
        raise SystemExit(
            f"the server refused the simulator: {exc}. Check --api-key (an "
            "ELSTER_API_KEYS key), that the server runs ELSTER_SHUTTLE_OPERATION=live "
            "on --clock-file with at least --vehicles shuttles"
        ) from None
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(one_line(result))
    return result


def day_config(
    *,
    day: date,
    start: dtime,
    end: dtime,
    vehicles: int,
    seed: int,
    exact: bool,
    no_show_wait_s: float = 180.0,
) -> SimConfig:
    """The day's :class:`SimConfig`: shifts from 30 min before ``start``, a breakdown at mid-day."""
    a, b = day_bounds(day, start, end)
    return SimConfig(
        vehicles=vehicles,
        shift_start=a - 1800.0,
        shift_end=b,
        exact=exact,
        breakdown_at=None if exact else (a + b) / 2,
        no_show_wait_s=no_show_wait_s,
        seed=seed,
    )


def one_line(r: dict[str, Any]) -> str:
    """A one-line summary of a simulated day."""
    return (
        f"{r['mode']}: {r['booked']}/{r['requests']} booked, promises kept "
        f"{r['promises_kept_share']:.1%}, stranded {r['stranded']}, ETA error p50 "
        f"{r['eta_error_p50_s']:.0f} s p95 {r['eta_error_p95_s']:.0f} s, re-plans "
        f"{r['replans']}, statuses {r['statuses']}, {r['wall_s']:.0f} s wall"
    )


if __name__ == "__main__":
    main()
