"""The online dispatcher behind the booking API: the one :class:`ShuttleDispatcher`.

:class:`OnlineShuttle` implements :class:`fleet.online.protocol.ShuttleDispatcher`
on a :class:`fleet.online.dispatcher.Dispatcher`. The protocol speaks UNIX
seconds and :class:`ShuttleRequest` / :class:`ShuttleQuote`; the dispatcher
speaks seconds since a time origin and :class:`Trip` / :class:`Promise`.
Besides that mapping it adds:

* a clock that can be pinned (:meth:`OnlineShuttle.pin_clock`): every call
  runs at the pinned instant, so replaying a dispatch log in another process
  makes the same calls at the same instants;
* ``reset``: empty plans at a clock origin (a new dispatcher: the same seed,
  the same depots, so replays are deterministic);
* the fleet's "promise can no longer be kept" and "already under way" as the
  protocol's :class:`QuoteExpiredError` and :class:`NotCancellableError`;
* idle-vehicle rebalancing toward the demand seen in the bookings
  (:class:`fleet.online.rebalancing.RecentDemand`);
* :meth:`OnlineShuttle.leg_provider`, the planner's "shuttle to the tram
  stop" provider on the current dispatcher;
* on a :class:`fleet.online.live.LiveDispatcher` (``operation="live"``), the
  vehicle reports of :class:`fleet.online.protocol.VehicleReport`: GPS fixes
  snapped to the shuttle's road network, stop events, shifts.

:func:`build_shuttle` builds one on a region's road network.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fleet.online.dispatcher import Dispatcher
from fleet.online.live import LiveConfig, LiveDispatcher
from fleet.online.promises import Promise, Trip
from fleet.online.protocol import (
    BookingMilestone,
    Capability,
    EventConflictError,
    ImplausibleEventError,
    NotCancellableError,
    QuoteExpiredError,
    ShuttleDispatcher,
    ShuttleQuote,
    ShuttleRequest,
    VehicleMove,
    VehicleReport,
)
from fleet.online.rebalancing import RecentDemand, plan_moves
from fleet.online.travel import RoadTravel
from routing.errors import RequestError, SnapError

log = logging.getLogger(__name__)

#: Rebalancing looks this far ahead for expected demand (seconds).
REBALANCE_HORIZON_S = 1800.0


class OnlineShuttle(ShuttleDispatcher):
    """The shuttle dispatch protocol on the fleet's online dispatcher.

    Parameters
    ----------
    make_dispatcher : callable
        ``make_dispatcher() -> Dispatcher``: a fresh dispatcher with empty plans
        (called now and at every :meth:`reset`).
    origin_unix : float
        UNIX time of dispatcher second 0 (until the next :meth:`reset`).
    clock : callable
        UNIX time now, used until :meth:`pin_clock` is called.

    Attributes
    ----------
    dispatcher : Dispatcher
        The current dispatcher (replaced by :meth:`reset`).
    origin_unix : float
    """

    capabilities = (
        Capability.BOOK_NOW | Capability.PROGRESS | Capability.REOPTIMISE | Capability.REBALANCE
    )
    #: Real vehicles are moved by their drivers, not sent toward demand by the dispatcher.
    LIVE_CAPABILITIES = (
        Capability.BOOK_NOW | Capability.PROGRESS | Capability.REOPTIMISE | Capability.LIVE
    )

    def __init__(
        self,
        make_dispatcher: Callable[[], Dispatcher],
        *,
        origin_unix: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._make = make_dispatcher
        self.clock = clock
        self._pinned: float | None = None
        self.dispatcher = make_dispatcher()
        if isinstance(self.dispatcher, LiveDispatcher):
            self.capabilities = self.LIVE_CAPABILITIES
        self.origin_unix = float(origin_unix)
        self._forecast = RecentDemand()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ time
    def reset(self, origin_unix: float) -> None:
        """Empty plans with dispatcher second 0 at ``origin_unix``."""
        with self._lock:
            self.dispatcher = self._make()
            self.origin_unix = float(origin_unix)
            self._forecast = RecentDemand()

    def pin_clock(self, unix: float) -> None:
        """Every following call happens at ``unix`` (UNIX seconds)."""
        self._pinned = float(unix)

    def _now(self) -> float:
        """Dispatcher seconds now, with every vehicle event up to then executed."""
        unix = self.clock() if self._pinned is None else self._pinned
        now = unix - self.origin_unix
        self.dispatcher.advance_to(now)
        return now

    # ------------------------------------------------------------------ mapping
    def _trip(self, request: ShuttleRequest, trip_id: str, now: float) -> Trip:
        return Trip(
            id=trip_id,
            origin=(float(request.origin[0]), float(request.origin[1])),
            destination=(float(request.destination[0]), float(request.destination[1])),
            request_time=now,
            earliest_pickup=max(float(request.earliest_pickup) - self.origin_unix, now),
            passengers=int(request.passengers),
            wheelchairs=int(request.wheelchairs),
        )

    def _offer(self, p: Promise) -> ShuttleQuote:
        if not p.accepted:
            return ShuttleQuote(accepted=False, reason=p.reason)
        o = self.origin_unix
        return ShuttleQuote(
            accepted=True,
            reason="",
            pickup_earliest=p.pickup_earliest + o,
            pickup_latest=p.pickup_latest + o,
            dropoff_eta=p.dropoff_eta + o,
            price_eur=p.price_eur,
            vehicle_id=p.extra.get("vehicle_id"),
            extra={
                "pickup_eta": p.pickup_eta + o,
                "dropoff_latest": p.dropoff_latest + o,
                "max_ride_s": p.max_ride_s,
            },
        )

    def _promise(self, quote: ShuttleQuote) -> Promise:
        o = self.origin_unix
        extra = dict(quote.extra or {})
        try:
            return Promise(
                True,
                pickup_earliest=float(quote.pickup_earliest) - o,  # type: ignore[arg-type]
                pickup_latest=float(quote.pickup_latest) - o,  # type: ignore[arg-type]
                dropoff_latest=float(extra["dropoff_latest"]) - o,
                max_ride_s=float(extra["max_ride_s"]),
            )
        except (KeyError, TypeError, ValueError):
            raise QuoteExpiredError(
                "this quote was not made by the fleet dispatcher (no drop-off deadline); "
                "ask for a new quote"
            ) from None

    def _observe(self, request: ShuttleRequest) -> None:
        """Remember a booked trip's origin as demand (for rebalancing)."""
        d = self.dispatcher
        try:
            loc = d.travel.locate(*request.origin)
        except SnapError:
            return
        self._forecast.observe(d.now, int(loc), *request.origin)

    # ------------------------------------------------------------------ protocol
    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """An offer for ``request`` (nothing is booked)."""
        with self._lock:
            now = self._now()
            return self._offer(self.dispatcher.quote(self._trip(request, "quote", now), now))

    def book_now(self, booking_id: str, request: ShuttleRequest) -> ShuttleQuote:
        """Book ``request`` now if the fleet can serve it: the offer made (accepted or not).

        One insertion search instead of a quote and a commit; a refusal changes nothing.
        """
        with self._lock:
            now = self._now()
            quote = self._offer(self.dispatcher.try_book(self._trip(request, booking_id, now), now))
            if quote.accepted:
                self._observe(request)
            return quote

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None:
        """Book ``request`` keeping ``quote``'s promise.

        Raises
        ------
        QuoteExpiredError
            The promise can no longer be kept (nothing is booked then).
        """
        with self._lock:
            try:
                now = self._now()
                got = self.dispatcher.book(
                    self._trip(request, booking_id, now), now, self._promise(quote)
                )
                if not got.accepted:
                    raise QuoteExpiredError(
                        f"the quoted shuttle trip can no longer be served ({got.reason}); "
                        "ask for a new quote"
                    )
            except QuoteExpiredError:
                raise
            except RequestError as exc:
                raise QuoteExpiredError(str(exc)) from None
            self._observe(request)

    def cancel(self, booking_id: str) -> None:
        """Take a booking out of the plans (unknown or finished ones are ignored).

        Raises
        ------
        NotCancellableError
            When the vehicle is already on its way to the pickup or the passenger
            is on board (nothing is changed then).
        """
        with self._lock:
            try:
                self.dispatcher.cancel(booking_id, self._now())
            except RequestError as exc:
                raise NotCancellableError(
                    f"this booking can no longer be cancelled: {exc}"
                ) from None

    def progress(self, booking_ids: list[str]) -> dict[str, list[BookingMilestone]]:
        """What has happened to each booking by now, in order.

        Simulated vehicles: ``assigned`` (the vehicle set off for the pickup),
        ``picked_up`` and ``completed``, each with the instant it happened
        (only milestones not after the dispatcher's clock). Live vehicles: every
        milestone of :mod:`fleet.online.live` (with ETAs and reasons). Unknown
        or cancelled bookings are left out.
        """
        out: dict[str, list[BookingMilestone]] = {}
        with self._lock:
            now = self._now()
            o = self.origin_unix
            d = self.dispatcher
            for booking_id in booking_ids:
                if isinstance(d, LiveDispatcher):
                    reached = [
                        BookingMilestone(status, at + o, eta + o, reason)
                        for status, at, eta, reason in d.milestones(booking_id)
                    ]
                else:
                    reached = self._simulated_milestones(booking_id, now)
                if reached:
                    out[booking_id] = reached
        return out

    def _simulated_milestones(self, booking_id: str, now: float) -> list[BookingMilestone]:
        rec = self.dispatcher.request(booking_id)
        if rec is None or rec.status not in ("onboard", "done"):
            return []
        return [
            BookingMilestone(status, at + self.origin_unix)
            for status, at in (
                ("assigned", rec.dispatched_at),
                ("picked_up", rec.pickup_time),
                ("completed", rec.dropoff_time),
            )
            if math.isfinite(at) and at <= now
        ]

    def reoptimise(self) -> dict[str, float]:
        """Improve the open plans now, keeping every promise (see ``Dispatcher.reoptimise``)."""
        with self._lock:
            return self.dispatcher.reoptimise(self._now())

    def rebalance_moves(self) -> list[VehicleMove]:
        """Where idle vehicles should go for the demand expected soon (changes nothing)."""
        with self._lock:
            d = self.dispatcher
            now = self._now()
            idle = d.idle_vehicles(now)
            if not idle:
                return []
            locs, expected = self._forecast.expected(now, now + REBALANCE_HORIZON_S)
            return [
                VehicleMove(int(k), int(target))
                for k, target in plan_moves(idle, locs, expected, d.travel)
            ]

    def reposition(self, move: VehicleMove) -> bool:
        """Send an idle vehicle toward a travel-model location now; False if it cannot go."""
        with self._lock:
            now = self._now()
            return bool(self.dispatcher.reposition(move.vehicle, move.target, now))

    def vehicles(self) -> list[dict[str, Any]]:
        """Vehicles with positions, load and planned stops (times in UNIX seconds)."""
        with self._lock:
            self._now()
            out = self.dispatcher.vehicles_view()
        for v in out:
            v["free_at"] = self._unix(v["free_at"])
            for key in ("last_fix_at", "last_event_at"):
                if key in v:
                    v[key] = self._unix(v[key])
            for s in v["stops"]:
                s["eta"] = self._unix(s["eta"])
        return out

    # ------------------------------------------------------------------ live vehicles
    def _live(self) -> LiveDispatcher:
        d = self.dispatcher
        if not isinstance(d, LiveDispatcher):
            raise EventConflictError(
                "this shuttle simulates its vehicles and takes no vehicle reports",
                fix="start the server with ELSTER_SHUTTLE_OPERATION=live for real vehicles",
            )
        return d

    def report(self, report: VehicleReport) -> dict[str, Any]:
        """Apply a vehicle's report now (see :class:`fleet.online.live.LiveDispatcher`).

        Returns
        -------
        dict
            What changed besides the vehicle (bookings moved, delayed,
            cancelled, rescued or stranded); empty for most reports.
        """
        with self._lock:
            d = self._live()
            now = self._now()
            ts = float(report.ts) - self.origin_unix
            name, kind = report.vehicle, report.kind
            if kind in ("shift_start", "position"):
                loc = self._snap(report)
                if kind == "shift_start":
                    d.start_shift(
                        name, loc, now, seats=report.passengers, wheelchairs=report.wheelchairs,
                        soc_kwh=report.soc_kwh,
                    )  # fmt: skip
                else:
                    lat, lon = float(report.lat), float(report.lon)  # type: ignore[arg-type]
                    d.position(name, loc, lat, lon, ts, now, candidates=self._near(lat, lon))
                return {}
            if kind == "shift_end":
                return dict(d.end_shift(name, now))
            if kind == "out_of_service":
                return dict(d.out_of_service(name, ts, now, reason=report.reason or "breakdown"))
            booking = str(report.booking)
            if kind == "arrived":
                d.arrived(name, booking, report.stop, ts, now)
            elif kind == "picked_up":
                d.picked_up(name, booking, report.passengers, report.wheelchairs, ts, now)
            elif kind == "dropped_off":
                d.dropped_off(name, booking, ts, now)
            elif kind == "no_show":
                d.no_show(name, booking, ts, now)
            else:
                raise ImplausibleEventError(
                    f"unknown report kind {kind!r}", fix="see the vehicle API's report kinds"
                )
            return {}

    #: Street locations this much farther than the nearest one are still candidates of a fix.
    MATCH_SLACK_M = 25.0

    def _near(self, lat: float, lon: float) -> Any:
        """Street locations a GPS fix may be on (both directions, nearby arms), or None."""
        travel = self.dispatcher.travel
        if not isinstance(travel, RoadTravel):
            return None  # a straight-line test plane has one location per point
        nearest = float(travel.snap_metres(np.array([lat]), np.array([lon]))[0])
        return travel.nearby_locations(lat, lon, nearest + self.MATCH_SLACK_M)

    def _snap(self, report: VehicleReport) -> int:
        if report.lat is None or report.lon is None:
            raise ImplausibleEventError(
                f"{report.kind} needs lat and lon", fix="send the vehicle's GPS position"
            )
        try:
            return int(self.dispatcher.travel.locate(float(report.lat), float(report.lon)))
        except SnapError as exc:
            raise ImplausibleEventError(
                f"the position is not on the shuttle's road network: {exc}",
                fix="send the vehicle's real GPS position inside the service area",
            ) from None

    def manifest(self, vehicle: str) -> list[dict[str, Any]]:
        """The vehicle's next stops in order (times in UNIX seconds)."""
        with self._lock:
            d = self._live()
            self._now()
            stops = d.manifest(vehicle)
        for s in stops:
            s["eta"] = self._unix(s["eta"])
            s["window"] = (self._unix(s["window"][0]), self._unix(s["window"][1]))
        return stops

    def _unix(self, t: float) -> float | None:
        return t + self.origin_unix if math.isfinite(t) else None

    def booking_live(self, booking_id: str) -> dict[str, Any] | None:
        """The booking's vehicle position and ETAs (UNIX seconds), or None."""
        with self._lock:
            d = self.dispatcher
            if not isinstance(d, LiveDispatcher):
                return None
            self._now()
            live = d.booking_live(booking_id)
        if live is None:
            return None
        for key in ("position_at", "pickup_eta", "dropoff_eta"):
            live[key] = self._unix(live[key])
        return live

    def day_kpis(self) -> dict[str, float]:
        """The day's service figures (see ``LiveDispatcher.day_kpis``); {} when simulated."""
        with self._lock:
            d = self.dispatcher
            if not isinstance(d, LiveDispatcher):
                return {}
            self._now()
            return d.day_kpis()

    def alerts(self) -> list[dict[str, Any]]:
        """What needs a dispatcher's attention (``since`` in UNIX seconds)."""
        with self._lock:
            d = self.dispatcher
            if not isinstance(d, LiveDispatcher):
                return []
            self._now()
            out = d.alerts()
        for a in out:
            a["since"] = self._unix(a["since"])
        return out

    # ------------------------------------------------------------------ the planner's legs
    def leg_provider(self, lock: Any) -> Any:
        """The planner's shuttle provider on this dispatcher, holding ``lock`` while it quotes.

        Parameters
        ----------
        lock : lock or None
            The lock every other use of this dispatcher holds (the booking service's).

        Returns
        -------
        fleet.online.provider.LockedShuttleProvider
        """
        from fleet.online.provider import LockedShuttleProvider

        return LockedShuttleProvider(self, lock)


