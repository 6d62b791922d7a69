"""The state of one shuttle while the day runs, and the log of what it did.

A vehicle is always described by *where it can next plan from*: ``loc`` is the
location it is at or driving to (its committed next stop, which can no longer
change), ``t_free`` the time it can leave from there (after serving that stop,
or after charging), and the passengers on board with their drop-off deadlines.
Everything after that is the *plan*: stops not yet started, which insertion
and re-optimisation may reorder as long as every promise holds.

An idle vehicle sent toward expected demand (repositioning) is the exception:
its trip is not committed, so it can be diverted at the next road node it
reaches (``move``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from fleet.online.travel import Path


class Mode(StrEnum):
    """What a vehicle is doing."""

    IDLE = "idle"  # no stops planned, parked at ``loc``
    SERVING = "serving"  # stops planned or passengers on board
    REPOSITIONING = "repositioning"  # empty, driving toward expected demand (divertible)
    CHARGING = "charging"  # driving to a charger or charging (unavailable until t_free)


@dataclass
class Move:
    """An interruptible empty trip (repositioning)."""

    path: Path
    depart: float
    soc_kwh: float  # at departure

    @property
    def arrival(self) -> float:
        """When the trip ends if not diverted."""
        return self.depart + float(self.path.seconds[-1])

    def heading(self, now: float) -> int:
        """Index of the path location the vehicle is at or driving to at ``now``."""
        i = int(np.searchsorted(self.path.seconds, now - self.depart, side="left"))
        return min(i, self.path.locations.shape[0] - 1)


@dataclass
class VehicleState:
    """One vehicle (see the module docstring).

    Attributes
    ----------
    index : int
        Row in the dispatcher's route arrays.
    name : str
        Display id.
    seats, wheelchairs : int
        Capacity.
    depot : int
        Location where the shift starts.
    shift : (float, float)
        Service hours.
    start : int
        Stop-pool id of the vehicle's start node (its ``loc``).
    loc : int
        Location it plans from.
    t_free : float
        When it can leave ``loc``.
    n_onboard : int
        Passengers' requests on board (their pickups follow the start in the route).
    soc_kwh : float
        Battery energy at ``t_free`` (inf for a vehicle without battery).
    mode : Mode
    move : Move or None
        The repositioning trip in progress.
    version : int
        Bumped whenever the plan changes (stale events are ignored).
    """

    index: int
    name: str
    seats: int
    wheelchairs: int
    depot: int
    shift: tuple[float, float]
    start: int
    loc: int
    t_free: float
    soc_kwh: float = math.inf
    n_onboard: int = 0
    mode: Mode = Mode.IDLE
    move: Move | None = None
    version: int = 0
    low_battery: bool = False


@dataclass(frozen=True)
class LegRecord:
    """One driven leg.

    ``kind`` is ``service`` (to a stop), ``reposition`` or ``charge`` (to a
    charger); ``persons`` and ``requests`` count who was on board.
    """

    vehicle: int
    kind: str
    origin: int
    destination: int
    depart: float
    arrive: float
    metres: float
    persons: int
    requests: int


@dataclass(frozen=True)
class StopRecord:
    """One served stop: who boarded or alighted, and when."""

    vehicle: int
    request: int
    kind: str  # "pickup" | "dropoff"
    loc: int
    arrive: float
    service_start: float
    depart: float
    seats: int
    wheelchairs: int


@dataclass(frozen=True)
class ChargeRecord:
    """One charging session."""

    vehicle: int
    site: int
    loc: int
    arrive: float
    start: float
    end: float
    kwh_before: float
    kwh_after: float


@dataclass
class RequestRecord:
    """Everything known about one request (input, decision, execution)."""

    index: int
    trip: object  # fleet.online.promises.Trip
    status: str = "new"  # rejected | assigned | onboard | done | cancelled
    reason: str = ""
    promise: object | None = None  # fleet.online.promises.Promise
    vehicle: int = -1
    pickup_stop: int = -1
    dropoff_stop: int = -1
    seats: int = 0
    wheelchairs: int = 0
    direct_s: float = math.nan
    direct_m: float = math.nan
    max_ride_s: float = math.nan
    dispatched_at: float = math.nan  # the vehicle set off for the pickup (it is committed)
    pickup_time: float = math.nan
    pickup_depart: float = math.nan
    dropoff_time: float = math.nan
    decided_at: float = math.nan
    extra: dict = field(default_factory=dict)
