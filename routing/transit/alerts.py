"""GTFS-Realtime ServiceAlerts: parsed, and indexed by the entities they inform.

An :class:`Alert` keeps its texts (the translation in the preferred language,
else the first one), cause, effect, active periods and the ``informed_entity``
selectors. An :class:`AlertIndex` answers "which alerts concern this leg /
stop / route at this instant": an informed entity matches when every field
it sets matches (GTFS-RT: the fields of one selector are ANDed; the
selectors of an alert are ORed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_CAUSES = {
    1: "UNKNOWN_CAUSE",
    2: "OTHER_CAUSE",
    3: "TECHNICAL_PROBLEM",
    4: "STRIKE",
    5: "DEMONSTRATION",
    6: "ACCIDENT",
    7: "HOLIDAY",
    8: "WEATHER",
    9: "MAINTENANCE",
    10: "CONSTRUCTION",
    11: "POLICE_ACTIVITY",
    12: "MEDICAL_EMERGENCY",
}
_EFFECTS = {
    1: "NO_SERVICE",
    2: "REDUCED_SERVICE",
    3: "SIGNIFICANT_DELAYS",
    4: "DETOUR",
    5: "ADDITIONAL_SERVICE",
    6: "MODIFIED_SERVICE",
    7: "OTHER_EFFECT",
    8: "UNKNOWN_EFFECT",
    9: "STOP_MOVED",
    10: "NO_EFFECT",
    11: "ACCESSIBILITY_ISSUE",
}


@dataclass(frozen=True)
class Selector:
    """One ``informed_entity``: the fields it sets (None = any)."""

    agency_id: str | None = None
    route_id: str | None = None
    route_type: int | None = None
    trip_id: str | None = None
    stop_id: str | None = None

    def matches(
        self,
        *,
        agency_id: str | None = None,
        route_id: str | None = None,
        route_type: int | None = None,
        trip_id: str | None = None,
        stop_id: str | None = None,
    ) -> bool:
        """Whether this selector concerns the given entity (every set field equal)."""
        pairs = (
            (self.agency_id, agency_id),
            (self.route_id, route_id),
            (self.route_type, route_type),
            (self.trip_id, trip_id),
            (self.stop_id, stop_id),
        )
        return any(want is not None for want, _ in pairs) and all(
            want is None or want == have for want, have in pairs
        )


@dataclass(frozen=True)
class Alert:
    """One service alert.

    Attributes
    ----------
    id : str
        Feed entity id.
    header, description : str
        Texts in the preferred language.
    url : str or None
    cause, effect : str
        GTFS-RT enum names.
    periods : tuple of (int or None, int or None)
        Active periods in Unix seconds (empty: always active).
    selectors : tuple of Selector
        Informed entities.
    """

    id: str
    header: str
    description: str
    url: str | None
    cause: str
    effect: str
    periods: tuple[tuple[int | None, int | None], ...]
    selectors: tuple[Selector, ...]

    def active_at(self, unix: float) -> bool:
        """Whether the alert is in force at ``unix`` seconds."""
        if not self.periods:
            return True
        return any(
            (start is None or start <= unix) and (end is None or unix <= end)
            for start, end in self.periods
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON shape attached to legs, stops and departures."""
        out: dict[str, Any] = {
            "id": self.id,
            "headerText": self.header,
            "descriptionText": self.description,
            "cause": self.cause,
            "effect": self.effect,
        }
        if self.url:
            out["url"] = self.url
        return out


def _text(translated: Any, language: str | None) -> str:
    items = list(translated.translation)
    if not items:
        return ""
    for item in items:
        if language and item.language == language:
            return str(item.text)
    return str(items[0].text)


def parse_alerts(feed: Any, *, language: str | None = "de") -> list[Alert]:
    """The ServiceAlerts of a decoded ``FeedMessage`` (other entities are ignored)."""
    out: list[Alert] = []
    for entity in feed.entity:
        if not entity.HasField("alert") or entity.is_deleted:
            continue
        alert = entity.alert
        selectors = tuple(
            Selector(
                agency_id=ie.agency_id or None,
                route_id=ie.route_id or None,
                route_type=int(ie.route_type) if ie.HasField("route_type") else None,
                trip_id=(ie.trip.trip_id or None) if ie.HasField("trip") else None,
                stop_id=ie.stop_id or None,
            )
            for ie in alert.informed_entity
        )
        periods = tuple(
            (int(p.start) if p.start else None, int(p.end) if p.end else None)
            for p in alert.active_period
        )
        out.append(
            Alert(
                id=str(entity.id),
                header=_text(alert.header_text, language),
                description=_text(alert.description_text, language),
                url=_text(alert.url, language) or None,
                cause=_CAUSES.get(int(alert.cause), "UNKNOWN_CAUSE"),
                effect=_EFFECTS.get(int(alert.effect), "UNKNOWN_EFFECT"),
                periods=periods,
                selectors=tuple(s for s in selectors if s != Selector()),
            )
        )
    return out


class AlertIndex:
    """Alerts by the route, stop, trip and agency ids their selectors name."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self.alerts = list(alerts)
        self._by: dict[tuple[str, Any], list[Alert]] = {}
        for alert in self.alerts:
            for sel in alert.selectors:
                for name in ("trip_id", "route_id", "stop_id", "agency_id", "route_type"):
                    value = getattr(sel, name)
                    if value is not None:
                        bucket = self._by.setdefault((name, value), [])
                        if alert not in bucket:
                            bucket.append(alert)
                        break

    def __len__(self) -> int:
        return len(self.alerts)

    def matching(self, at: float | None = None, **entity: Any) -> list[Alert]:
        """Alerts in force at ``at`` with a selector matching ``entity`` (see Selector)."""
        found: list[Alert] = []
        for name, value in entity.items():
            if value is None:
                continue
            for alert in self._by.get((name, value), ()):
                if alert in found or (at is not None and not alert.active_at(at)):
                    continue
                if any(sel.matches(**entity) for sel in alert.selectors):
                    found.append(alert)
        return found

    def for_stop(self, stop_id: str, at: float | None = None) -> list[Alert]:
        """Alerts naming the stop alone (not only one route's or trip's call there)."""
        return [
            a
            for a in self.matching(at, stop_id=stop_id)
            if any(s.stop_id == stop_id and s.route_id is None and s.trip_id is None
                   for s in a.selectors)
        ]  # fmt: skip