def build_shuttle(
    graph: Any,
    hierarchy: Any,
    *,
    n_vehicles: int = 10,
    seats: int = 8,
    wheelchairs: int = 1,
    depots: tuple[tuple[float, float], ...] = (),
    timezone: str = "Europe/Berlin",
    chargers: Any = None,
    battery: Any = None,
    clock: Callable[[], float] = time.time,
    network: Any = None,
    operation: str = "simulated",
    live: LiveConfig | None = None,
) -> OnlineShuttle:
    """The online shuttle on a region's road graph (what the API loads at startup).

    Parameters
    ----------
    graph, hierarchy :
        The region's car :class:`~routing.graph.RoadGraph` and its contraction hierarchy.
    n_vehicles, seats, wheelchairs : int
        The fleet.
    depots : tuple of (lat, lon)
        Start points (default: the usable road node nearest the graph's centre).
    timezone : str
        Dispatcher second 0 is local midnight of today in this zone.
    chargers : iterable of Charger, optional
        Charging points for e-shuttles (with ``battery``).
    battery : BatterySpec, optional
    clock : callable
        Unix time now.
    network : RoadNetwork, optional
        The network ``graph`` belongs to: live closures are customized onto its hierarchy.
    operation : {"simulated", "live"}
        ``simulated``: the vehicles drive their plans exactly from the depots.
        ``live``: real vehicles join by starting a shift and move only when they
        report (:class:`fleet.online.live.LiveDispatcher`).
    live : LiveConfig, optional
        Rules of live operation (no-show wait, GPS plausibility, alerts).
    """
    import datetime as dt
    from zoneinfo import ZoneInfo

    from fleet.online.charging import sites_from_chargers
    from fleet.online.dispatcher import FleetSpec

    warm_up_dispatch_kernels()
    tz = ZoneInfo(timezone)
    today = dt.datetime.fromtimestamp(clock(), tz).date()
    origin = dt.datetime.combine(today, dt.time(0), tzinfo=tz).timestamp()

    def make_dispatcher() -> Dispatcher:
        # A new travel model each time: a reset must start exactly as the first build did.
        travel = RoadTravel(graph, hierarchy, network=network)
        if depots:
            locs = tuple(travel.locate(lat, lon) for lat, lon in depots)
        else:
            locs = (travel.locate(float(np.mean(graph.lat)), float(np.mean(graph.lon))),)
        fleet = FleetSpec(
            n_vehicles=n_vehicles, seats=seats, wheelchairs=wheelchairs, depots=locs,
            shift=(0.0, 1e9), battery=battery,
        )  # fmt: skip
        sites = (
            sites_from_chargers(chargers) if chargers is not None and battery is not None else None
        )
        if operation == "live":
            return LiveDispatcher(travel, fleet, charging_sites=sites, live=live)
        return Dispatcher(travel, fleet, charging_sites=sites)

    return OnlineShuttle(make_dispatcher, origin_unix=origin, clock=clock)


