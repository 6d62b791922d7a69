"""The shuttle as an access/egress leg provider for the trip planner ("shuttle to the tram stop").

Implements :class:`routing.planner.providers.LegProvider` with ``mode =
"shuttle"``. For the nearest transit stops around the point it asks the
dispatcher for a real quote (nothing is booked): access legs take the quoted
drop-off time at the stop, waiting included; egress legs take the longest
trip the promise rules allow (the traveller's arrival at the stop is not
known yet), and are quoted again for the actual arrival when the itinerary
is built. Each leg's ``booking`` names an offer that :meth:`ShuttleProvider.book`
commits, with exactly the quoted promise.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fleet.online.dispatcher import Dispatcher
from fleet.online.promises import Promise, Trip
from routing.errors import RequestError
from routing.geo import haversine_m
from routing.planner.providers import Direction, ProviderAnswer, ProviderQuery, StopLeg
from routing.transit.itinerary import Leg, Place

if TYPE_CHECKING:
    from fleet.online.service import OnlineShuttle

log = logging.getLogger(__name__)


#: Most quoted-but-unbooked offers kept at once (oldest dropped first).
MAX_OPEN_OFFERS = 10_000


class ShuttleProvider:
    """Shuttle legs to/from transit stops with quotes from an online dispatcher.

    Parameters
    ----------
    dispatcher : Dispatcher
        The fleet's dispatcher (its clock is not advanced by quotes).
    origin_unix : float
        Unix time of dispatcher second 0.
    max_stops : int
        Stops quoted per query (the nearest ones).
    radius_m, min_distance_m : float
        Stops farther than ``radius_m`` (straight line) are not served; nearer
        than ``min_distance_m`` are left to walking.
    now : callable, optional
        Dispatcher seconds of "now" (default: the dispatcher's clock).
    """

    mode = "shuttle"

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        origin_unix: float = 0.0,
        max_stops: int = 3,
        radius_m: float = 4000.0,
        min_distance_m: float = 400.0,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.origin_unix = float(origin_unix)
        self.max_stops = max_stops
        self.radius_m = radius_m
        self.min_distance_m = min_distance_m
        self._now = now or (lambda: dispatcher.now)
        self._offers: dict[str, tuple[Trip, Promise]] = {}
        self._ids = itertools.count(1)

    # ---------------------------------------------------------------- time
    def seconds(self, when: dt.datetime) -> float:
        """Dispatcher seconds of an aware datetime."""
        return when.timestamp() - self.origin_unix

    def datetime(self, seconds: float, tz: dt.tzinfo | None) -> dt.datetime:
        """Aware datetime of dispatcher seconds."""
        return dt.datetime.fromtimestamp(seconds + self.origin_unix, tz or dt.UTC)

    # ---------------------------------------------------------------- quotes
    def _quote(
        self, origin, destination, earliest: float, wheelchair: bool = False
    ) -> tuple[Trip, Promise]:
        now = self._now()
        trip = Trip(
            id=f"offer-{next(self._ids)}",
            origin=origin,
            destination=destination,
            request_time=now,
            earliest_pickup=max(earliest, now),
            passengers=0 if wheelchair else 1,
            wheelchairs=1 if wheelchair else 0,  # a wheelchair user needs a wheelchair place
        )
        promise = self.dispatcher.quote(trip, now)
        if promise.accepted:
            self._forget_stale_offers(now)
            self._offers[trip.id] = (trip, promise)
        return trip, promise

    def _forget_stale_offers(self, now: float) -> None:
        """Drop offers whose pickup window has passed, and the oldest beyond the cap.

        A long-running server quotes far more than it books; without this the
        offer table would grow for ever.
        """
        stale = [k for k, (_, p) in self._offers.items() if p.pickup_latest < now]
        for key in stale:
            del self._offers[key]
        while len(self._offers) >= MAX_OPEN_OFFERS:
            del self._offers[next(iter(self._offers))]

    def stop_legs(self, query: ProviderQuery) -> ProviderAnswer:
        """Quoted shuttle legs to (access) or from (egress) the nearest transit stops."""
        ctx = query.context
        if ctx.transit is None:
            return ProviderAnswer(reason="no timetable loaded")
        tt = ctx.transit.timetable
        lat, lon = query.point
        dist = haversine_m(lat, lon, np.asarray(tt.stop_lat), np.asarray(tt.stop_lon))
        ok = (dist <= self.radius_m) & (dist >= self.min_distance_m)
        cand = np.flatnonzero(ok)
        cand = cand[np.argsort(dist[cand], kind="stable")][: self.max_stops]
        if cand.size == 0:
            return ProviderAnswer(
                reason=f"no transit stop between {self.min_distance_m:.0f} m and "
                f"{self.radius_m / 1000:.1f} km of the point for a shuttle"
            )
        t = self.seconds(query.time)
        wheelchair = bool(getattr(query.request, "wheelchair", False))
        legs, reasons = [], []
        rules = self.dispatcher.rules
        for stop in cand.tolist():
            there = (float(tt.stop_lat[stop]), float(tt.stop_lon[stop]))
            a, b = (
                (query.point, there)
                if query.direction is Direction.ACCESS
                else (there, query.point)
            )
            trip, promise = self._quote(a, b, t, wheelchair)
            if not promise.accepted:
                reasons.append(promise.reason)
                continue
            if query.direction is Direction.ACCESS:  # door to stop, waiting included
                duration = promise.dropoff_eta - t
            else:  # the longest ride the rules allow from whenever the traveller arrives
                duration = rules.max_wait_s + rules.boarding_s + promise.max_ride_s
            booking = self._booking(trip, promise, query.time.tzinfo)
            legs.append(
                StopLeg(
                    stop,
                    float(duration),
                    self._builder(query, stop, trip, promise, float(duration)),
                    effort_s=0.0,
                    cost_eur=float(promise.price_eur),
                    booking=booking,
                )
            )
        if not legs:
            return ProviderAnswer(reason="shuttle: " + "; ".join(dict.fromkeys(reasons)))
        return ProviderAnswer(legs)

    def _booking(self, trip: Trip, promise: Promise, tz) -> dict[str, Any]:
        return {
            "provider": "shuttle",
            "offerId": trip.id,
            "pickupWindow": [
                self.datetime(promise.pickup_earliest, tz).isoformat(),
                self.datetime(promise.pickup_latest, tz).isoformat(),
            ],
            "pickupEta": self.datetime(promise.pickup_eta, tz).isoformat(),
            "dropoffEta": self.datetime(promise.dropoff_eta, tz).isoformat(),
            "dropoffLatest": self.datetime(promise.dropoff_latest, tz).isoformat(),
            "vehicleId": promise.extra.get("vehicle_id"),
            "priceEur": promise.price_eur,
        }

    def _builder(self, query: ProviderQuery, stop: int, trip: Trip, promise: Promise, dur: float):
        def build(start: dt.datetime) -> list[Leg] | None:
            t0 = self.seconds(start)
            use_trip, use = trip, promise
            if abs(t0 - trip.earliest_pickup) > 1.0:
                use_trip, use = self._quote(trip.origin, trip.destination, t0, trip.wheelchairs > 0)
                if not use.accepted or use.dropoff_eta > t0 + dur + 1.0:
                    if query.direction is Direction.EGRESS or start < query.time:
                        return None
                    # Access: the first quote still makes the connection (the traveller
                    # leaves earlier, at the query's time, and waits at the stop); keep it.
                    use_trip, use = trip, promise
                    start = query.time
            tt = query.context.transit.timetable  # type: ignore[union-attr]
            stop_place = Place(
                str(tt.stop_names[stop]),
                float(tt.stop_lat[stop]),
                float(tt.stop_lon[stop]),
                str(tt.stop_ids[stop]),
            )
            here = Place(
                "Origin" if query.direction is Direction.ACCESS else "Destination", *query.point
            )
            a, b = (here, stop_place) if query.direction is Direction.ACCESS else (stop_place, here)
            lats, lons = self._geometry(a, b)
            return [
                Leg(
                    "ODM",
                    a,
                    b,
                    start,
                    start + dt.timedelta(seconds=dur),
                    float(use.direct_m) if math.isfinite(use.direct_m) else 0.0,
                    lats,
                    lons,
                    extra={
                        "booking": self._booking(use_trip, use, start.tzinfo),
                        "cost": {"amount": float(use.price_eur), "currency": "EUR"},
                        **(
                            {"accessibility": {"wheelchairPlace": True}}
                            if use_trip.wheelchairs
                            else {}
                        ),
                    },
                )
            ]

        return build

    def _geometry(self, a: Place, b: Place) -> tuple[np.ndarray, np.ndarray]:
        travel = self.dispatcher.travel
        try:
            la, lb = travel.locate(a.lat, a.lon), travel.locate(b.lat, b.lon)
            path = travel.path(la, lb)
            pts = [travel.coords(int(x)) for x in path.locations]
            lats = np.array([a.lat, *[p[0] for p in pts], b.lat])
            lons = np.array([a.lon, *[p[1] for p in pts], b.lon])
            return lats, lons
        except Exception:
            return np.array([a.lat, b.lat]), np.array([a.lon, b.lon])

    def forget_offers(self) -> None:
        """Drop every quoted offer (a server books through its booking API, never here)."""
        self._offers.clear()

    # ---------------------------------------------------------------- booking
    def book(self, offer_id: str, *, booking_id: str | None = None) -> Promise:
        """Commit a quoted offer with exactly its promise (raises if no longer possible)."""
        found = self._offers.get(offer_id)
        if found is None:
            raise RequestError(f"unknown or expired shuttle offer {offer_id!r}; plan again")
        trip, promise = found
        if booking_id is not None:
            from dataclasses import replace

            trip = replace(trip, id=booking_id)
        got = self.dispatcher.book(trip, self._now(), promise)
        if not got.accepted:
            raise RequestError(
                f"the shuttle offer {offer_id} can no longer be kept ({got.reason}); plan again"
            )
        del self._offers[offer_id]
        return got


class LockedShuttleProvider:
    """A :class:`ShuttleProvider` on an online shuttle's current dispatcher, one caller at a time.

    Quotes run at the dispatcher's own clock (the instant of the last booking,
    cancellation or periodic run), so a plan never moves the shared plans
    forward in time; the periodic task keeps that clock at most a few minutes
    old. The dispatcher is rebuilt by a replay now and then, so the provider is
    re-created when it changed.

    Parameters
    ----------
    shuttle : OnlineShuttle
        Whose dispatcher is quoted.
    lock : lock or None
        Held while quoting and while building legs (the booking service's lock).
    """

    mode = "shuttle"

    def __init__(self, shuttle: OnlineShuttle, lock: Any) -> None:
        self.shuttle = shuttle
        self.lock = lock if lock is not None else threading.RLock()
        self._provider: ShuttleProvider | None = None
        self._for: Dispatcher | None = None

    def _current(self) -> ShuttleProvider:
        dispatcher = self.shuttle.dispatcher
        if self._provider is None or self._for is not dispatcher:
            self._provider = ShuttleProvider(dispatcher, origin_unix=self.shuttle.origin_unix)
            self._for = dispatcher
        return self._provider

    def stop_legs(self, query: ProviderQuery) -> ProviderAnswer:
        """Quoted shuttle legs to/from the nearest stops (see :meth:`ShuttleProvider.stop_legs`)."""
        with self.lock:
            provider = self._current()
            answer = provider.stop_legs(query)
            # Offers are booked through /shuttle/bookings, never through the provider:
            # do not keep them (they would pile up in a long-running server).
            provider.forget_offers()
        return _locked_builders(answer, self.lock)

    def __getattr__(self, name: str) -> Any:
        with self.lock:
            return getattr(self._current(), name)


def _locked_builders(answer: ProviderAnswer, lock: Any) -> ProviderAnswer:
    """Leg builders of a provider answer run later (when itineraries are built): lock them too."""
    for leg in answer.legs:

        def locked(start: Any, _build: Any = leg.build) -> Any:
            with lock:
                return _build(start)

        object.__setattr__(leg, "build", locked)
    return answer
