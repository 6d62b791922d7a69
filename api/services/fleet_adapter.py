"""Build the fleet's online shuttle for the served region.

The one shuttle implementation is :class:`fleet.online.service.OnlineShuttle`
(the :class:`fleet.online.protocol.ShuttleDispatcher` protocol); the API keeps
the persistence and the HTTP mapping (:mod:`api.services.shuttle`). Whether the
shuttle runs at all is decided by the state loader from the settings
(:func:`api.state._load_shuttle`); this module only builds the product.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from api.settings import Settings
from fleet.online.service import OnlineShuttle
from routing.road import RoadNetwork
from routing.stations import ChargerStore


def load_dispatcher(
    settings: Settings,
    *,
    network: RoadNetwork,
    timezone: str,
    chargers: ChargerStore | None,
    clock: Callable[[], float] = time.time,
) -> OnlineShuttle:
    """Build the online shuttle on the region's ``shuttle`` road network.

    Parameters
    ----------
    settings : Settings
        The fleet (``ELSTER_SHUTTLE_VEHICLES``, seats, wheelchair places) and how it
        operates (``ELSTER_SHUTTLE_OPERATION``: simulated or live vehicles).
    network : RoadNetwork
        The ``shuttle`` profile's network the vehicles drive on.
    timezone : str
        The region's zone (dispatcher second 0 is a local midnight).
    chargers : ChargerStore or None
        Charging points the electric vehicles may use.
    clock : callable
        UNIX seconds now (:func:`api.clock.make_clock`).

    Returns
    -------
    OnlineShuttle
    """
    from fleet.online.live import LiveConfig
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
        clock=clock,
        operation=settings.shuttle_operation,
        live=LiveConfig(no_show_wait_s=settings.shuttle_no_show_wait_s),
    )
