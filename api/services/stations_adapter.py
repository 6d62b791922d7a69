"""Load the region's bike stations, chargers and free-floating vehicles into the API state."""

from __future__ import annotations

from typing import Any

from api.state import RegionState


def load_stations(state: RegionState) -> Any:
    """The live station store of the region (missing optional sources are skipped)."""
    from routing.stations import load_stations as load

    return load(state.region, state.settings.data_dir, skip_missing=True)


def load_chargers(state: RegionState) -> Any:
    """The live charger store of the region (missing optional sources are skipped)."""
    from routing.stations import load_chargers as load

    return load(state.region, state.settings.data_dir, skip_missing=True)


def load_vehicles(state: RegionState) -> Any:
    """The free-floating vehicle store of the region (empty when it has no such feed)."""
    from routing.stations import load_vehicles as load

    return load(state.region, state.settings.data_dir, skip_missing=True)
