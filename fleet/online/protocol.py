"""The shuttle dispatch protocol: what a booking front end may ask of a dispatcher.

One protocol, one implementation (:class:`fleet.online.service.OnlineShuttle`,
the online dispatcher in UNIX seconds), and test doubles that implement the
same protocol so that mypy checks them. The API's booking service
(:mod:`api.services.shuttle`) talks to a dispatcher only through it.

Determinism is the contract that lets several processes share one plan:
every call happens at the instant last given to :meth:`ShuttleDispatcher.pin_clock`,
and the same calls at the same instants give the same plans. That is what
makes the API's dispatch log (a replay of these calls) work.

What a dispatcher can do beyond quote, book and cancel is declared in
:attr:`ShuttleDispatcher.capabilities` (:class:`Capability`), never probed for.
A method whose capability is not declared must still exist and do nothing
(the protocol is total), so a caller that forgets to check cannot crash.

Vehicle events (shift start and end, positions, stop events reported by
drivers) will be one more capability with its own typed records here; the
dispatch log then stores them like any other call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from routing.errors import RequestError

__all__ = [
    "BookingMilestone",
    "Capability",
    "NotCancellableError",
    "QuoteExpiredError",
    "ShuttleDispatcher",
    "ShuttleQuote",
    "ShuttleRequest",
    "VehicleMove",
]


@dataclass(frozen=True)
class ShuttleRequest:
    """A passenger's request for a ride (times in UNIX seconds).

    Attributes
    ----------
    origin, destination : (lat, lon)
        Pickup and drop-off points.
    earliest_pickup : float
        Earliest time the passenger can be picked up.
    passengers : int
        Seats needed.
    wheelchairs : int
        Wheelchair places needed.
    """

    origin: tuple[float, float]
    destination: tuple[float, float]
    earliest_pickup: float
    passengers: int = 1
    wheelchairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tuples become lists)."""
        return {
            "origin": list(self.origin),
            "destination": list(self.destination),
            "earliest_pickup": self.earliest_pickup,
            "passengers": self.passengers,
            "wheelchairs": self.wheelchairs,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShuttleRequest:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        data : dict
            As written by :meth:`to_dict` (``passengers`` and ``wheelchairs`` optional).

        Returns
        -------
        ShuttleRequest
        """
        return cls(
            origin=(float(data["origin"][0]), float(data["origin"][1])),
            destination=(float(data["destination"][0]), float(data["destination"][1])),
            earliest_pickup=float(data["earliest_pickup"]),
            passengers=int(data.get("passengers", 1)),
            wheelchairs=int(data.get("wheelchairs", 0)),
        )


@dataclass(frozen=True)
class ShuttleQuote:
    """A dispatcher's answer: an offer (pickup window, arrival, price, vehicle) or a refusal.

    Attributes
    ----------
    accepted : bool
        Whether a vehicle can serve the trip.
    reason : str
        Why not (empty when accepted).
    pickup_earliest, pickup_latest : float or None
        The promised pickup window (UNIX seconds).
    dropoff_eta : float or None
        Planned arrival (UNIX seconds).
    price_eur : float or None
    vehicle_id : str or None
        The planned vehicle.
    extra : dict
        What the dispatcher needs to keep this exact promise later (the online
        dispatcher: ``pickup_eta``, ``dropoff_latest``, ``max_ride_s``).
    """

    accepted: bool
    reason: str = ""
    pickup_earliest: float | None = None
    pickup_latest: float | None = None
    dropoff_eta: float | None = None
    price_eur: float | None = None
    vehicle_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (fields spelled out: ``asdict`` deep-copies, slowly)."""
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "pickup_earliest": self.pickup_earliest,
            "pickup_latest": self.pickup_latest,
            "dropoff_eta": self.dropoff_eta,
            "price_eur": self.price_eur,
            "vehicle_id": self.vehicle_id,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShuttleQuote:
        """Inverse of :meth:`to_dict` (unknown keys are ignored).

        Parameters
        ----------
        data : dict
            As written by :meth:`to_dict`.

        Returns
        -------
        ShuttleQuote
        """
        known: dict[str, Any] = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


#: A booking's milestone and the UNIX instant it was reached: ``("picked_up", 1.7e9)``.
BookingMilestone = tuple[str, float]


@dataclass(frozen=True)
class VehicleMove:
    """A repositioning the dispatcher proposes: send idle ``vehicle`` toward ``target``.

    Attributes
    ----------
    vehicle : int
        Vehicle index.
    target : int
        A location of the dispatcher's travel model.
    """

    vehicle: int
    target: int


class Capability(enum.Flag):
    """What a dispatcher does beyond quote, commit and cancel.

    Attributes
    ----------
    BOOK_NOW
        :meth:`ShuttleDispatcher.book_now` decides and books in one step (half
        the work of quote + commit); without it the caller quotes, then commits.
    PROGRESS
        :meth:`ShuttleDispatcher.progress` reports the milestones bookings reach
        (the dispatcher executes its plans over time).
    REOPTIMISE
        :meth:`ShuttleDispatcher.reoptimise` improves the open plans.
    REBALANCE
        :meth:`ShuttleDispatcher.rebalance_moves` and :meth:`ShuttleDispatcher.reposition`
        move idle vehicles toward expected demand.
    """

    NONE = 0
    BOOK_NOW = enum.auto()
    PROGRESS = enum.auto()
    REOPTIMISE = enum.auto()
    REBALANCE = enum.auto()


class QuoteExpiredError(RequestError):
    """The quoted promise can no longer be kept (the plans changed since); ask again."""


class NotCancellableError(RequestError):
    """The vehicle is on its way to the pickup or the passenger is on board; nothing changed."""


class ShuttleDispatcher(Protocol):
    """What a booking front end needs from a dispatcher (times in UNIX seconds).

    ``quote`` must not change the plans; ``commit`` inserts the quoted trip into
    a vehicle's plan (it raises :class:`QuoteExpiredError` when the plans changed
    since the quote). Every call happens at the instant last given to
    ``pin_clock``, so that replaying the same calls at the same instants gives
    the same plans in every worker process. ``reset`` empties the plans and
    sets the clock origin (UNIX seconds of dispatcher second 0).

    ``cancel`` may refuse with :class:`NotCancellableError`; it has then changed nothing.

    Attributes
    ----------
    capabilities : Capability
        The optional work this dispatcher does (see :class:`Capability`).
    """

    capabilities: Capability

    def reset(self, origin_unix: float) -> None:
        """Empty the plans; dispatcher second 0 is ``origin_unix``."""
        ...

    def pin_clock(self, unix: float) -> None:
        """Every following call happens at ``unix``."""
        ...

    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """An offer for ``request``; nothing is booked."""
        ...

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None:
        """Book exactly the quoted promise, or raise :class:`QuoteExpiredError`."""
        ...

    def book_now(self, booking_id: str, request: ShuttleRequest) -> ShuttleQuote:
        """Quote and book in one decision; a refusal (``accepted`` false) changes nothing."""
        ...

    def cancel(self, booking_id: str) -> None:
        """Take a booking out of the plans (unknown ids are ignored)."""
        ...

    def progress(self, booking_ids: list[str]) -> dict[str, list[BookingMilestone]]:
        """Milestones (``assigned``, ``picked_up``, ``completed``) reached by now, in order."""
        ...

    def reoptimise(self) -> dict[str, float]:
        """Improve the open plans, keeping every promise.

        The answer has ``requests``: open requests considered (0: nothing could change).
        """
        ...

    def rebalance_moves(self) -> list[VehicleMove]:
        """Where idle vehicles should go for the demand expected soon (changes nothing)."""
        ...

    def reposition(self, move: VehicleMove) -> bool:
        """Send an idle vehicle toward a target now; False when it cannot go."""
        ...

    def vehicles(self) -> list[dict[str, Any]]:
        """Every vehicle with its position, load and planned stops (the operator view)."""
        ...
