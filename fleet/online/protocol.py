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

Vehicle reports (shift start and end, GPS fixes, stop events reported by
drivers) are the :attr:`Capability.LIVE` part: :class:`VehicleReport` is
their one typed record, :meth:`ShuttleDispatcher.report` applies one, and the
API's dispatch log stores and replays them like any other call. A report the
dispatcher refuses raises :class:`UnknownTargetError` (no such vehicle or
booking), :class:`EventConflictError` (out of order, not in that state) or
:class:`ImplausibleEventError` (impossible values); nothing changed then.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from routing.errors import RequestError

__all__ = [
    "REPORT_KINDS",
    "BookingMilestone",
    "Capability",
    "EventConflictError",
    "ImplausibleEventError",
    "NotCancellableError",
    "QuoteExpiredError",
    "ReportError",
    "ShuttleDispatcher",
    "ShuttleQuote",
    "ShuttleRequest",
    "UnknownTargetError",
    "VehicleMove",
    "VehicleReport",
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


class BookingMilestone(NamedTuple):
    """A step in a booking's life, as its passenger sees it.

    Attributes
    ----------
    status : str
        ``assigned``, ``arriving``, ``picked_up``, ``delayed``, ``completed``,
        ``no_show`` or ``cancelled_by_operator``.
    at : float
        UNIX instant it was reached.
    eta : float
        The pickup (or, on board, arrival) estimate then (NaN: none).
    reason : str
        Why (a delay, a move to another vehicle, an operator cancellation).
    """

    status: str
    at: float
    eta: float = math.nan
    reason: str = ""


#: What a vehicle can report (:attr:`VehicleReport.kind`).
REPORT_KINDS = (
    "shift_start",
    "shift_end",
    "position",
    "arrived",
    "picked_up",
    "dropped_off",
    "no_show",
    "out_of_service",
)


@dataclass(frozen=True)
class VehicleReport:
    """One report of a real vehicle or its driver (times in UNIX seconds).

    Attributes
    ----------
    vehicle : str
        Vehicle id (``V001``).
    kind : str
        One of :data:`REPORT_KINDS`.
    ts : float
        Device time the report is about.
    lat, lon : float or None
        Where (``shift_start`` and ``position``).
    booking : str or None
        The booking a stop event is about.
    stop : str
        ``pickup`` or ``dropoff`` (``arrived``).
    passengers, wheelchairs : int
        Capacity (``shift_start``) or people boarding (``picked_up``).
    soc_kwh : float or None
        Battery at ``shift_start``.
    reason : str
        ``out_of_service``: what happened.
    """

    vehicle: str
    kind: str
    ts: float
    lat: float | None = None
    lon: float | None = None
    booking: str | None = None
    stop: str = ""
    passengers: int = 0
    wheelchairs: int = 0
    soc_kwh: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (what the dispatch log stores)."""
        return {
            "vehicle": self.vehicle,
            "kind": self.kind,
            "ts": self.ts,
            "lat": self.lat,
            "lon": self.lon,
            "booking": self.booking,
            "stop": self.stop,
            "passengers": self.passengers,
            "wheelchairs": self.wheelchairs,
            "soc_kwh": self.soc_kwh,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VehicleReport:
        """Inverse of :meth:`to_dict` (unknown keys are ignored).

        Parameters
        ----------
        data : dict

        Returns
        -------
        VehicleReport
        """
        known: dict[str, Any] = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


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
    LIVE
        Vehicles are real: they move only when they report
        (:meth:`ShuttleDispatcher.report`); :meth:`ShuttleDispatcher.manifest`,
        :meth:`ShuttleDispatcher.booking_live`, :meth:`ShuttleDispatcher.day_kpis`
        and :meth:`ShuttleDispatcher.alerts` read the live state.
    """

    NONE = 0
    BOOK_NOW = enum.auto()
    PROGRESS = enum.auto()
    REOPTIMISE = enum.auto()
    REBALANCE = enum.auto()
    LIVE = enum.auto()


class QuoteExpiredError(RequestError):
    """The quoted promise can no longer be kept (the plans changed since); ask again."""


class NotCancellableError(RequestError):
    """The vehicle is on its way to the pickup or the passenger is on board; nothing changed."""


class ReportError(RequestError):
    """A vehicle report the dispatcher refused; nothing changed.

    Parameters
    ----------
    message : str
        What is wrong.
    fix : str
        What the reporter should do instead.
    """

    def __init__(self, message: str, *, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


class UnknownTargetError(ReportError):
    """A vehicle report names a vehicle or booking the dispatcher does not know."""


class EventConflictError(ReportError):
    """A vehicle report does not fit the state (out of order, not arrived, not on shift)."""


class ImplausibleEventError(ReportError):
    """A vehicle report is impossible (a GPS jump, a time in the future, a wrong count)."""


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
        """Milestones reached by now, in order (see :class:`BookingMilestone`)."""
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

    def report(self, report: VehicleReport) -> dict[str, Any]:
        """Apply a vehicle's report now; what it changed (``moved``, ``rescued``, ...).

        Raises :class:`UnknownTargetError`, :class:`EventConflictError` or
        :class:`ImplausibleEventError` without changing anything.
        """
        ...

    def manifest(self, vehicle: str) -> list[dict[str, Any]]:
        """The vehicle's next stops in order, with planned times (UNIX seconds)."""
        ...

    def booking_live(self, booking_id: str) -> dict[str, Any] | None:
        """Where a booking's vehicle is and its ETAs (None when no vehicle has it)."""
        ...

    def day_kpis(self) -> dict[str, float]:
        """The service figures of the day so far."""
        ...

    def alerts(self) -> list[dict[str, Any]]:
        """What needs a dispatcher's attention now (times in UNIX seconds)."""
        ...
