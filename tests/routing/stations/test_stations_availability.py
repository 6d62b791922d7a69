"""Unknown is not "none": availability of stations and chargers, and the store's filter."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from routing.stations.geojson import chargers_to_geojson, stations_to_geojson
from routing.stations.model import (
    Availability,
    Charger,
    Connector,
    Evse,
    EvseStatus,
    Station,
    StationKind,
)
from routing.stations.store import StationStore

NOW = datetime(2022, 9, 14, 6, 0, tzinfo=UTC)


def site(sid: str, **kw) -> Station:
    base = {"id": sid, "name": sid, "lat": 49.41, "lon": 8.69, "kind": StationKind.BIKE_BOX,
            "source": "t"}  # fmt: skip
    return Station(**{**base, **kw})


def live(sid: str, **kw) -> Station:
    return site(sid, realtime=True, last_reported=NOW, valid_until=NOW + timedelta(minutes=5), **kw)


def test_space_availability_known_unknown_none() -> None:
    assert live("a", docks_available=2).space_availability() is Availability.AVAILABLE
    assert live("a", docks_available=2).space_availability(3) is Availability.NONE
    assert live("a", docks_available=0).space_availability() is Availability.NONE
    closed = live("a", docks_available=5, is_returning=False)
    assert closed.space_availability() is Availability.NONE
    # OSM parking: capacity known, live state unknown
    assert site("b", capacity=12).space_availability() is Availability.UNKNOWN
    assert site("b").space_availability() is Availability.UNKNOWN
    assert site("b", capacity=0).space_availability() is Availability.NONE
    # a feed gone stale keeps its counts for display but is unknown
    stale = live("c", docks_available=0, stale=True)
    assert stale.space_availability() is Availability.UNKNOWN
    assert not stale.has_free_space()


def test_bike_availability() -> None:
    share = {"kind": StationKind.BIKE_SHARE}
    assert live("a", bikes_available=1, **share).bike_availability() is Availability.AVAILABLE
    assert live("a", bikes_available=0, **share).bike_availability() is Availability.NONE
    assert site("b", **share).bike_availability() is Availability.UNKNOWN


def test_store_offers_unknown_only_when_asked_and_never_known_full() -> None:
    store = StationStore(
        [
            live("full", docks_available=0),
            live("free", docks_available=4, lat=49.4102),
            site("osm", capacity=10, kind=StationKind.BIKE_PARKING, lat=49.4101),
            live("expiring", docks_available=4, lat=49.4103),
        ]
    )

    def ids(**kw) -> list[str]:
        return [n.item.id for n in store.nearby(49.41, 8.69, 500, has_free_space=True, **kw)]

    assert ids(now=NOW) == ["free", "expiring"]
    assert ids(include_unknown=True, now=NOW) == ["osm", "free", "expiring"]
    # ten minutes later the live counts have expired: unknown, offered only with the flag
    later = NOW + timedelta(minutes=10)
    assert ids(now=later) == []
    assert ids(include_unknown=True, now=later) == ["full", "osm", "free", "expiring"]


def test_geojson_says_availability() -> None:
    doc = stations_to_geojson([live("full", docks_available=0), site("osm")])
    assert [f["properties"]["availability"] for f in doc["features"]] == ["none", "unknown"]


def _charger(realtime: bool, *statuses: EvseStatus) -> Charger:
    plug = (Connector("1", "IEC_62196_T2", power_kw=22.0),)
    return Charger(
        id="c", name="c", address="", postal_code="", city="", operator=None, lat=49.41,
        lon=8.69, evses=tuple(Evse(str(i), s, plug) for i, s in enumerate(statuses)),
        source="t", realtime=realtime,
    )  # fmt: skip


def test_charger_availability() -> None:
    assert _charger(False, EvseStatus.UNKNOWN).availability() is Availability.UNKNOWN
    assert _charger(True, EvseStatus.AVAILABLE).availability() is Availability.AVAILABLE
    # a live feed that does not know one point: unknown beats none
    both = _charger(True, EvseStatus.CHARGING, EvseStatus.UNKNOWN)
    assert both.availability() is Availability.UNKNOWN
    assert _charger(True, EvseStatus.CHARGING).availability() is Availability.NONE
    assert _charger(False, EvseStatus.OUTOFORDER).availability() is Availability.NONE
    assert _charger(True, EvseStatus.AVAILABLE).availability("CHADEMO") is Availability.NONE
    doc = chargers_to_geojson([both])
    assert doc["features"][0]["properties"]["availability"] == "unknown"


def test_feed_down_makes_station_counts_unknown_until_the_next_update() -> None:
    store = StationStore(
        [live("a", docks_available=0, source="parkapi:x"), live("b", docks_available=3, source="p")]
    )
    report = store.mark_unknown("parkapi:x")
    assert report.applied == 1
    a = store.get("a")
    assert a.stale and a.docks_available == 0  # kept for display
    assert a.space_availability() is Availability.UNKNOWN
    assert store.get("b").space_availability() is Availability.AVAILABLE
    assert store.mark_unknown("parkapi:x").applied == 0  # already unknown
    store.update_availability("a", docks_available=2, now=NOW)
    assert store.get("a").space_availability() is Availability.AVAILABLE


def test_feed_down_makes_charger_status_unknown_until_the_next_update() -> None:
    from routing.stations.store import ChargerStore

    busy = replace(_charger(True, EvseStatus.CHARGING, EvseStatus.REMOVED), source="ocpi:DE*X")
    store = ChargerStore([busy])
    assert store.get("c").availability() is Availability.NONE
    assert store.mark_unknown("ocpi:DE*X").applied == 1
    stale = store.get("c")
    assert stale.stale and stale.availability() is Availability.UNKNOWN
    assert stale.evse_availability(stale.evses[1]) is Availability.NONE  # removed for good
    store.update_evse_status("c", "0", "AVAILABLE")
    assert store.get("c").availability() is Availability.AVAILABLE
    assert not store.get("c").stale
