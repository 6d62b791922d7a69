"""The fleet's online dispatcher behind the booking API.

:func:`load_dispatcher` builds :class:`fleet.online.service.ShuttleService` on
the region's car graph and hierarchy. :class:`FleetDispatcher` fits it to the
booking protocol of :mod:`api.services.shuttle`:

* every call runs at the instant pinned by the booking service (the service's
  clock is a :class:`PinnedClock`), so replaying the dispatch log in another
  worker process makes the same calls at the same instants;
* ``reset`` starts empty plans at a clock origin (a new dispatcher: the same
  seed, the same depots, so replays are deterministic);
* the fleet's "quote can no longer be kept" becomes the API's rejection (a 4xx
  that says to ask again), so a trip the fleet refused is never confirmed;
* ``reoptimise`` / ``rebalance_moves`` / ``reposition`` expose the periodic
  improvement and the idle-vehicle rebalancing (demand seen in the bookings,
  :class:`fleet.online.rebalancing.RecentDemand`);
* :meth:`FleetDispatcher.leg_provider` is the planner's "shuttle to the tram
  stop" provider, serialised with bookings by the booking service's lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from api.errors import ConflictError, RejectedError
from api.services.shuttle import ShuttleQuote, ShuttleRequest
from api.settings import Settings
from routing.errors import RequestError, SnapError
from routing.road import RoadNetwork
from routing.stations import ChargerStore

logger = logging.getLogger(__name__)

#: Rebalancing looks this far ahead for expected demand (seconds).
REBALANCE_HORIZON_S = 1800.0


class PinnedClock:
    """A clock that answers the instant it was last pinned to (real time until then)."""

    def __init__(self) -> None:
        self.unix: float | None = None

    def __call__(self) -> float:
        return time.time() if self.unix is None else self.unix


class FleetDispatcher:
    """The ``ShuttleDispatcher`` protocol over a fleet ``ShuttleService``.

    Parameters
    ----------
    build : callable
        ``build(clock) -> ShuttleService``: a fresh service (empty plans) on ``clock``.
    """

    def __init__(self, build: Callable[[PinnedClock], Any]) -> None:
        self._build = build
        self.clock = PinnedClock()
        self.service = build(self.clock)
        self._forecast = self._new_forecast()

    @staticmethod
    def _new_forecast() -> Any:
        from fleet.online.rebalancing import RecentDemand

        return RecentDemand()

    # -- protocol ------------------------------------------------------------------------
    def reset(self, origin_unix: float) -> None:
        """Empty plans with dispatcher second 0 at ``origin_unix``."""
        self.service = self._build(self.clock)
        self.service.origin_unix = float(origin_unix)
        self._forecast = self._new_forecast()

    def pin_clock(self, unix: float) -> None:
        """Every following call happens at ``unix``."""
        self.clock.unix = float(unix)

    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """An offer for ``request``; nothing is booked."""
        return self.service.quote(request)

    def book_now(self, booking_id: str, request: ShuttleRequest) -> ShuttleQuote:
        """Quote and book in one decision; a refusal (``accepted`` false) changes nothing."""
        quote: ShuttleQuote = self.service.book_now(booking_id, request)
        if quote.accepted:
            self._observe(request)
        return quote

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None:
        """Book exactly the quoted promise, or refuse when the plans changed since."""
        try:
            self.service.commit(booking_id, request, quote)
        except RequestError as exc:
            raise RejectedError(str(exc), fix="ask for a new quote") from None
        self._observe(request)

    def _observe(self, request: ShuttleRequest) -> None:
        d = self.service.dispatcher
        try:
            loc = d.travel.locate(*request.origin)
        except SnapError:
            return
        self._forecast.observe(d.now, int(loc), *request.origin)

    def cancel(self, booking_id: str) -> None:
        """Take a booking out of the plans; ConflictError (nothing changed) once under way."""
        try:
            self.service.cancel(booking_id)
        except RequestError as exc:
            raise ConflictError(
                f"this booking can no longer be cancelled: {exc}",
                fix="the shuttle is on its way or the trip has started; contact the operator",
            ) from None

    def progress(self, booking_ids: list[str]) -> dict[str, list[tuple[str, float]]]:
        """Milestones reached by now per booking (see ``ShuttleService.progress``)."""
        return dict(self.service.progress(booking_ids))

    def vehicles(self) -> list[dict[str, Any]]:
        """The dispatcher's view of every vehicle."""
        return self.service.vehicles()

    # -- periodic work -------------------------------------------------------------------
    def _dispatcher_now(self) -> float:
        d = self.service.dispatcher
        now = self.clock() - self.service.origin_unix
        d.advance_to(now)
        return now

    def reoptimise(self) -> dict[str, float]:
        """Improve the open plans now, keeping every promise (see ``Dispatcher.reoptimise``)."""
        now = self._dispatcher_now()
        return self.service.dispatcher.reoptimise(now)

    def rebalance_moves(self) -> list[tuple[int, int]]:
        """Where idle vehicles should go for the demand expected soon (changes nothing)."""
        from fleet.online.rebalancing import plan_moves

        d = self.service.dispatcher
        now = self._dispatcher_now()
        idle = d.idle_vehicles(now)
        if not idle:
            return []
        locs, expected = self._forecast.expected(now, now + REBALANCE_HORIZON_S)
        return plan_moves(idle, locs, expected, d.travel)

    def reposition(self, vehicle: int, target: int) -> bool:
        """Send an idle vehicle toward a travel-model location now."""
        now = self._dispatcher_now()
        return bool(self.service.dispatcher.reposition(int(vehicle), int(target), now))

    # -- the planner's shuttle legs ------------------------------------------------------
    def leg_provider(self, lock: Any) -> Any:
        """The planner's shuttle provider on this dispatcher, holding ``lock`` while it quotes."""
        return LockedProvider(self, lock)


