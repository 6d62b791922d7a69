"""The fleet's online dispatcher behind the booking API.

:func:`load_dispatcher` builds :class:`fleet.online.service.ShuttleService` on
the region's car graph and hierarchy; :class:`FleetDispatcher` only maps the
fleet's "quote can no longer be kept" error to the API's rejection (a 4xx that
says to ask again), so the booking service never confirms a trip the fleet
refused.
"""

from __future__ import annotations

from typing import Any

from api.errors import RejectedError
from api.services.shuttle import ShuttleQuote, ShuttleRequest
from api.state import RegionState
from routing.errors import RequestError


class FleetDispatcher:
    """The ``ShuttleDispatcher`` protocol over a fleet ``ShuttleService``."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """An offer for ``request``; nothing is booked."""
        return self.service.quote(request)

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None:
        """Book exactly the quoted promise, or refuse when the plans changed since."""
        try:
            self.service.commit(booking_id, request, quote)
        except RequestError as exc:
            raise RejectedError(str(exc), fix="ask for a new quote") from None

    def cancel(self, booking_id: str) -> None:
        """Take a booking out of the vehicle plans."""
        self.service.cancel(booking_id)

    def restore(self, bookings: list[tuple[str, ShuttleRequest, ShuttleQuote]]) -> None:
        """Re-book the open bookings after a restart, oldest first."""
        self.service.restore(bookings)

    def vehicles(self) -> list[dict[str, Any]]:
        """The dispatcher's view of every vehicle."""
        return self.service.vehicles()


def load_dispatcher(state: RegionState) -> FleetDispatcher:
    """Build the online dispatcher for the loaded region (needs the car graph and its CH)."""
    from fleet.online.service import build_service

    settings = state.settings
    if settings.shuttle_vehicles == 0:
        raise ImportError("shuttle service off (ELSTER_SHUTTLE_VEHICLES=0)", name="shuttle")
    if "car" not in state.graphs or "car" not in state.hierarchies:
        raise ImportError("the shuttle needs the car profile (ELSTER_PROFILES)", name="shuttle")
    service = build_service(
        state.graphs["car"],
        state.hierarchies["car"],
        n_vehicles=settings.shuttle_vehicles,
        seats=settings.shuttle_seats,
        wheelchairs=settings.shuttle_wheelchairs,
        timezone=state.region.timezone,
        chargers=state.chargers,
        quote_factory=ShuttleQuote,
    )
    return FleetDispatcher(service)
