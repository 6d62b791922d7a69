"""Realtime fields on plan itineraries and departure boards, from one snapshot.

Legs planned on a realtime timetable already carry the realtime times; this
adds what a traveller needs to read them: whether the leg is realtime, the
delays against the schedule (and the scheduled times), a changed platform
(``from.scheduledStopId``), skipped intermediate stops, and the alerts that
inform the leg's trip, route or stops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from api.live.snapshot import RealtimeSnapshot
from routing.transit.realtime import CANCELLED, UPDATED


class ScheduleLookup:
    """Scheduled times of trips at stops, from the snapshot's static timetable."""

    def __init__(self, snapshot: RealtimeSnapshot) -> None:
        self.snapshot = snapshot
        self.tt = snapshot.scheduled.timetable if snapshot.scheduled is not None else None
        report = snapshot.report
        self.assigned_back: dict[tuple[str, str], str] = {}
        if report is not None:
            for (trip, old), new in report.assigned.items():
                self.assigned_back[(trip, new)] = old

    def slots(self, trip_id: str) -> list[int]:
        """Scheduled slots of a trip id."""
        if self.tt is None:
            return []
        return np.flatnonzero(self.tt.trip_ids == trip_id).tolist()

    def scheduled(
        self, trip_id: str, stop_id: str, unix: float, *, departure: bool
    ) -> tuple[int, float] | None:
        """(slot, scheduled unix time) of ``trip_id`` at ``stop_id`` nearest ``unix``."""
        tt = self.tt
        if tt is None:
            return None
        stop_id = self.assigned_back.get((trip_id, stop_id), stop_id)
        best: tuple[int, float] | None = None
        for slot in self.slots(trip_id):
            stops, arr, dep = tt.slot_times(slot)
            for j in np.flatnonzero(tt.stop_ids[stops] == stop_id).tolist():
                t = tt.day_start + int(dep[j] if departure else arr[j])
                if best is None or abs(t - unix) < abs(best[1] - unix):
                    best = (slot, float(t))
        return best

    def state(self, slot: int) -> int:
        """Realtime state of a scheduled slot (SCHEDULED, UPDATED or CANCELLED)."""
        report = self.snapshot.report
        if report is None or slot >= report.slot_state.shape[0]:
            return 0
        return int(report.slot_state[slot])


def _iso(unix: float, like: datetime) -> str:
    return datetime.fromtimestamp(unix, like.tzinfo).isoformat()


def annotate_plan(body: dict[str, Any], snapshot: RealtimeSnapshot) -> None:
    """Add realtime fields to every leg of a plan response (in place) and the ``realtime`` block."""
    lookup = ScheduleLookup(snapshot)
    for itinerary in body.get("itineraries", ()):
        for leg in itinerary.get("legs", ()):
            if leg.get("transitLeg") and leg.get("tripId"):
                annotate_leg(leg, snapshot, lookup)
            else:
                leg.setdefault("realtime", False)
    body["realtime"] = snapshot.status()


def annotate_leg(leg: dict[str, Any], snapshot: RealtimeSnapshot, lookup: ScheduleLookup) -> None:
    """Realtime fields of one transit leg dict."""
    trip = str(leg["tripId"])
    start = datetime.fromisoformat(leg["startTime"])
    end = datetime.fromisoformat(leg["endTime"])
    origin, target = leg.get("from", {}), leg.get("to", {})
    board = lookup.scheduled(trip, str(origin.get("stopId")), start.timestamp(), departure=True)
    alight = lookup.scheduled(trip, str(target.get("stopId")), end.timestamp(), departure=False)
    realtime = board is not None and lookup.state(board[0]) == UPDATED
    leg["realtime"] = realtime
    if board is not None:
        leg["scheduledStartTime"] = _iso(board[1], start)
        leg["departureDelay"] = round(start.timestamp() - board[1])
    if alight is not None:
        leg["scheduledEndTime"] = _iso(alight[1], end)
        leg["arrivalDelay"] = round(end.timestamp() - alight[1])
    report = snapshot.report
    if report is not None:
        for place in (origin, target):
            sid = place.get("stopId")
            old = lookup.assigned_back.get((trip, str(sid)))
            if old is not None:
                place["scheduledStopId"] = old
        for call in leg.get("intermediateStops", ()):
            if (trip, str(call.get("stopId"))) in report.skipped:
                call["skipped"] = True
    alerts = leg_alerts(snapshot, leg, start.timestamp())
    if alerts:
        leg["alerts"] = alerts


def leg_alerts(snapshot: RealtimeSnapshot, leg: dict[str, Any], at: float) -> list[dict[str, Any]]:
    """Alerts in force for the leg's trip, route, agency or its boarding/alighting stops."""
    if not len(snapshot.alerts):
        return []
    found: list[Any] = []
    for place in (leg.get("from", {}), leg.get("to", {})):
        for alert in snapshot.alerts.matching(
            at,
            trip_id=leg.get("tripId"),
            route_id=leg.get("routeId"),
            stop_id=place.get("stopId"),
        ):
            if alert not in found:
                found.append(alert)
    return [a.to_dict() for a in found]


def annotate_departures(
    rows: list[dict[str, Any]],
    scheduled_rows: list[dict[str, Any]],
    snapshot: RealtimeSnapshot,
    stop_id: str,
) -> list[dict[str, Any]]:
    """Departures with delays, plus the scheduled ones that were cancelled or skip the stop.

    ``rows`` come from the snapshot's timetable, ``scheduled_rows`` from the
    schedule over the same window. The result is sorted by (realtime) time.
    """
    lookup = ScheduleLookup(snapshot)
    report = snapshot.report
    out = []
    listed = set()
    for row in rows:
        when = datetime.fromisoformat(row["time"])
        sched = lookup.scheduled(row["tripId"], stop_id, when.timestamp(), departure=True)
        row["realtime"] = sched is not None and lookup.state(sched[0]) == UPDATED
        row["scheduledTime"] = _iso(sched[1], when) if sched is not None else row["time"]
        row["delay"] = round(when.timestamp() - sched[1]) if sched is not None else 0
        row["cancelled"] = False
        listed.add((row["tripId"], row["scheduledTime"]))
        out.append(row)
    if report is not None:
        for row in scheduled_rows:
            when = datetime.fromisoformat(row["time"])
            sched = lookup.scheduled(row["tripId"], stop_id, when.timestamp(), departure=True)
            if sched is None or (row["tripId"], row["time"]) in listed:
                continue
            cancelled = lookup.state(sched[0]) == CANCELLED
            skipped = (row["tripId"], stop_id) in report.skipped
            if cancelled or skipped:
                out.append(
                    {
                        **row,
                        "realtime": True,
                        "scheduledTime": row["time"],
                        "delay": None,
                        "cancelled": True,
                        "skipped": skipped,
                    }
                )
    for row in out:
        alerts = snapshot.alerts.matching(
            datetime.fromisoformat(row["time"]).timestamp(),
            trip_id=row["tripId"],
            route_id=row["routeId"],
            stop_id=stop_id,
        )
        if alerts:
            row["alerts"] = [a.to_dict() for a in alerts]
    out.sort(key=lambda r: r["time"])
    return out
