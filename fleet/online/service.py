"""The dispatcher behind the booking API (``ShuttleDispatcher`` of ``api.services.shuttle``).

The API speaks Unix seconds and its own request/quote records; the
dispatcher speaks seconds since a time origin and :class:`Trip` /
:class:`Promise`. :class:`ShuttleService` maps between them (duck-typed, so
``fleet`` needs nothing from ``api``): ``quote`` (no state change),
``commit`` (book exactly the quoted promise, or raise), ``cancel``,
``restore`` (re-book open bookings after a restart, oldest first) and
``vehicles``. Before every call the dispatcher's clock is advanced to now.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fleet.online.dispatcher import Dispatcher
from fleet.online.promises import Promise, Trip
from routing.errors import RequestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShuttleOffer:
    """A quote in the API's shape (the fields of ``api.services.shuttle.ShuttleQuote``)."""

    accepted: bool
    reason: str = ""
    pickup_earliest: float | None = None
    pickup_latest: float | None = None
    dropoff_eta: float | None = None
    price_eur: float | None = None
    vehicle_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class ShuttleService:
    """Adapter of a :class:`Dispatcher` to the API's booking protocol.

    Parameters
    ----------
    dispatcher : Dispatcher
    origin_unix : float
        Unix time of dispatcher second 0.
    quote_factory : callable, optional
        Builds the quote objects from keyword fields (pass the API's
        ``ShuttleQuote``); default :class:`ShuttleOffer` (same fields).
    clock : callable
        Current Unix time.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        origin_unix: float,
        quote_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dispatcher = dispatcher
        self.origin_unix = float(origin_unix)
        self.quote_factory = quote_factory or ShuttleOffer
        self.clock = clock
        self._lock = threading.RLock()

    def _now(self) -> float:
        now = self.clock() - self.origin_unix
        self.dispatcher.advance_to(now)
        return now

    def _trip(self, request: Any, trip_id: str, now: float) -> Trip:
        return Trip(
            id=trip_id,
            origin=(float(request.origin[0]), float(request.origin[1])),
            destination=(float(request.destination[0]), float(request.destination[1])),
            request_time=now,
            earliest_pickup=max(float(request.earliest_pickup) - self.origin_unix, now),
            passengers=int(request.passengers),
            wheelchairs=int(request.wheelchairs),
        )

    def _offer(self, p: Promise) -> Any:
        if not p.accepted:
            return self.quote_factory(accepted=False, reason=p.reason)
        o = self.origin_unix
        return self.quote_factory(
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

    def _promise(self, quote: Any) -> Promise:
        o = self.origin_unix
        extra = dict(getattr(quote, "extra", None) or {})
        try:
            return Promise(
                True,
                pickup_earliest=float(quote.pickup_earliest) - o,
                pickup_latest=float(quote.pickup_latest) - o,
                dropoff_latest=float(extra["dropoff_latest"]) - o,
                max_ride_s=float(extra["max_ride_s"]),
            )
        except (KeyError, TypeError, ValueError):
            raise RequestError(
                "this quote was not made by the fleet dispatcher (no drop-off deadline); "
                "ask for a new quote"
            ) from None

    # ------------------------------------------------------------------ protocol
    def quote(self, request: Any) -> Any:
        """An offer for ``request`` (nothing is booked)."""
        with self._lock:
            now = self._now()
            return self._offer(self.dispatcher.quote(self._trip(request, "quote", now), now))

    def book_now(self, booking_id: str, request: Any) -> Any:
        """Book ``request`` now if the fleet can serve it: the offer made (accepted or not).

        One insertion search instead of a quote and a commit; a refusal changes nothing.
        """
        with self._lock:
            now = self._now()
            return self._offer(self.dispatcher.try_book(self._trip(request, booking_id, now), now))

    def commit(self, booking_id: str, request: Any, quote: Any) -> None:
        """Book ``request`` keeping ``quote``'s promise; RequestError when no longer possible."""
        with self._lock:
            now = self._now()
            got = self.dispatcher.book(
                self._trip(request, booking_id, now), now, self._promise(quote)
            )
            if not got.accepted:
                raise RequestError(
                    f"the quoted shuttle trip can no longer be served ({got.reason}); "
                    "ask for a new quote"
                )

    def cancel(self, booking_id: str) -> None:
        """Take a booking out of the plans.

        Raises
        ------
        RequestError
            When the vehicle is already on its way to the pickup or the passenger
            is on board (nothing is changed then).
        """
        with self._lock:
            self.dispatcher.cancel(booking_id, self._now())

    def progress(self, booking_ids: list[str]) -> dict[str, list[tuple[str, float]]]:
        """What has happened to each booking by now: ``[(status, unix), ...]`` in order.

        Statuses are ``assigned`` (the vehicle set off for the pickup),
        ``picked_up`` and ``completed``, each with the instant it happened;
        only milestones not after the dispatcher's clock are reported. Unknown
        or cancelled bookings are left out.
        """
        out: dict[str, list[tuple[str, float]]] = {}
        with self._lock:
            now = self._now()
            o = self.origin_unix
            for booking_id in booking_ids:
                rec = self.dispatcher.request(booking_id)
                if rec is None or rec.status not in ("onboard", "done"):
                    continue
                reached = [
                    (status, at + o)
                    for status, at in (
                        ("assigned", rec.dispatched_at),
                        ("picked_up", rec.pickup_time),
                        ("completed", rec.dropoff_time),
                    )
                    if math.isfinite(at) and at <= now
                ]
                if reached:
                    out[booking_id] = reached
        return out

    def restore(self, bookings: list[tuple[str, Any, Any]]) -> None:
        """Re-book open bookings after a restart (those that can no longer be kept are logged)."""
        lost = 0
        for booking_id, request, quote in bookings:
            try:
                self.commit(booking_id, request, quote)
            except RequestError as exc:
                lost += 1
                log.warning("open booking %s cannot be restored: %s", booking_id, exc)
        log.info("restored %d of %d open shuttle bookings", len(bookings) - lost, len(bookings))

    def vehicles(self) -> list[dict[str, Any]]:
        """Vehicles with positions, load and planned stops (times in Unix seconds)."""
        with self._lock:
            self._now()
            out = self.dispatcher.vehicles_view()
        o = self.origin_unix
        for v in out:
            v["free_at"] = v["free_at"] + o if math.isfinite(v["free_at"]) else None
            for s in v["stops"]:
                s["eta"] = s["eta"] + o if math.isfinite(s["eta"]) else None
        return out


def build_service(
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
    quote_factory: Callable[..., Any] | None = None,
    clock: Callable[[], float] = time.time,
    network: Any = None,
) -> ShuttleService:
    """A ready booking dispatcher on the shuttle's road graph (what the API loads at startup).

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
    quote_factory : callable, optional
        The API's quote class.
    clock : callable
        Unix time now.
    network : RoadNetwork, optional
        The network ``graph`` belongs to: live closures are customized onto its hierarchy.
    """
    import datetime as dt
    from zoneinfo import ZoneInfo

    import numpy as np

    from fleet.online.charging import sites_from_chargers
    from fleet.online.dispatcher import FleetSpec
    from fleet.online.travel import RoadTravel

    warm_up_dispatch_kernels()
    travel = RoadTravel(graph, hierarchy, network=network)
    if depots:
        locs = tuple(travel.locate(lat, lon) for lat, lon in depots)
    else:
        locs = (travel.locate(float(np.mean(graph.lat)), float(np.mean(graph.lon))),)
    tz = ZoneInfo(timezone)
    today = dt.datetime.fromtimestamp(clock(), tz).date()
    origin = dt.datetime.combine(today, dt.time(0), tzinfo=tz).timestamp()
    fleet = FleetSpec(
        n_vehicles=n_vehicles, seats=seats, wheelchairs=wheelchairs, depots=locs,
        shift=(0.0, 1e9), battery=battery,
    )  # fmt: skip
    sites = sites_from_chargers(chargers) if chargers is not None and battery is not None else None
    dispatcher = Dispatcher(travel, fleet, charging_sites=sites)
    return ShuttleService(dispatcher, origin_unix=origin, quote_factory=quote_factory, clock=clock)


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
