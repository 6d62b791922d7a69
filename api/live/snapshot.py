"""The realtime state planners read: one immutable snapshot, replaced whole on every change.

A :class:`RealtimeSnapshot` holds the transit network with the TripUpdates
applied (or the scheduled one), what the update did, the alerts in force and
the vehicle positions, and which feeds contributed. A request takes the
current snapshot once (one attribute read) and uses it to the end, so a
concurrent update never changes a plan half-way and never makes it wait.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from routing.transit.alerts import AlertIndex
from routing.transit.realtime import RealtimeReport, TripIndex, apply_trip_updates
from routing.transit.vehicles import VehiclePosition


@dataclass(frozen=True)
class FeedState:
    """One live feed's part in a snapshot (GTFS-RT, or station, charger and vehicle feeds)."""

    key: str
    kind: str
    used: bool
    expired: bool
    age_s: float | None
    max_age_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON shape in plan responses."""
        return {
            "feed": self.key,
            "kind": self.kind,
            "used": self.used,
            "expired": self.expired,
            "ageSeconds": None if self.age_s is None else round(self.age_s, 1),
            "maxAgeSeconds": self.max_age_s,
        }


@dataclass(frozen=True)
class RealtimeSnapshot:
    """Everything realtime a request reads (never modified once published).

    Attributes
    ----------
    version : int
        Counts the snapshots of this process.
    scheduled : TransitNetwork or None
        The static network.
    network : TransitNetwork or None
        The network planned on: TripUpdates applied, or ``scheduled``.
    report : RealtimeReport or None
        What the TripUpdates did (None: planning on the schedule).
    alerts : AlertIndex
    vehicles : tuple of VehiclePosition
    feeds : tuple of FeedState
    created_at : float
        Unix time it was built.
    """

    version: int
    scheduled: Any
    network: Any
    report: RealtimeReport | None = None
    alerts: AlertIndex = field(default_factory=AlertIndex)
    vehicles: tuple[VehiclePosition, ...] = ()
    feeds: tuple[FeedState, ...] = ()
    created_at: float = field(default_factory=time.time)

    @property
    def realtime(self) -> bool:
        """Whether trip times come from a TripUpdates feed."""
        return self.report is not None

    @property
    def timetable(self) -> Any:
        """The timetable planned on."""
        return self.network.timetable if self.network is not None else None

    def context(self, planner: Any) -> Any:
        """A view of the planner's context that plans on this snapshot's network.

        The view shares every cache of ``planner`` (a shallow copy); only its
        ``transit`` differs. Taken per request, so it also follows the live
        road state attached to ``planner`` since.
        """
        if planner is None or self.network is None or self.network is planner.transit:
            return planner
        view = copy.copy(planner)
        view.transit = self.network
        return view

    def status(self) -> dict[str, Any]:
        """The ``realtime`` block of a plan response: what the times are based on."""
        trip_feeds = [f for f in self.feeds if f.kind == "gtfs_rt_trip_updates"]
        expired = [f for f in trip_feeds if f.expired]
        if self.realtime:
            message = "trip times include realtime updates"
        elif expired:
            names = ", ".join(
                f"{f.key} ({'no data yet' if f.age_s is None else f'{f.age_s:.0f} s old'}, "
                f"max {f.max_age_s:g} s)"
                for f in expired
            )
            message = f"realtime data expired or missing ({names}): times are the schedule"
        else:
            message = "no realtime feed configured: times are the schedule"
        # Station, charger and vehicle feeds not in use: their sites are "availability
        # unknown" (down or expired), an expired free-floating system is not offered.
        unused = [f for f in self.feeds if not f.kind.startswith("gtfs_rt_") and not f.used]
        if unused:
            names = ", ".join(f"{f.key} ({_why_unused(f)})" for f in unused)
            message += f"; live availability not used from {names}"
        return {
            "applied": self.realtime,
            "message": message,
            "feeds": [f.to_dict() for f in self.feeds],
        }


def _why_unused(feed: FeedState) -> str:
    if feed.age_s is None:
        return "no data yet"
    return "expired" if feed.expired else "down"


def build_snapshot(
    version: int,
    scheduled: Any,
    *,
    index: TripIndex | None,
    trip_updates: list[Any],
    alerts: AlertIndex,
    vehicles: tuple[VehiclePosition, ...],
    feeds: tuple[FeedState, ...],
) -> RealtimeSnapshot:
    """Apply the decoded TripUpdates messages to the schedule and bundle the rest.

    Several TripUpdates feeds are merged into one message first.
    """
    network, report = scheduled, None
    if scheduled is not None and trip_updates:
        message = trip_updates[0]
        if len(trip_updates) > 1:
            message = copy.deepcopy(message)
            for other in trip_updates[1:]:
                message.entity.extend(other.entity)
        timetable, report = apply_trip_updates(scheduled.timetable, message, index=index)
        network = scheduled.with_timetable(timetable)
    return RealtimeSnapshot(
        version=version,
        scheduled=scheduled,
        network=network,
        report=report,
        alerts=alerts,
        vehicles=vehicles,
        feeds=feeds,
    )
