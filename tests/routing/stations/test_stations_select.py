"""Store ``select`` (the listing behind GET /stations and /chargers) against brute force."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from routing.errors import RequestError
from routing.geo import haversine_scalar_m as haversine_m
from routing.stations.model import Charger, Connector, Evse, EvseStatus, Station, StationKind
from routing.stations.store import (
    ChargerStore,
    Nearby,
    StationStore,
    charger_filter,
    station_filter,
)

NOW = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
KINDS = list(StationKind)
STANDARDS = ["IEC_62196_T2", "IEC_62196_T2_COMBO", "CHADEMO", "DOMESTIC_F"]
STATUSES = list(EvseStatus)


def random_stations(rng: np.random.Generator, n: int) -> list[Station]:
    out = []
    for i in range(n):
        live = bool(rng.random() < 0.7)
        out.append(
            Station(
                id=f"t:{i:03d}",
                name=f"s{i}",
                lat=float(rng.uniform(49.38, 49.44)),
                lon=float(rng.uniform(8.64, 8.74)),
                kind=KINDS[int(rng.integers(len(KINDS)))],
                source="test",
                bikes_available=int(rng.integers(0, 4)) if live else None,
                docks_available=int(rng.integers(0, 4)) if live else None,
                is_renting=bool(rng.random() < 0.8),
                is_returning=bool(rng.random() < 0.8),
                ebike_charging=[None, True, False][int(rng.integers(3))],
                realtime=live,
                # Some counts expire at +5 min, the rest never.
                valid_until=NOW + timedelta(minutes=5) if rng.random() < 0.3 else None,
            )
        )
    return out


def random_chargers(rng: np.random.Generator, n: int) -> list[Charger]:
    out = []
    for i in range(n):
        evses = tuple(
            Evse(
                uid=f"E{j}",
                status=STATUSES[int(rng.integers(len(STATUSES)))],
                connectors=tuple(
                    Connector(
                        id=str(k),
                        standard=STANDARDS[int(rng.integers(len(STANDARDS)))],
                        power_kw=float(rng.choice([3.7, 11.0, 22.0, 50.0, 150.0])),
                    )
                    for k in range(int(rng.integers(1, 3)))
                ),
            )
            for j in range(int(rng.integers(1, 4)))
        )
        out.append(
            Charger(
                id=f"c:{i:03d}",
                name=f"c{i}",
                address="",
                postal_code="",
                city="",
                operator=None,
                lat=float(rng.uniform(49.38, 49.44)),
                lon=float(rng.uniform(8.64, 8.74)),
                evses=evses,
                source="test",
            )
        )
    return out


def station_oracle(
    wanted: set[StationKind] | None,
    has_bikes: bool,
    has_free_space: bool,
    min_count: int,
    ebike: bool | None,
) -> Callable[[Station], bool]:
    def keep(s: Station) -> bool:
        return (
            (wanted is None or s.kind in wanted)
            and (not has_bikes or s.has_bikes(min_count))
            and (not has_free_space or s.has_free_space(min_count))
            and (ebike is None or bool(s.ebike_charging) is ebike)
        )

    return keep


def charger_oracle(
    accepted: list[str] | None, min_power: float, available_only: bool
) -> Callable[[Charger], bool]:
    broken = {EvseStatus.INOPERATIVE, EvseStatus.OUTOFORDER, EvseStatus.PLANNED, EvseStatus.REMOVED}

    def usable(e: Evse) -> bool:
        return (e.status not in broken) and (not available_only or e.status is EvseStatus.AVAILABLE)

    def keep(c: Charger) -> bool:
        return any(
            usable(e)
            and any(
                (accepted is None or k.standard in accepted) and (k.power_kw or 0.0) >= min_power
                for k in e.connectors
            )
            for e in c.evses
        )

    return keep


def brute_force(items: list, keep, near, radius_m, limit) -> list[tuple[str, float]]:
    """The obvious listing: every item tested, distances by haversine, sorted, cut."""
    if near is None:
        return [(item.id, 0.0) for item in items if keep(item)][:limit]
    hits = sorted(
        (haversine_m(near[0], near[1], item.lat, item.lon), item.id)
        for item in items
        if keep(item) and haversine_m(near[0], near[1], item.lat, item.lon) <= radius_m
    )
    return [(i, d) for d, i in hits][:limit]


def listed(result: list) -> list[tuple[str, float]]:
    return [(r.item.id, r.distance_m) if isinstance(r, Nearby) else (r.id, 0.0) for r in result]


def assert_same(got: list, expected: list[tuple[str, float]]) -> None:
    assert [i for i, _ in listed(got)] == [i for i, _ in expected]
    assert [d for _, d in listed(got)] == pytest.approx([d for _, d in expected])


def test_station_select_matches_brute_force() -> None:
    rng = np.random.default_rng(11)
    store = StationStore(random_stations(rng, 300))
    store.refresh(NOW)
    stations = store.snapshot()
    centres = [None, (49.41, 8.69), (49.385, 8.645), (49.5, 8.9)]
    for _ in range(40):
        kinds = [None, StationKind.BIKE_SHARE, "bike_box", [StationKind.BIKE_PARKING, "bike_box"]]
        kind = kinds[int(rng.integers(len(kinds)))]
        has_bikes, has_free_space = bool(rng.random() < 0.4), bool(rng.random() < 0.4)
        min_count = int(rng.integers(1, 3))
        ebike = [None, True, False][int(rng.integers(3))]
        names = [kind] if isinstance(kind, str) else kind
        wanted = None if names is None else {StationKind(k) for k in names}
        oracle = station_oracle(wanted, has_bikes, has_free_space, min_count, ebike)
        keep = station_filter(
            kind,
            has_bikes=has_bikes,
            has_free_space=has_free_space,
            min_count=min_count,
            ebike_charging=ebike,
        )
        for near in centres:
            for radius in (0.0, 400.0, 1500.0, 8000.0):
                for limit in (None, 1, 5):
                    got = store.select(keep, near=near, radius_m=radius, limit=limit, now=NOW)
                    assert_same(got, brute_force(stations, oracle, near, radius, limit))
                    # The store's own radius query answers the same.
                    if near is not None:
                        same = store.nearby(
                            near[0], near[1], radius, kinds=kind, has_bikes=has_bikes,  # type: ignore[arg-type]
                            has_free_space=has_free_space, min_count=min_count,
                            ebike_charging=ebike, limit=limit, now=NOW,
                        )  # fmt: skip
                        assert same == got


def test_charger_select_matches_brute_force() -> None:
    rng = np.random.default_rng(12)
    chargers = random_chargers(rng, 200)
    store = ChargerStore(chargers)
    for standards in (None, "IEC_62196_T2", ["IEC_62196_T2_COMBO", "CHADEMO"]):
        for min_power in (0.0, 22.0, 100.0):
            for available_only in (False, True):
                accepted = [standards] if isinstance(standards, str) else standards
                oracle = charger_oracle(accepted, min_power, available_only)
                keep = charger_filter(standards, min_power, available_only=available_only)
                for near in (None, (49.41, 8.69), (49.435, 8.735)):
                    for radius in (300.0, 2500.0):
                        for limit in (None, 3):
                            got = store.select(keep, near=near, radius_m=radius, limit=limit)
                            assert_same(got, brute_force(chargers, oracle, near, radius, limit))


def test_charger_filter_reads_an_iterator_once() -> None:
    chargers = random_chargers(np.random.default_rng(13), 60)
    by_list = charger_filter(["IEC_62196_T2", "CHADEMO"], 11.0)
    by_iter = charger_filter(iter(["IEC_62196_T2", "CHADEMO"]), 11.0)
    assert [by_iter(c) for c in chargers] == [by_list(c) for c in chargers]
    assert sum(by_list(c) for c in chargers) > 1


@pytest.mark.parametrize("near", [None, (49.41, 8.69)])
def test_select_marks_expired_counts_stale(near) -> None:
    live = {"realtime": True, "is_renting": True, "valid_until": NOW + timedelta(minutes=5)}
    store = StationStore(
        [Station(id="t:1", name="a", lat=49.41, lon=8.69, kind=StationKind.BIKE_SHARE,
                 source="test", bikes_available=2, **live)]  # type: ignore[arg-type]
    )  # fmt: skip
    keep = station_filter(has_bikes=True)
    assert [i for i, _ in listed(store.select(keep, near=near, radius_m=100, now=NOW))] == ["t:1"]
    later = NOW + timedelta(minutes=10)
    # Expired counts are not offered as live bikes, with or without a centre.
    assert store.select(keep, near=near, radius_m=100, now=later) == []
    assert store.get("t:1").stale  # type: ignore[union-attr]


def test_select_rejects_bad_centre() -> None:
    store = ChargerStore(random_chargers(np.random.default_rng(14), 3))
    with pytest.raises(RequestError, match="bad station query"):
        store.select(charger_filter(), near=(91.0, 8.69), radius_m=100)
    with pytest.raises(RequestError, match="bad station query"):
        store.select(charger_filter(), near=(49.41, 8.69), radius_m=-1)
