"""The fleet's online shuttle, built from the settings for the booking API.

The booking service (:mod:`api.services.shuttle`) speaks the dispatch
protocol (:class:`fleet.online.protocol.ShuttleDispatcher`) to whatever it is
given; this module only builds the production one,
:class:`fleet.online.service.OnlineShuttle`, on the ``shuttle`` road network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.settings import Settings
from fleet.online.service import OnlineShuttle


def load_dispatcher(
    settings: Settings, *, networks: Mapping[str, Any], timezone: str, chargers: Any = None
) -> OnlineShuttle:
    """Build the online shuttle for the loaded region (on the ``shuttle`` road network).

    Parameters
    ----------
    settings : Settings
        The fleet (``shuttle_vehicles``, ``shuttle_seats``, ``shuttle_wheelchairs``).
    networks : mapping
        The loaded :class:`routing.road.RoadNetwork` per profile.
    timezone : str
        The region's zone (dispatcher second 0 is a local midnight).
    chargers : ChargerStore, optional
        Charging points for e-shuttles.

    Returns
    -------
    OnlineShuttle

    Raises
    ------
    ImportError
        The shuttle is switched off, or its road profile is not loaded (the
        component is then reported as unavailable).
    """
    from fleet.online.service import build_shuttle

    if settings.shuttle_vehicles == 0:
        raise ImportError("shuttle service off (ELSTER_SHUTTLE_VEHICLES=0)", name="shuttle")
    if "shuttle" not in networks:
        raise ImportError(
            "the shuttle needs the shuttle road profile: add it to ELSTER_PROFILES", name="shuttle"
        )
    network = networks["shuttle"]
    return build_shuttle(
        network.graph,
        network.hierarchy,
        network=network,
        n_vehicles=settings.shuttle_vehicles,
        seats=settings.shuttle_seats,
        wheelchairs=settings.shuttle_wheelchairs,
        timezone=timezone,
        chargers=chargers,
    )
