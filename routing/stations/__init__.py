"""Bike stations and EV charging points: import, normalised model, live store.

Readers (one module per format) map GBFS, ParkAPI, OSM, BNetzA and OCPI data
onto the models in :mod:`routing.stations.model`; :mod:`routing.stations.store`
keeps them in thread-safe stores with radius lookup and run-time status
updates; :mod:`routing.stations.loader` builds the stores from a region.
Free-floating GBFS systems (e-scooters, dockless bikes) are parsed by
:mod:`routing.stations.free_floating` and :mod:`routing.stations.geofencing`
into snapshots held by :class:`~routing.stations.vehicle_store.VehicleStore`.

Typical use::

    from routing.regions import load_region
    from routing.stations import load_chargers, load_stations

    region = load_region("heidelberg")
    stations = load_stations(region)
    chargers = load_chargers(region)
    near = chargers.nearby(49.41, 8.69, 1500, standards="IEC_62196_T2", min_power_kw=11)
"""

from routing.stations.geojson import chargers_to_geojson, stations_to_geojson
from routing.stations.loader import load_chargers, load_stations, load_vehicles
from routing.stations.model import (
    Charger,
    Connector,
    Evse,
    EvseStatus,
    Station,
    StationKind,
)
from routing.stations.store import ChargerStore, Nearby, StationStore, UpdateReport
from routing.stations.vehicle_store import VehicleStore

__all__ = [
    "Charger",
    "ChargerStore",
    "Connector",
    "Evse",
    "EvseStatus",
    "Nearby",
    "Station",
    "StationKind",
    "StationStore",
    "UpdateReport",
    "VehicleStore",
    "chargers_to_geojson",
    "load_chargers",
    "load_stations",
    "load_vehicles",
    "stations_to_geojson",
]