def warm_up_dispatch_kernels() -> None:
    """Compile (or load from numba's cache) every dispatch kernel on a toy plane.

    Done once at service start so that the first passenger's quote does not
    wait tens of seconds for JIT compilation.
    """
    from fleet.online.dispatcher import DispatchConfig, FleetSpec
    from fleet.online.travel import EuclideanTravel

    started = time.perf_counter()
    travel = EuclideanTravel(speed_mps=8.0)
    points = [travel.add_point(x, y) for x, y in ((0, 0), (900, 300), (300, 1200), (1500, 900))]
    depot = travel.add_point(600, 600)
    toy = Dispatcher(
        travel, FleetSpec(n_vehicles=2, seats=4, wheelchairs=1, depots=(depot,)), DispatchConfig()
    )
    for i, (a, b) in enumerate(((0, 1), (2, 3), (1, 2))):
        trip = Trip(
            id=f"warm-up-{i}", origin=(0.0, 0.0), destination=(0.0, 0.0), request_time=0.0,
            earliest_pickup=60.0 * i, origin_loc=points[a], destination_loc=points[b],
        )  # fmt: skip
        toy.quote(trip, 0.0)
        toy.submit(trip, 0.0)
    toy.reoptimise(30.0)
    toy.advance_to(600.0)
    log.info("dispatch kernels ready in %.1f s", time.perf_counter() - started)