class LockedProvider:
    """``fleet.online.provider.ShuttleProvider`` on the current dispatcher, one caller at a time.

    Quotes run at the dispatcher's own clock (the instant of the last booking,
    cancellation or periodic run), so a plan never moves the shared plans
    forward in time; the periodic task keeps that clock at most a few minutes
    old. The dispatcher is rebuilt by a replay now and then, so the provider is
    re-created when it changed.
    """

    mode = "shuttle"

    def __init__(self, fleet: FleetDispatcher, lock: Any) -> None:
        self.fleet = fleet
        self.lock = lock if lock is not None else threading.RLock()
        self._provider: Any = None
        self._for: Any = None

    def _current(self) -> Any:
        from fleet.online.provider import ShuttleProvider

        service = self.fleet.service
        if self._for is not service:
            self._provider = ShuttleProvider(service.dispatcher, origin_unix=service.origin_unix)
            self._for = service
        return self._provider

    def stop_legs(self, query: Any) -> Any:
        """Quoted shuttle legs to/from the nearest stops (see ``ShuttleProvider.stop_legs``)."""
        with self.lock:
            provider = self._current()
            answer = provider.stop_legs(query)
            # Offers are booked through /shuttle/bookings, never through the provider:
            # do not keep them (they would pile up in a long-running server).
            provider._offers.clear()
        return _LockedAnswer.wrap(answer, self.lock)

    def __getattr__(self, name: str) -> Any:
        with self.lock:
            return getattr(self._current(), name)


class _LockedAnswer:
    """Leg builders of a provider answer run later (when itineraries are built): lock them too."""

    @staticmethod
    def wrap(answer: Any, lock: Any) -> Any:
        legs = getattr(answer, "legs", None)
        if not legs:
            return answer
        for leg in legs:
            build = getattr(leg, "build", None)
            if build is None:
                continue

            def locked(start: Any, _build: Any = build) -> Any:
                with lock:
                    return _build(start)

            object.__setattr__(leg, "build", locked)
        return answer


def load_dispatcher(
    settings: Settings, *, network: RoadNetwork, timezone: str, chargers: ChargerStore | None
) -> FleetDispatcher:
    """Build the online dispatcher on the region's ``shuttle`` road network.

    Parameters
    ----------
    settings : Settings
        The fleet (``ELSTER_SHUTTLE_VEHICLES``, seats, wheelchair places).
    network : RoadNetwork
        The ``shuttle`` profile's network the vehicles drive on.
    timezone : str
        The region's zone.
    chargers : ChargerStore or None
        Charging points the electric vehicles may use.
    """
    from fleet.online.service import build_service

    def build(clock: PinnedClock) -> Any:
        return build_service(
            network.graph,
            network.hierarchy,
            network=network,
            n_vehicles=settings.shuttle_vehicles,
            seats=settings.shuttle_seats,
            wheelchairs=settings.shuttle_wheelchairs,
            timezone=timezone,
            chargers=chargers,
            quote_factory=ShuttleQuote,
            clock=clock,
        )

    return FleetDispatcher(build)
