"""GBFS as a live feed: discovery, each document polled on its own, one bundle per version.

A GBFS system is several documents behind one ``gbfs.json``, station-based
(station_information, station_status), free-floating (vehicle_status in v3,
free_bike_status in v2.x, with vehicle_types and geofencing_zones), or both.

:class:`GbfsFetcher` is the feed's fetch function (run by the feed's leader,
:mod:`api.live.updater`). It reads ``gbfs.json`` once, and again after any
error (a feed that moved is found again), then GETs each document
conditionally with its own ETag / Last-Modified: the status documents at
every poll, the slow ones (system_information, station_information,
vehicle_types, geofencing_zones) once their GBFS ``ttl`` has passed. Each
document is checked by its parser before it is kept, so a broken one is an
error of the poll and the last good set stays. When any document changed,
all of them are published together as one JSON *bundle*: every worker applies
the same consistent set (vehicles with the zones and types of that moment).

:func:`parse_bundle` (pure) turns a bundle into a :class:`GbfsUpdate`, reusing
what was parsed from identical document text before: unchanged zones stay the
same object, so the planner's ride weights cached with them stay valid.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from api.live.fetch import FetchResult, conditional_get
from routing.errors import DataError, FetchError
from routing.live_sources import LiveSource
from routing.stations import gbfs
from routing.stations.free_floating import (
    FreeFloatingSnapshot,
    as_document,
    build_snapshot,
    parse_vehicle_status,
)
from routing.stations.geofencing import Geofencing, parse_geofencing_zones
from routing.stations.model import Station

#: Documents fetched at every poll.
STATUS_DOCS = ("station_status", "vehicle_status", "free_bike_status")
#: Documents fetched again only when their ``ttl`` has passed.
SLOW_DOCS = ("system_information", "station_information", "vehicle_types", "geofencing_zones")
#: Marks a payload as a bundle (and its format version).
BUNDLE_FORMAT = "elster-gbfs-bundle/1"


@dataclass
class _Part:
    text: str
    etag: str | None
    last_modified: str | None
    due_at: float


class GbfsFetcher:
    """Fetch function of a ``gbfs`` live source (see the module docstring).

    Parameters
    ----------
    source : LiveSource
        The feed; ``url`` is its ``gbfs.json``.
    clock : callable
        Unix time now (when slow documents are due again).
    """

    def __init__(self, source: LiveSource, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.clock = clock
        self.urls: dict[str, str] | None = None
        self.parts: dict[str, _Part] = {}
        self._unpublished = False

    def __call__(
        self, source: LiveSource, *, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        """One poll: a new bundle, or ``modified=False`` when no document changed."""
        try:
            return self._poll(source)
        except BaseException:
            self.urls = None  # read gbfs.json again at the next try: the feed may have moved
            raise

    def _poll(self, source: LiveSource) -> FetchResult:
        now = self.clock()
        deadline = time.monotonic() + source.timeout_s
        if self.urls is None:
            self.urls = self._discover(source, deadline)
        for name, url in self.urls.items():
            part = self.parts.get(name)
            if part is not None and name in SLOW_DOCS and now < part.due_at:
                continue
            result = conditional_get(
                url,
                timeout_s=_remaining(deadline, source),
                headers=source.headers(),
                etag=part.etag if part else None,
                last_modified=part.last_modified if part else None,
            )
            if not result.modified:
                if part is None:
                    raise FetchError(f"{url}: 304 Not Modified for a document never received")
                part.due_at = now + _ttl_of(part.text)
                continue
            text = _decode(result.body, url)
            doc = as_document(text, url)
            DOC_PARSERS[name](doc, url)  # a broken document is an error; the last good set stays
            self.parts[name] = _Part(text, result.etag, result.last_modified, now + _ttl_of(doc))
            self._unpublished = True
        for name in set(self.parts) - set(self.urls):
            del self.parts[name]  # no longer listed in gbfs.json
            self._unpublished = True
        if not self._unpublished:
            return FetchResult(False, b"", None, None)
        bundle = {
            "format": BUNDLE_FORMAT,
            "url": source.url,
            "documents": {name: part.text for name, part in sorted(self.parts.items())},
        }
        self._unpublished = False
        return FetchResult(True, json.dumps(bundle).encode(), None, None)

    @staticmethod
    def _discover(source: LiveSource, deadline: float) -> dict[str, str]:
        found = conditional_get(
            source.url, timeout_s=_remaining(deadline, source), headers=source.headers()
        )
        doc = as_document(_decode(found.body, source.url), source.url)
        feeds = gbfs._discovery_feeds(doc, source.url, source.options.get("language"))
        urls = {
            name: urljoin(source.url, href)
            for name, href in feeds.items()
            if name in STATUS_DOCS or name in SLOW_DOCS
        }
        if "vehicle_status" in urls:
            urls.pop("free_bike_status", None)  # a v3 feed listing both: v3 is the one kept
        if not (gbfs.is_free_floating(urls) or "station_status" in urls):
            raise DataError(
                f"{source.url}: gbfs.json lists neither station_status nor vehicle_status/"
                "free_bike_status; nothing to poll (fix the feed URL)"
            )
        return urls


def _remaining(deadline: float, source: LiveSource) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(
            f"{source.url}: GBFS documents not all fetched within {source.timeout_s:g} s"
        )
    return min(left, source.timeout_s)


def _decode(body: bytes, url: str) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{url}: not UTF-8 text (byte {exc.start}); the feed is damaged") from None


def _ttl_of(doc: Any) -> float:
    if isinstance(doc, str):
        doc = json.loads(doc)
    ttl = doc.get("ttl") if isinstance(doc, dict) else None
    return float(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) else 0.0


# ------------------------------------------------------------------------------------ parsing


def _check_station_information(doc: Any, where: str) -> Any:
    return gbfs.parse_station_information(doc, where, system_id="check")


#: Per document, a parser that raises :class:`DataError` for a broken one.
DOC_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "system_information": lambda doc, where: _system_data(doc, where),
    "station_information": _check_station_information,
    "station_status": gbfs.parse_station_status,
    "vehicle_status": lambda doc, where: parse_vehicle_status(doc, where, system_id="check"),
    "free_bike_status": lambda doc, where: parse_vehicle_status(doc, where, system_id="check"),
    "vehicle_types": gbfs.parse_vehicle_types,
    "geofencing_zones": parse_geofencing_zones,
}


def _system_data(doc: Any, where: str) -> dict[str, Any]:
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        raise DataError(f"{where}: system_information has no 'data' object")
    return data


@dataclass(frozen=True)
class GbfsUpdate:
    """What one bundle holds, ready for the stores.

    Attributes
    ----------
    system_id, name : str
    stations : tuple of Station
        From station_information (no live counts); empty when not published.
    station_status : dict or None
        The station_status document (for ``StationStore.apply_gbfs_status``).
    vehicles : FreeFloatingSnapshot or None
        The free-floating system, when the feed has vehicle_status/free_bike_status.
    """

    system_id: str
    name: str
    stations: tuple[Station, ...]
    station_status: Any
    vehicles: FreeFloatingSnapshot | None


class ParseCache:
    """Parsed documents by (name, system id, text digest): unchanged text is not parsed again."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[tuple[str, str], Any]] = {}

    def get(self, name: str, sid: str, text: str, parse: Callable[[], Any]) -> Any:
        """The parsed document, from the cache when ``text`` is the one parsed last."""
        key = (sid, hashlib.sha1(text.encode()).hexdigest())
        hit = self._items.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = parse()
        self._items[name] = (key, value)
        return value


