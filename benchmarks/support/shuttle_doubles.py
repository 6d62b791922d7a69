"""A stand-in of the shuttle dispatch protocol, for measuring and testing the booking service.

Used by ``benchmarks.api_load`` (the service layer alone, as ``crash_app``) and by
the booking tests.

This is not a dispatcher: it keeps a seat ledger per 15-minute pickup slot so
that quotes, commits, cancellations and restarts have observable effects.
It subclasses :class:`fleet.online.protocol.ShuttleDispatcher` explicitly, so
mypy checks it against the protocol (a missing method is an error). The
production build wires the fleet's online dispatcher (or answers 503).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

from fleet.online.protocol import (
    BookingMilestone,
    Capability,
    EventConflictError,
    ShuttleDispatcher,
    ShuttleQuote,
    ShuttleRequest,
    VehicleMove,
    VehicleReport,
)
from routing.geo import haversine_m

SLOT_S = 900.0


class SeatLedgerDispatcher(ShuttleDispatcher):
    """Accepts a trip while its pickup slot has seats left; one vehicle id per slot.

    It quotes, then commits (no one-step booking), and neither executes its
    plans nor improves them: it declares no :class:`Capability`.
    """

    capabilities = Capability.NONE

    def __init__(self, seats_per_slot: int = 1000) -> None:
        self.seats_per_slot = seats_per_slot
        self.booked: dict[str, tuple[int, int]] = {}  # booking id -> (slot, seats)
        self._per_slot: Counter[int] = Counter()  # slot -> seats booked
        self.resets = 0
        self._lock = threading.Lock()

    def _slot(self, request: ShuttleRequest) -> int:
        return int(request.earliest_pickup // SLOT_S)

    def _used(self, slot: int) -> int:
        return self._per_slot[slot]

    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        slot = self._slot(request)
        with self._lock:
            if self._used(slot) + request.passengers > self.seats_per_slot:
                return ShuttleQuote(
                    accepted=False, reason=f"all {self.seats_per_slot} seats of this slot are taken"
                )
        metres = float(haversine_m(*request.origin, *request.destination))
        start = request.earliest_pickup
        return ShuttleQuote(
            accepted=True,
            pickup_earliest=start,
            pickup_latest=start + 600,
            dropoff_eta=start + 600 + metres / 8.0,
            price_eur=round(2.0 + metres / 1000 * 0.5, 2),
            vehicle_id=f"slot-{slot % 7}",
        )

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None:
        with self._lock:
            slot = self._slot(request)
            self.booked[booking_id] = (slot, request.passengers)
            self._per_slot[slot] += request.passengers

    def book_now(self, booking_id: str, request: ShuttleRequest) -> ShuttleQuote:
        """Quote and commit (not used by the booking service: no ``BOOK_NOW`` capability)."""
        quote = self.quote(request)
        if quote.accepted:
            self.commit(booking_id, request, quote)
        return quote

    def cancel(self, booking_id: str) -> None:
        with self._lock:
            found = self.booked.pop(booking_id, None)
            if found is not None:
                self._per_slot[found[0]] -= found[1]

    def reset(self, origin_unix: float) -> None:
        """Empty ledger (the booking service replays the dispatch log into it)."""
        with self._lock:
            self.booked.clear()
            self._per_slot.clear()
            self.resets += 1

    def pin_clock(self, unix: float) -> None:
        """The ledger has no clock: slots come from the requested pickup time."""

    def progress(self, booking_ids: list[str]) -> dict[str, list[BookingMilestone]]:
        """The ledger runs no vehicles: no booking ever progresses."""
        return {}

    def reoptimise(self) -> dict[str, float]:
        """Nothing to improve."""
        return {"requests": 0.0}

    def rebalance_moves(self) -> list[VehicleMove]:
        """No vehicles to move."""
        return []

    def reposition(self, move: VehicleMove) -> bool:
        """No vehicles to move."""
        return False

    def vehicles(self) -> list[dict[str, Any]]:
        with self._lock:
            per_vehicle = Counter(f"slot-{slot % 7}" for slot, _ in self.booked.values())
        return [
            {
                "id": v,
                "capacity": self.seats_per_slot,
                "onboard": 0,
                "stops": [],
                "bookings": n,
            }
            for v, n in sorted(per_vehicle.items())
        ]

    def report(self, report: VehicleReport) -> dict[str, Any]:
        """The ledger has no real vehicles (no ``Capability.LIVE``)."""
        raise EventConflictError(
            "this dispatcher has no real vehicles", fix="run the fleet's live dispatcher"
        )

    def manifest(self, vehicle: str) -> list[dict[str, Any]]:
        """No vehicles, no stops."""
        return []

    def booking_live(self, booking_id: str) -> dict[str, Any] | None:
        """No vehicles to show."""
        return None

    def day_kpis(self) -> dict[str, float]:
        """Nothing is served by the ledger."""
        return {}

    def alerts(self) -> list[dict[str, Any]]:
        """Nothing to watch."""
        return []


def crash_app() -> Any:
    """uvicorn factory for the crash test: settings from ELSTER_* plus the seat ledger."""
    from api.app import create_app

    seats = int(os.environ.get("ELSTER_TEST_SEATS", "100000"))
    return create_app(dispatcher=SeatLedgerDispatcher(seats))
