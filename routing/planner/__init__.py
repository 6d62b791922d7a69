"""Multimodal journey planning: one ``plan()`` over walk, transit, bikes, bike share,
free-floating e-scooters and bikes, cars and EVs.

Typical use::

    from routing.planner import PlanRequest, EvSpec, load_plan_context, plan

    ctx = load_plan_context("heidelberg")
    result = plan(PlanRequest(origin=(49.4094, 8.6937), destination=(49.3837, 8.6905),
                              depart_at="2022-09-14T08:00"), ctx)
    for it in result.itineraries:
        print(it.mode, it.end, it.transfers, it.effort_s, it.cost_eur)
    print(result.reasons)     # why a mode gave nothing

Access/egress providers (:mod:`routing.planner.providers`) are the seam for
on-demand shuttle legs: register one with ``ctx.add_provider(...)``.

Stations, boxes and chargers without fresh live data are offered with
``availability: unknown`` on the leg, ranked below ones known to have room
(``PlannerSettings.unknown_availability_s``); free-floating vehicles come
from ``PlanContext.vehicles`` (:class:`routing.stations.vehicle_store.VehicleStore`).

City operations:

* step-free trips: ``PlanRequest(..., wheelchair=True)`` (the wheelchair
  network is loaded by ``load_plan_context(..., wheelchair=True)`` or on first
  use); legs carry ``accessibility`` (unknown segments, GTFS codes);
* live closures and traffic: ``ctx.attach_live(live_state)`` (or
  ``load_plan_context(..., live=live_state)``); every search respects it at
  the request's time;
* arrive-by: ``PlanRequest(..., depart_at=deadline, arrive_by=True)``.
"""

from routing.planner.context import CostModel, PlanContext, PlannerSettings, load_plan_context
from routing.planner.geojson import plan_to_geojson
from routing.planner.options import PlannedItinerary
from routing.planner.pareto import dominates, pareto_front
from routing.planner.planner import PlanResult, plan
from routing.planner.providers import (
    BikeRideProvider,
    Direction,
    LegProvider,
    ProviderAnswer,
    ProviderQuery,
    StopLeg,
    WalkProvider,
)
from routing.planner.request import MODES, EvSpec, PlanRequest

__all__ = [
    "MODES",
    "BikeRideProvider",
    "CostModel",
    "Direction",
    "EvSpec",
    "LegProvider",
    "PlanContext",
    "PlanRequest",
    "PlanResult",
    "PlannedItinerary",
    "PlannerSettings",
    "ProviderAnswer",
    "ProviderQuery",
    "StopLeg",
    "WalkProvider",
    "dominates",
    "load_plan_context",
    "pareto_front",
    "plan",
    "plan_to_geojson",
]
