"""Load the region's bike stations, chargers and free-floating vehicles for the API.

Each loader takes the region and the settings (nothing else): a source the
region lists but whose file is missing is skipped with a warning, so a server
still starts with the stations it has.
"""

from __future__ import annotations

from api.settings import Settings
from routing.regions import Region
from routing.stations import ChargerStore, StationStore, VehicleStore
from routing.stations import load_chargers as _load_chargers
from routing.stations import load_stations as _load_stations
from routing.stations import load_vehicles as _load_vehicles


def load_stations(region: Region, settings: Settings) -> StationStore:
    """The live station store of the region (missing optional sources are skipped).

    Parameters
    ----------
    region : Region
        The served region (its ``osm``, ``gbfs`` and ``parkapi`` sources).
    settings : Settings
        Where the fetched sources are (``ELSTER_DATA_DIR``).
    """
    return _load_stations(region, settings.data_dir, skip_missing=True)


def load_chargers(region: Region, settings: Settings) -> ChargerStore:
    """The live charger store of the region (missing optional sources are skipped).

    Parameters
    ----------
    region : Region
        The served region (its ``bnetza`` and ``ocpi`` sources).
    settings : Settings
        Where the fetched sources are (``ELSTER_DATA_DIR``).
    """
    return _load_chargers(region, settings.data_dir, skip_missing=True)


def load_vehicles(region: Region, settings: Settings) -> VehicleStore:
    """The free-floating vehicle store of the region (empty when it has no such feed).

    Parameters
    ----------
    region : Region
        The served region (its free-floating ``gbfs`` sources).
    settings : Settings
        Where the fetched sources are (``ELSTER_DATA_DIR``).
    """
    return _load_vehicles(region, settings.data_dir, skip_missing=True)
