"""All live feeds of a region: their updaters, threads, and the realtime snapshot they feed.

:class:`LiveFeeds` owns one :class:`~api.live.updater.FeedUpdater` per
``[live.KEY]`` source. GTFS-RT payloads are decoded and kept per feed; when
one changes, or a feed's data passes its ``max_age_s``, a new
:class:`~api.live.snapshot.RealtimeSnapshot` is built from the schedule and
the feeds still fresh, and swapped in with one assignment. Station, charger
and vehicle feeds (GBFS, ParkAPI, OCPI Locations) go into the live stores
(:class:`~api.live.stores.StoreFeeds`), which also mark a feed's sites
"availability unknown" while it is down or expired.

``start`` runs one daemon thread per feed (a hanging feed delays only
itself); tests call :meth:`LiveFeeds.step` with their own clock instead.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from api.live.fetch import FetchResult
from api.live.gbfs import GbfsFetcher
from api.live.snapshot import FeedState, RealtimeSnapshot, build_snapshot
from api.live.spool import FeedSpool
from api.live.stores import EXPIRED, STORE_KINDS, StoreFeeds
from api.live.updater import FeedUpdater
from routing.errors import DataError
from routing.live_sources import GTFS_RT_KINDS, LiveSource
from routing.transit.alerts import AlertIndex, parse_alerts
from routing.transit.realtime import TripIndex, parse_feed_message
from routing.transit.vehicles import parse_vehicle_positions

logger = logging.getLogger(__name__)

#: Longest a feed thread sleeps before looking at the spool again (followers).
TICK_S = 1.0


class LiveFeeds:
    """The polled feeds of one region and the current realtime snapshot.

    Parameters
    ----------
    sources : dict of str to LiveSource
        The region's ``[live.KEY]`` feeds.
    spool_dir : Path
        Shared spool directory of the region (see :mod:`api.live.spool`).
    transit : TransitNetwork, optional
        The scheduled network GTFS-RT TripUpdates apply to.
    stations, chargers, vehicles : store, optional
        Live stores the station, charger and free-floating feeds update.
    bbox : tuple, optional
        ``(min_lon, min_lat, max_lon, max_lat)`` of the region (free-floating
        vehicles outside are dropped).
    clock : callable
        Unix time now.
    fetchers : dict, optional
        Per feed key, a replacement fetch function (tests).
    """

    def __init__(
        self,
        sources: dict[str, LiveSource],
        *,
        spool_dir: Path,
        transit: Any = None,
        stations: Any = None,
        chargers: Any = None,
        vehicles: Any = None,
        bbox: tuple[float, float, float, float] | None = None,
        clock: Callable[[], float] = time.time,
        fetchers: dict[str, Any] | None = None,
    ) -> None:
        self.sources = dict(sources)
        self.transit = transit
        self.stations = stations
        self.chargers = chargers
        self.vehicles = vehicles
        self.clock = clock
        self.stores = StoreFeeds(
            stations=stations, chargers=chargers, vehicles=vehicles, bbox=bbox, clock=clock
        )
        self._index = TripIndex(transit.timetable) if transit is not None else None
        self._route_of_trip: dict[str, str] = {}
        if transit is not None:
            tt = transit.timetable
            routes = tt.route_ids[tt.trip_gtfs_route]
            self._route_of_trip = dict(zip(tt.trip_ids.tolist(), routes.tolist(), strict=True))
        self._messages: dict[str, Any] = {}
        self._gbfs_systems: dict[str, str] = {}
        self._lock = threading.Lock()
        self._expired = {k: True for k, s in self.sources.items() if s.kind in GTFS_RT_KINDS}
        self._used: set[str] = set()
        self._version = 0
        self._snapshot = RealtimeSnapshot(0, transit, transit, feeds=self._feed_states(clock()))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        fetchers = fetchers or {}
        self.updaters: dict[str, FeedUpdater] = {}
        for key, source in self.sources.items():
            self.updaters[key] = FeedUpdater(
                source,
                FeedSpool(spool_dir, key),
                validate=self._validator(source),
                apply=self._applier(source),
                fetch=fetchers.get(key) or _fetcher(source, clock),
                clock=clock,
            )

    # ------------------------------------------------------------------ reading
    def current(self) -> RealtimeSnapshot:
        """The snapshot to use for one request (read once, keep to the end)."""
        return self._snapshot

    def health(self, now: float | None = None) -> list[dict[str, Any]]:
        """Per feed: age of the last good fetch, errors, entities applied, expiry."""
        now = self.clock() if now is None else now
        report = self._snapshot.report
        out = []
        for updater in self.updaters.values():
            row = updater.health(now)
            if updater.source.kind == "gtfs_rt_trip_updates" and report is not None:
                row["entities"] = report.entities
                row["unmatched"] = len(report.unmatched_trips)
            out.append(row)
        return out

    # ------------------------------------------------------------------ polling
    def step(self, now: float | None = None) -> bool:
        """One round of every feed (see :meth:`FeedUpdater.step`); True if something changed."""
        now = self.clock() if now is None else now
        changed = False
        for updater in self.updaters.values():
            changed |= self._step_one(updater, now)
        return changed

    def _step_one(self, updater: FeedUpdater, now: float) -> bool:
        applied = updater.step(now)
        if updater.source.kind not in STORE_KINDS:
            return self.refresh(now, force=applied and updater.source.kind in GTFS_RT_KINDS)
        changed = self.stores.watch(updater, now, applied=applied)
        if changed:
            self._restate(now)  # plans say which station and vehicle feeds are in use
        return self.refresh(now) or changed or applied

    def _restate(self, now: float) -> None:
        """A new snapshot with the same trip data and the feeds' current states."""
        with self._lock:
            self._version += 1
            self._snapshot = replace(
                self._snapshot, version=self._version, feeds=self._feed_states(now)
            )

    def refresh(self, now: float | None = None, *, force: bool = False) -> bool:
        """Rebuild the snapshot if a GTFS-RT feed changed or crossed its max age."""
        now = self.clock() if now is None else now
        expired = {
            k: u.expired(now) for k, u in self.updaters.items() if u.source.kind in GTFS_RT_KINDS
        }
        if not force and expired == self._expired:
            return False
        with self._lock:
            for key, gone in expired.items():
                if gone and not self._expired.get(key, False):
                    logger.warning(
                        "live feed %s: data older than %g s; planning without it",
                        key,
                        self.sources[key].max_age_s,
                    )
            self._expired = expired
            self._rebuild(now)
        return True

    def _rebuild(self, now: float) -> None:
        fresh = {
            k: m
            for k, m in self._messages.items()
            if not self._expired.get(k, True) and m is not None
        }
        kinds = {k: self.sources[k].kind for k in fresh}
        trip_updates = [m for k, m in fresh.items() if kinds[k] == "gtfs_rt_trip_updates"]
        alerts = AlertIndex(
            a for k, m in fresh.items() if kinds[k] == "gtfs_rt_alerts" for a in parse_alerts(m)
        )
        vehicles = tuple(
            v
            for k, m in fresh.items()
            if kinds[k] == "gtfs_rt_vehicle_positions"
            for v in parse_vehicle_positions(m, route_of_trip=self._route_of_trip)[0]
        )
        start = time.perf_counter()
        self._version += 1
        self._used = set(fresh)
        snapshot = build_snapshot(
            self._version,
            self.transit,
            index=self._index,
            trip_updates=trip_updates,
            alerts=alerts,
            vehicles=vehicles,
            feeds=self._feed_states(now),
        )
        self._snapshot = snapshot  # one assignment: readers see the old or the new one
        logger.info(
            "realtime snapshot %d: %s, %d alerts, %d vehicles in %.1f ms",
            snapshot.version,
            "trip updates applied" if snapshot.realtime else "schedule",
            len(alerts),
            len(vehicles),
            (time.perf_counter() - start) * 1e3,
        )

    def _feed_states(self, now: float) -> tuple[FeedState, ...]:
        states = []
        for key, source in self.sources.items():
            updater = getattr(self, "updaters", {}).get(key)
            good = updater.last_good_at() if updater is not None else None
            if source.kind in STORE_KINDS:
                used, expired = self.stores.used(key), self.stores.state(key) == EXPIRED
            else:
                used, expired = key in self._used, self._expired.get(key, True)
            states.append(
                FeedState(
                    key=key,
                    kind=source.kind,
                    used=used,
                    expired=expired,
                    age_s=None if good is None else now - good,
                    max_age_s=source.max_age_s,
                )
            )
        return tuple(states)

    # ------------------------------------------------------------------ threads
    def start(self) -> None:
        """Poll every feed in its own daemon thread until :meth:`stop`."""
        if self._threads:
            return
        self._stop.clear()
        for updater in self.updaters.values():
            thread = threading.Thread(
                target=self._run, args=(updater,), name=f"live-{updater.source.key}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        logger.info("live feeds polling: %s", ", ".join(self.updaters) or "none")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads and give up feed leadership."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        for updater in self.updaters.values():
            updater.spool.release()

    def _run(self, updater: FeedUpdater) -> None:
        while not self._stop.is_set():
            try:
                self._step_one(updater, self.clock())
            except Exception:  # the thread must survive anything a feed does
                logger.exception("live feed %s: round failed", updater.source.key)
            wait = min(TICK_S, updater.seconds_to_next()) if updater.spool.leader else TICK_S
            self._stop.wait(max(0.05, wait))

    # ------------------------------------------------------------------ per kind
    def _validator(self, source: LiveSource) -> Callable[[bytes], Any]:
        if source.kind in GTFS_RT_KINDS:
            return parse_feed_message
        return self.stores.validator(source)

    def _applier(self, source: LiveSource) -> Callable[[bytes, float], int]:
        if source.kind not in GTFS_RT_KINDS:
            return self.stores.applier(source)
        key = source.key

        def apply_rt(body: bytes, fetched_at: float) -> int:
            message = parse_feed_message(body)
            self._messages[key] = message
            return len(message.entity)

        return apply_rt


def _json(body: bytes, source: LiveSource) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"live feed {source.key}: answer is not JSON ({exc})") from None


def _fetcher(source: LiveSource, clock: Callable[[], float]) -> Any:
    if source.kind == "gbfs":
        return GbfsFetcher(source, clock)
    if source.kind == "ocpi":
        return _ocpi_fetch
    return None  # the updater's conditional GET of source.url


def _ocpi_fetch(source: LiveSource, *, etag: str | None, last_modified: str | None) -> Any:
    """OCPI 2.2.1 Locations pull: follow ``Link: <...>; rel="next"`` pages, merge ``data``."""
    import urllib.request

    from routing.errors import FetchError

    limit = int(source.options.get("page_limit", 100))
    url: str | None = source.url
    rows: list[Any] = []
    pages = 0
    deadline = time.monotonic() + source.timeout_s
    while url is not None:
        pages += 1
        if pages > 1000 or time.monotonic() > deadline:
            raise FetchError(f"{source.url}: OCPI paging did not finish in {source.timeout_s:g} s")
        sep = "&" if "?" in url else "?"
        page_url = url if pages > 1 or "limit=" in url else f"{url}{sep}limit={limit}"
        request = urllib.request.Request(page_url, headers=source.headers())
        try:
            with urllib.request.urlopen(request, timeout=source.timeout_s) as response:
                body = response.read()
                link = response.headers.get("Link")
        except OSError as exc:
            raise FetchError(f"{page_url}: {getattr(exc, 'reason', exc)}") from None
        doc = _json(body, source)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise DataError(f"{page_url}: OCPI answer has no 'data' list")
        rows.extend(data)
        url = _next_link(link)
    merged = json.dumps({"data": rows, "status_code": 1000}).encode()
    return FetchResult(True, merged, None, None)


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end]
    return None
