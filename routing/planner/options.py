"""Candidates (cheap, criteria only) and planned itineraries (legs drawn, criteria from legs).

Modes produce :class:`Candidate` objects with their criteria and a ``build``
callback; only candidates on the Pareto front are built into legs, which is
where the geometry work happens. A :class:`PlannedItinerary` recomputes its
criteria from its legs, so what is reported is what was filtered.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from routing.planner.pareto import Criteria
from routing.transit.itinerary import Itinerary, Leg

EFFORT_MODES = frozenset({"WALK", "BICYCLE"})


def criteria(arrival: float, transfers: int, effort_s: float, cost_eur: float) -> Criteria:
    """The integer criteria vector (arrival s, transfers, effort s, cost cents)."""
    return (
        math.ceil(arrival - 1e-6),
        int(transfers),
        round(effort_s),
        round(cost_eur * 100),
    )


LegsBuilder = Callable[[], "list[Leg] | None"]
"""Draws an option's legs, or returns None when it turns out impossible."""
Answers = dict[Any, Any]
"""Provider answers shared between the modes of one plan (asked once, reused)."""


@dataclass
class Candidate:
    """A possible itinerary of one mode, before its legs are drawn.

    Times are POSIX seconds. ``build`` returns the legs, or None when the
    itinerary turns out impossible while drawing (then it is dropped).
    """

    mode: str
    departure: float
    arrival: float
    transfers: int
    effort_s: float
    cost_eur: float
    build: LegsBuilder
    n_legs: int = 1

    @property
    def criteria(self) -> Criteria:
        """Integer criteria vector for the Pareto filter."""
        return criteria(self.arrival, self.transfers, self.effort_s, self.cost_eur)


@dataclass
class PlannedItinerary:
    """An itinerary of the plan: its legs plus the mode that produced it and its criteria.

    Attributes
    ----------
    mode : str
        Planner mode (``walk``, ``transit``, ``bike_ride``, ``ev``, ...).
    itinerary : Itinerary
        The legs (MOTIS/OTP shape via ``to_dict()``).
    """

    mode: str
    itinerary: Itinerary
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def legs(self) -> list[Leg]:
        """Legs in travel order."""
        return self.itinerary.legs

    @property
    def start(self) -> dt.datetime:
        """Departure from the origin."""
        return self.itinerary.start

    @property
    def end(self) -> dt.datetime:
        """Arrival at the destination."""
        return self.itinerary.end

    @property
    def transfers(self) -> int:
        """Changes between transit vehicles."""
        return self.itinerary.transfers

    @property
    def effort_s(self) -> float:
        """Seconds walking or cycling."""
        return float(
            sum(
                (leg.end - leg.start).total_seconds()
                for leg in self.legs
                if leg.mode in EFFORT_MODES
            )
        )

    @property
    def cost_eur(self) -> float:
        """Sum of the legs' known costs."""
        return float(sum(leg.extra.get("cost", {}).get("amount", 0.0) for leg in self.legs))

    @property
    def criteria(self) -> Criteria:
        """Integer criteria vector, computed from the legs."""
        return criteria(self.end.timestamp(), self.transfers, self.effort_s, self.cost_eur)

    def to_dict(self) -> dict[str, Any]:
        """MOTIS/OTP itinerary plus ``mode``, ``cost`` and ``effort`` (seconds)."""
        out = self.itinerary.to_dict()
        out["mode"] = self.mode
        out["cost"] = {"amount": round(self.cost_eur, 2), "currency": "EUR"}
        out["effort"] = round(self.effort_s)
        out.update(self.tags)
        return out
