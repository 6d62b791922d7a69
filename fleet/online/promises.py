"""What a passenger asks for, what the operator promises, and the rules between them.

A *promise* is made when a request is accepted: a pickup window (earliest
pickup to the latest pickup) and a latest drop-off. It is derived from the
rules of the service:

* the wait after the earliest pickup is at most ``max_wait_s``;
* the ride is at most ``alpha * direct + beta`` seconds (direct = the car
  travel time from pickup to drop-off);
* the drop-off is no later than the request's latest arrival, when it has one.

With ``pickup_tolerance_s`` the pickup window is tightened at acceptance to the
planned pickup plus that tolerance (as services that announce "your shuttle
comes at 8:12, at most 5 minutes later" do); later changes to the plan
(insertions, re-optimisation) must keep every promise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from routing.errors import RequestError


@dataclass(frozen=True, kw_only=True)
class PromiseRules:
    """Rules for accepting requests and the promises made.

    Attributes
    ----------
    max_wait_s : float
        Latest pickup = earliest pickup + this.
    alpha, beta : float
        Maximum ride time = ``alpha * direct + beta`` seconds.
    pickup_tolerance_s : float or None
        Promise the planned pickup plus this (capped by ``max_wait_s``); None
        promises the whole max-wait window.
    boarding_s, alighting_s : float
        Service time at a pickup and at a drop-off (must be positive at pickups).
    honour_latest_arrival : bool
        Use the request's latest arrival as a drop-off deadline.
    """

    max_wait_s: float = 900.0
    alpha: float = 1.5
    beta: float = 300.0
    pickup_tolerance_s: float | None = 300.0
    boarding_s: float = 30.0
    alighting_s: float = 30.0
    honour_latest_arrival: bool = True

    def __post_init__(self) -> None:
        if not self.max_wait_s > 0:
            raise RequestError(f"max_wait_s must be positive, got {self.max_wait_s}")
        if self.alpha < 1.0 or self.beta < 0:
            raise RequestError(
                f"ride-time rule alpha * direct + beta needs alpha >= 1 and beta >= 0, "
                f"got alpha={self.alpha}, beta={self.beta}"
            )
        if not self.boarding_s > 0 or self.alighting_s < 0:
            raise RequestError(
                "boarding_s must be positive and alighting_s non-negative "
                f"(got {self.boarding_s}, {self.alighting_s})"
            )
        if self.pickup_tolerance_s is not None and self.pickup_tolerance_s < 0:
            raise RequestError(f"pickup_tolerance_s must be >= 0, got {self.pickup_tolerance_s}")

    def max_ride(self, direct_s: float) -> float:
        """Maximum ride time for a trip of ``direct_s`` seconds."""
        return self.alpha * direct_s + self.beta


@dataclass(frozen=True, kw_only=True)
class Tariff:
    """Fare of a shuttle ride: base fee plus a price per direct kilometre (EUR)."""

    base_eur: float = 1.5
    per_km_eur: float = 0.3
    per_extra_passenger_eur: float = 1.0

    def price(self, direct_m: float, passengers: int) -> float:
        """Fare in EUR, rounded to cents."""
        fare = self.base_eur + self.per_km_eur * direct_m / 1000.0
        fare += self.per_extra_passenger_eur * max(0, passengers - 1)
        return round(fare, 2)


@dataclass(frozen=True, kw_only=True)
class Trip:
    """One ride request as the dispatcher sees it (times in dispatcher seconds).

    Attributes
    ----------
    id : str
        Caller's id (request id, booking id).
    origin, destination : (lat, lon)
        Pickup and drop-off points.
    request_time : float
        When the request was made.
    earliest_pickup : float
        When the passenger is ready.
    latest_arrival : float
        Latest arrival at the destination (inf: none).
    passengers : int
        Seats needed.
    wheelchairs : int
        Wheelchair places needed.
    origin_loc, destination_loc : int
        Travel-model locations when already known (-1: locate from coordinates).
    """

    id: str
    origin: tuple[float, float]
    destination: tuple[float, float]
    request_time: float
    earliest_pickup: float
    latest_arrival: float = math.inf
    passengers: int = 1
    wheelchairs: int = 0
    origin_loc: int = -1
    destination_loc: int = -1

    def __post_init__(self) -> None:
        if self.passengers < 0 or self.wheelchairs < 0 or self.passengers + self.wheelchairs < 1:
            raise RequestError(
                f"request {self.id}: needs at least one passenger or wheelchair "
                f"(got passengers={self.passengers}, wheelchairs={self.wheelchairs})"
            )
        if not math.isfinite(self.earliest_pickup):
            raise RequestError(f"request {self.id}: earliest pickup must be a finite time")


@dataclass(frozen=True)
class Promise:
    """A decision on a request: accepted with a promise, or rejected with a reason.

    Attributes
    ----------
    accepted : bool
    reason : str
        Why it was rejected ("" when accepted).
    pickup_earliest, pickup_latest : float
        The promised pickup window.
    pickup_eta : float
        Planned pickup time when decided.
    dropoff_latest : float
        Promised latest drop-off.
    dropoff_eta : float
        Planned drop-off time when decided.
    max_ride_s, direct_s, direct_m : float
        Ride-time limit and the direct trip.
    vehicle : int
        Vehicle index (-1 when rejected).
    price_eur : float
        Fare.
    added_cost : float
        Cost the insertion added to the vehicle's plan.
    """

    accepted: bool
    reason: str = ""
    pickup_earliest: float = math.nan
    pickup_latest: float = math.nan
    pickup_eta: float = math.nan
    dropoff_latest: float = math.nan
    dropoff_eta: float = math.nan
    max_ride_s: float = math.nan
    direct_s: float = math.nan
    direct_m: float = math.nan
    vehicle: int = -1
    price_eur: float = math.nan
    added_cost: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }
