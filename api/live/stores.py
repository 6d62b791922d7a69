"""Station, charger and vehicle feeds: documents into the live stores, and what a dead feed means.

Per kind, a *validator* (run by the feed's leader before it publishes a
version) and an *applier* (run by every worker on each new version):

* ``gbfs``: a bundle (:mod:`api.live.gbfs`): stations of station_information
  are added to the :class:`~routing.stations.store.StationStore` the first
  time they are seen, station_status updates their counts, and a
  free-floating system is swapped whole into the
  :class:`~routing.stations.vehicle_store.VehicleStore` (vehicles, types and
  zones of one moment);
* ``parkapi``: bike-box counts (``StationStore.apply_parkapi_realtime``);
* ``ocpi``: whole locations with their EVSE statuses (``ChargerStore``).

:meth:`StoreFeeds.watch` follows each feed's health. A feed that is *down*
(its last poll failed) or *expired* (no good answer for ``max_age_s``) has
its stations and chargers marked "availability unknown"
(``mark_unknown(source)``): plans still offer them, ranked below sites known
to have room, instead of trusting old counts. An expired free-floating
system is withdrawn: its vehicles are no longer offered. When the feed
answers again the current version is applied anew (a 304 confirms it), which
makes its sites and vehicles count again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from api.live.gbfs import ParseCache, parse_bundle
from api.live.updater import FeedUpdater
from routing.errors import DataError
from routing.live_sources import LiveSource

logger = logging.getLogger(__name__)

#: Feed kinds whose data goes into the station, charger and vehicle stores.
STORE_KINDS = frozenset({"gbfs", "parkapi", "ocpi"})

OK, DOWN, EXPIRED = "ok", "down", "expired"


class StoreFeeds:
    """Apply station, charger and vehicle feeds to the live stores; follow their health.

    Parameters
    ----------
    stations, chargers, vehicles : store, optional
        The live stores (:class:`StationStore`, :class:`ChargerStore`, :class:`VehicleStore`).
    bbox : tuple, optional
        ``(min_lon, min_lat, max_lon, max_lat)`` of the region: free-floating
        vehicles outside are dropped, as at load time.
    clock : callable
        Unix time now.
    """

    def __init__(
        self,
        *,
        stations: Any = None,
        chargers: Any = None,
        vehicles: Any = None,
        bbox: tuple[float, float, float, float] | None = None,
        clock: Callable[[], float],
    ) -> None:
        self.stations = stations
        self.chargers = chargers
        self.vehicles = vehicles
        self.bbox = bbox
        self.clock = clock
        self._caches: dict[str, ParseCache] = {}
        #: Per feed: station/charger ``source`` names and vehicle systems it fed.
        self._sites: dict[str, set[str]] = {}
        self._systems: dict[str, set[str]] = {}
        self._state: dict[str, str] = {}

    # ------------------------------------------------------------------ per kind
    def validator(self, source: LiveSource) -> Callable[[bytes], Any]:
        """``validate(payload)`` for the feed's leader: raises for a payload not to publish."""
        if source.kind == "parkapi":
            from routing.stations import parkapi

            return lambda body: parkapi.parse_realtime(_json(body, source), source.key)
        if source.kind == "ocpi":
            from routing.stations import ocpi

            return lambda body: ocpi.parse_locations(_json(body, source), source.key)
        cache = self._cache(source.key)
        return lambda body: parse_bundle(body, source, cache=cache, bbox=self.bbox)

    def applier(self, source: LiveSource) -> Callable[[bytes, float], int]:
        """``apply(payload, fetched_at) -> entities`` for every worker."""
        apply = {"parkapi": self._parkapi, "ocpi": self._ocpi, "gbfs": self._gbfs}[source.kind]
        return lambda body, fetched_at: apply(source, body)

    def _parkapi(self, source: LiveSource, body: bytes) -> int:
        stations = self._need(self.stations, source, "station")
        uid = str(source.options.get("source_uid", source.key))
        report = stations.apply_parkapi_realtime(_json(body, source), source_uid=uid)
        self._sites[source.key] = {f"parkapi:{uid}"}
        return int(report.applied)

    def _ocpi(self, source: LiveSource, body: bytes) -> int:
        from routing.stations import ocpi

        chargers = self._need(self.chargers, source, "charger")
        parsed = ocpi.parse_locations(_json(body, source), f"live feed {source.key}")
        applied = chargers.add(parsed.chargers)
        self._sites[source.key] = {c.source for c in parsed.chargers}
        logger.info("live feed %s: %d charging locations applied", source.key, applied)
        return int(applied)

    def _gbfs(self, source: LiveSource, body: bytes) -> int:
        update = parse_bundle(body, source, cache=self._cache(source.key), bbox=self.bbox)
        applied = 0
        if update.stations or update.station_status is not None:
            stations = self._need(self.stations, source, "station")
            known = {s.id for s in stations.snapshot()}
            stations.add(s for s in update.stations if s.id not in known)
            if update.station_status is not None:
                report = stations.apply_gbfs_status(
                    update.station_status, system_id=update.system_id
                )
                applied += int(report.applied)
            self._sites[source.key] = {f"gbfs:{update.system_id}"}
        if update.vehicles is not None:
            vehicles = self._need(self.vehicles, source, "vehicle")
            vehicles.put(update.vehicles)  # one swap: vehicles, types and zones together
            self._systems[source.key] = {update.system_id}
            applied += len(update.vehicles.vehicles)
        return applied

    def _cache(self, key: str) -> ParseCache:
        return self._caches.setdefault(key, ParseCache())

    @staticmethod
    def _need(store: Any, source: LiveSource, what: str) -> Any:
        if store is None:
            raise DataError(f"live feed {source.key}: no {what} store to update")
        return store

    # ------------------------------------------------------------------ health
    def state(self, key: str) -> str:
        """``ok``, ``down`` (last poll failed) or ``expired`` (past ``max_age_s``)."""
        return self._state.get(key, EXPIRED)

    def used(self, key: str) -> bool:
        """Whether the feed's data is used: fresh, or down with vehicles only (still offered)."""
        state = self.state(key)
        return state == OK or (state == DOWN and not self._sites.get(key))

    def watch(self, updater: FeedUpdater, now: float, *, applied: bool) -> bool:
        """Act on a change of the feed's health; True when it changed.

        Parameters
        ----------
        updater : FeedUpdater
            The feed, after its round.
        now : float
            Unix time of the round.
        applied : bool
            Whether the round applied a new version.
        """
        key = updater.source.key
        state = EXPIRED if updater.expired(now) else DOWN if updater.failing() else OK
        old = self._state.get(key, EXPIRED)
        if state == old:
            return False
        self._state[key] = state
        if state == OK:
            if not applied:
                updater.reapply()  # confirmed (304) after the outage: its data counts again
            logger.info("live feed %s: answering again; its availability is used", key)
            return True
        why = (
            f"no good answer for {updater.source.max_age_s:g} s"
            if state == EXPIRED
            else "its last poll failed"
        )
        unknown = 0
        for site in sorted(self._sites.get(key, ())):
            for store in (self.stations, self.chargers):
                if store is not None:
                    unknown += store.mark_unknown(site).applied
        withdrawn = 0
        if state == EXPIRED and self.vehicles is not None:
            for system in sorted(self._systems.get(key, ())):
                withdrawn += self.vehicles.withdraw(system, f"live feed {key}: {why}")
        logger.warning(
            "live feed %s is %s (%s): %d sites now of unknown availability, %d "
            "free-floating system(s) withdrawn",
            key, state, why, unknown, withdrawn,
        )  # fmt: skip
        return True


def _json(body: bytes, source: LiveSource) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"live feed {source.key}: answer is not JSON ({exc})") from None
