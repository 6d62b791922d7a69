"""The road model of an autonomous shuttle: allowed streets only, at a lower top speed.

Autonomous shuttles in German trials (e.g. under the 2021 AFGBV permit) run in
an approved operating area at 15-25 km/h. Here the operating area is the
zone's polygon grown by ``area_buffer_m`` (so the hub stays reachable), the
allowed streets are those whose modelled driven speed is at most
``max_street_kmh`` (no arterials, where the speed gap to traffic is unsafe),
and every segment is driven at most at ``max_speed_kmh``. The shuttle
network's hierarchy is re-customized for these weights (CCH customization,
milliseconds; forbidden segments are ``inf``), so the dispatcher, the line
builder and the audit see one consistent model.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from shapely import contains_xy
from shapely.geometry.base import BaseGeometry

from routing.ch import customize
from routing.errors import DataError

log = logging.getLogger(__name__)


def autonomous_weights(
    graph,
    area: BaseGeometry | None,
    *,
    max_speed_kmh: float,
    max_street_kmh: float,
) -> np.ndarray:
    """Seconds per edge for the autonomous shuttle (``inf`` where it may not drive).

    Parameters
    ----------
    graph : RoadGraph
        The shuttle graph (turn-expanded: an edge is a turn onto a segment).
    area : shapely geometry or None
        The operating area in (lon, lat); ``None``: everywhere.
    max_speed_kmh : float
        Top speed of the vehicle.
    max_street_kmh : float
        Streets modelled faster than this (driven speed) are not allowed.
    """
    turn = graph.turn_cost if graph.turn_cost is not None else np.zeros_like(graph.travel_time)
    drive = np.maximum(graph.travel_time - turn, 1e-9)
    length = graph.length_m
    street_kmh = length / drive * 3.6
    allowed = street_kmh <= max_street_kmh + 1e-9
    if area is not None:
        head = graph.head.astype(np.int64)
        tail = np.repeat(np.arange(graph.n_nodes), np.diff(graph.first_out))
        inside = contains_xy(area, graph.lon, graph.lat)
        allowed &= inside[head] & inside[tail]
    slow = np.maximum(drive, length / (max_speed_kmh / 3.6))
    return np.where(allowed, turn + slow, np.inf)


def autonomous_travel(
    network,
    area: BaseGeometry | None,
    *,
    max_speed_kmh: float,
    max_street_kmh: float,
):
    """A :class:`fleet.online.travel.RoadTravel` for the autonomous shuttle.

    Raises
    ------
    DataError
        No street is allowed (the message names the keys to change).
    """
    from fleet.online.travel import RoadTravel

    graph = network.graph
    weight = autonomous_weights(
        graph, area, max_speed_kmh=max_speed_kmh, max_street_kmh=max_street_kmh
    )
    if not np.isfinite(weight).any():
        raise DataError("[autonomous]: no street is allowed; raise max_street_kmh or area_buffer_m")
    if network.structure is None:
        raise DataError("the shuttle network has no customizable hierarchy; rebuild it")
    hierarchy = customize(network.structure, graph, weight)
    travel = RoadTravel(replace(graph, travel_time=weight), hierarchy)
    log.info(
        "autonomous shuttle: %d of %d edges allowed, top speed %.0f km/h",
        int(np.isfinite(weight).sum()),
        weight.size,
        max_speed_kmh,
    )
    return travel
