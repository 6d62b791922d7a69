"""Where to put new charging points or eBox stations: the maximal covering location problem.

Given candidate sites and demand points, choose ``k`` sites so that as much
demand as possible lies within a walking (or cycling) time of a chosen site.

* **Candidates**: OSM car parks (``amenity=parking``), transit stops, or a
  CSV (``id,name,lat,lon``) / GeoJSON file of points.
* **Demand**: the Zensus population grid spread evenly over the walk-graph
  nodes of each cell (a 1 km cell is far larger than a 5-minute walk), or the
  origins and destinations of a trip-request CSV.
* **Coverage**: a bounded Dijkstra on the reverse walk/bike graph from each
  candidate's snapped node (so the time is *from* the demand point *to* the
  site); demand points are snapped to their nearest node.
* **Solver**: exact with OR-Tools (SCIP MIP; CP-SAT if SCIP is missing) for
  city sizes (demand points with the same covering sites are merged first),
  lazy greedy for large inputs;
  the exact answer is never worse than greedy (greedy seeds the solver and
  the better of the two is kept).

The result reports the covered demand, the gain of each chosen site (in
greedy order among the chosen) and can draw a map PNG.

Modules: :mod:`~demand.placement.inputs` (sites and demand),
:mod:`~demand.placement.coverage` (the coverage matrix),
:mod:`~demand.placement.mclp` (the solvers), :mod:`~demand.placement.result`
(:func:`place` and its report). The brute-force oracle of the tests is in
``tests/support/mclp_oracle.py``.
"""

from demand.placement.coverage import MAX_SNAP_M, Coverage, coverage, covered_weight
from demand.placement.inputs import (
    Demand,
    Sites,
    osm_parking_sites,
    population_demand,
    read_sites,
    request_demand,
    stop_sites,
)
from demand.placement.mclp import (
    EXACT_MAX_PAIRS,
    PlacementSolution,
    cp_sat_mclp,
    greedy_mclp,
    mip_mclp,
    order_by_gain,
    solve_mclp,
)
from demand.placement.result import PlacementResult, place

__all__ = [
    "EXACT_MAX_PAIRS",
    "MAX_SNAP_M",
    "Coverage",
    "Demand",
    "PlacementResult",
    "PlacementSolution",
    "Sites",
    "coverage",
    "covered_weight",
    "cp_sat_mclp",
    "greedy_mclp",
    "mip_mclp",
    "order_by_gain",
    "osm_parking_sites",
    "place",
    "population_demand",
    "read_sites",
    "request_demand",
    "solve_mclp",
    "stop_sites",
]
