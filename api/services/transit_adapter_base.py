"""What the API needs to know about the loaded timetable before planning."""

from __future__ import annotations

from datetime import datetime

from api.state import RegionState


def timetable_window(state: RegionState) -> tuple[datetime, datetime] | None:
    """Return the first and last instant the loaded timetable answers, or None without one."""
    if state.transit is None:
        return None
    from api.services.transit_adapter import service_window

    return service_window(state)
