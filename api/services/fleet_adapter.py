"""Build the fleet's online shuttle for the served region.

The one shuttle implementation is :class:`fleet.online.service.OnlineShuttle`
(the :class:`fleet.online.protocol.ShuttleDispatcher` protocol); the API keeps
the persistence and the HTTP mapping (:mod:`api.services.shuttle`). Whether the
shuttle runs at all is decided by the state loader from the settings
(:func:`api.state._load_shuttle`); this module only builds the product.
"""

from __future__ import annotations

from api.settings import Settings
from fleet.online.service import OnlineShuttle
from routing.road import RoadNetwork
from routing.stations import ChargerStore


def load_dispatcher(
    settings: Settings, *, network: RoadNetwork, timezone: str, chargers: ChargerStore | None
) -> OnlineShuttle:
    """Build the online shuttle on the region's ``shuttle`` road network.

    Parameters
    ----------
    settings : Settings
        The fleet (``ELSTER_SHUTTLE_VEHICLES``, seats, wheelchair places).
    network : RoadNetwork
        The ``shuttle`` profile's network the vehicles drive on.
    timezone : str
        The region's zone (dispatcher second 0 is a local midnight).
    chargers : ChargerStore or None
        Charging points the electric vehicles may use.

    Returns
    -------
    OnlineShuttle
    """
    from fleet.online.service import build_shuttle

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