def parse_bundle(
    body: bytes,
    source: LiveSource,
    *,
    cache: ParseCache | None = None,
    now: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> GbfsUpdate:
    """Turn a published bundle into a :class:`GbfsUpdate`.

    Parameters
    ----------
    body : bytes
        The bundle (:class:`GbfsFetcher`).
    source : LiveSource
        The feed (options ``system_id``, ``language``, ``grace_s``).
    cache : ParseCache, optional
        Parsed documents of earlier bundles of this feed.
    now : datetime, optional
        Reference time for the vehicles' validity when a document has no ``last_updated``.
    bbox : tuple, optional
        ``(min_lon, min_lat, max_lon, max_lat)``: vehicles outside are dropped.

    Raises
    ------
    DataError
        Not a bundle, or a document in it is broken.
    """
    cache = cache or ParseCache()
    doc = as_document(body, f"live feed {source.key}")
    docs = doc.get("documents") if isinstance(doc, dict) else None
    if not isinstance(docs, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise DataError(f"live feed {source.key}: payload is not a GBFS bundle ({BUNDLE_FORMAT})")
    where = {name: f"{source.key} {name}" for name in docs}
    language = source.options.get("language")

    def parsed(name: str, sid: str, parse: Callable[[Any, str], Any]) -> Any:
        text = docs.get(name)
        if not isinstance(text, str):
            return None
        return cache.get(
            name, sid, text, lambda: parse(as_document(text, where[name]), where[name])
        )

    info = parsed("system_information", "", _system_data) or {}
    sid, name = gbfs.system_identity(
        info, source.url, language=language, system_id=source.options.get("system_id")
    )
    found = parsed(
        "station_information",
        sid,
        lambda d, w: gbfs.parse_station_information(d, w, system_id=sid, language=language),
    )
    status = docs.get("station_status")
    status_doc = None
    if isinstance(status, str):
        parsed("station_status", "", gbfs.parse_station_status)  # checked once per text
        status_doc = as_document(status, where["station_status"])
    vehicles = None
    vehicle_doc = "vehicle_status" if "vehicle_status" in docs else "free_bike_status"
    batch = parsed(vehicle_doc, sid, lambda d, w: parse_vehicle_status(d, w, system_id=sid))
    if batch is not None:
        types = parsed("vehicle_types", "", gbfs.parse_vehicle_types)
        zones = parsed("geofencing_zones", "", parse_geofencing_zones)
        vehicles = build_snapshot(
            batch,
            system_id=sid,
            name=name,
            vehicle_types=types[0] if types else None,
            geofencing=zones if isinstance(zones, Geofencing) else None,
            now=now,
            grace_s=float(source.options.get("grace_s", gbfs.DEFAULT_GRACE_S)),
            warnings=types[1] if types else (),
        )
        if bbox is not None:
            inside = tuple(
                v
                for v in vehicles.vehicles
                if bbox[0] <= v.lon <= bbox[2] and bbox[1] <= v.lat <= bbox[3]
            )
            vehicles = replace(vehicles, vehicles=inside)
    return GbfsUpdate(
        system_id=sid,
        name=name,
        stations=tuple(found[0]) if found else (),
        station_status=status_doc,
        vehicles=vehicles,
    )
