"""Shuttle booking: a small dispatcher protocol and the durable booking service on top.

The API does not decide who gets a seat; a dispatcher does. Any object with
``quote / commit / cancel / restore / vehicles`` (see :class:`ShuttleDispatcher`)
can serve, and the fleet's online dispatcher is wrapped to fit in
:mod:`api.services.fleet_adapter`. The booking service adds what a passenger
needs from the service around it: idempotent creation, a token per booking,
durable state changes, and a reload of open bookings after a restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from api.errors import AuthError, ConflictError, NotFoundError, RejectedError, UnavailableError
from api.storage import Booking, BookingStore
from routing.errors import DataError

logger = logging.getLogger(__name__)

NOT_AVAILABLE = "shuttle dispatch not available in this build"


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
        """Inverse of :meth:`to_dict`."""
        return cls(
            origin=(float(data["origin"][0]), float(data["origin"][1])),
            destination=(float(data["destination"][0]), float(data["destination"][1])),
            earliest_pickup=float(data["earliest_pickup"]),
            passengers=int(data.get("passengers", 1)),
            wheelchairs=int(data.get("wheelchairs", 0)),
        )


@dataclass(frozen=True)
class ShuttleQuote:
    """A dispatcher's answer: an offer (pickup window, arrival, price, vehicle) or a refusal."""

    accepted: bool
    reason: str = ""
    pickup_earliest: float | None = None
    pickup_latest: float | None = None
    dropoff_eta: float | None = None
    price_eur: float | None = None
    vehicle_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShuttleQuote:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


class ShuttleDispatcher(Protocol):
    """What the booking service needs from a dispatcher.

    ``quote`` must not change state; ``commit`` inserts the quoted trip into the
    vehicle's plan (it may raise :class:`RejectedError` when the plan changed
    since the quote); ``restore`` is called once at startup with every open
    booking from the database, oldest first.
    """

    def quote(self, request: ShuttleRequest) -> ShuttleQuote: ...

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None: ...

    def cancel(self, booking_id: str) -> None: ...

    def restore(self, bookings: list[tuple[str, ShuttleRequest, ShuttleQuote]]) -> None: ...

    def vehicles(self) -> list[dict[str, Any]]: ...


class BookingService:
    """Durable, idempotent shuttle bookings over a :class:`ShuttleDispatcher`.

    Parameters
    ----------
    store : BookingStore
        Where bookings live.
    dispatcher : ShuttleDispatcher or None
        None when this build has no dispatcher: every shuttle call then answers 503.
    on_outcome : callable, optional
        Called with ``"created" | "replayed" | "rejected" | "cancelled"`` (metrics).
    """

    def __init__(
        self,
        store: BookingStore,
        dispatcher: ShuttleDispatcher | None,
        *,
        on_outcome: Any = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self._on_outcome = on_outcome or (lambda outcome: None)
        # One booking at a time: quote and commit must see the same vehicle plans.
        self._lock = threading.Lock()
        if dispatcher is not None:
            restored = [
                (b.id, ShuttleRequest.from_dict(b.request), ShuttleQuote.from_dict(b.quote))
                for b in store.open_bookings()
            ]
            dispatcher.restore(restored)
            logger.info("shuttle dispatcher restored with %d open bookings", len(restored))

    @property
    def available(self) -> bool:
        """Whether a dispatcher is wired in."""
        return self.dispatcher is not None

    def _need_dispatcher(self) -> ShuttleDispatcher:
        if self.dispatcher is None:
            raise UnavailableError(NOT_AVAILABLE, fix="plan with walk, bike or transit instead")
        return self.dispatcher

    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """Ask the dispatcher for an offer without booking it."""
        return self._need_dispatcher().quote(request)

    def book(
        self,
        request: ShuttleRequest,
        *,
        idempotency_key: str | None = None,
        fingerprint: dict[str, Any] | None = None,
    ) -> tuple[Booking, str, bool]:
        """Quote, store and commit a booking; replay the stored one for a known key.

        ``fingerprint`` identifies a retry (the client's body as sent); default the request.

        Returns
        -------
        (Booking, str, bool)
            The booking, the passenger's token and whether it was created now.
        """
        dispatcher = self._need_dispatcher()
        payload = request.to_dict()
        print_ = fingerprint if fingerprint is not None else payload
        if idempotency_key is not None:
            replay = self._replay(idempotency_key, print_)
            if replay is not None:
                return replay
        with self._lock:
            if idempotency_key is not None:
                replay = self._replay(idempotency_key, print_)
                if replay is not None:
                    return replay
            quote = dispatcher.quote(request)
            if not quote.accepted:
                self._on_outcome("rejected")
                raise RejectedError(
                    f"no shuttle can serve this trip: {quote.reason}",
                    fix="try a later pickup time or fewer passengers",
                )
            try:
                booking, created = self.store.create(
                    request=payload,
                    quote=quote.to_dict(),
                    idempotency_key=idempotency_key,
                    fingerprint=print_,
                )
            except DataError as exc:
                raise ConflictError(str(exc), fix="use a new Idempotency-Key") from None
            if created:
                try:
                    dispatcher.commit(booking.id, request, quote)
                except Exception:
                    # The plan changed under us: the booking must not stay confirmed.
                    self.store.set_status(booking.id, "cancelled", "dispatcher refused commit")
                    raise
                self._on_outcome("created")
            else:
                self._on_outcome("replayed")
        return booking, self.store.token_for(booking.id), created

    def _replay(self, key: str, payload: dict[str, Any]) -> tuple[Booking, str, bool] | None:
        from api.storage.bookings import request_digest

        found = self.store.find_by_idempotency_key(key)
        if found is None:
            return None
        booking, digest = found
        if digest != request_digest(payload):
            raise ConflictError(
                f"Idempotency-Key {key!r} was already used for a different booking request",
                fix="use a new Idempotency-Key for a new trip",
            )
        self._on_outcome("replayed")
        return booking, self.store.token_for(booking.id), False

    def get(self, booking_id: str, token: str | None) -> Booking:
        """Return a booking to the holder of its token (404 otherwise: ids are not probeable)."""
        booking = self.store.get(booking_id)
        if booking is None or not self.store.check_token(booking_id, token):
            if booking is not None and not token:
                raise AuthError(
                    "this booking needs its token",
                    fix="send the token returned at creation in the X-Booking-Token header",
                )
            raise NotFoundError(
                f"no booking {booking_id!r} for this token",
                fix="check the booking id and the X-Booking-Token header",
            )
        return booking

    def cancel(self, booking_id: str, token: str | None) -> Booking:
        """Cancel an open booking for the holder of its token."""
        booking = self.get(booking_id, token)
        if booking.status == "cancelled":
            return booking
        if not booking.is_open:
            raise ConflictError(
                f"booking {booking_id} is {booking.status} and can no longer be cancelled",
                fix="only confirmed or assigned bookings can be cancelled",
            )
        with self._lock:
            booking = self.store.set_status(booking_id, "cancelled", "cancelled by passenger")
            if self.dispatcher is not None:
                self.dispatcher.cancel(booking_id)
        self._on_outcome("cancelled")
        return booking
