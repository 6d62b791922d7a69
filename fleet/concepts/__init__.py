"""Service concepts for a last-mile zone, simulated on the same demand and road model.

- :mod:`fleet.concepts.settings` validates the ``[concepts]``, ``[stops]``,
  ``[line]``, ``[hub]``, ``[autonomous]`` and ``[costs]`` tables of a comparison file.
- :mod:`fleet.concepts.walking` is the walk/bike model and the virtual-stop generator.
- :mod:`fleet.concepts.autonomous` restricts the shuttle network to the streets an
  autonomous vehicle may use, at its lower top speed.
- :mod:`fleet.concepts.line` builds a feeder line and its timetable.
- :mod:`fleet.concepts.timetabled` simulates riders on a fixed or flex line.
- :mod:`fleet.concepts.kpis` turns any concept's rides into the same KPIs and costs.
- :mod:`fleet.concepts.backend` runs one (concept, demand, seed) run for the sweep runner.
- :mod:`fleet.concepts.compare` expands a comparison file into runs and writes the table.
- :mod:`fleet.concepts.report` draws the plots and writes the recommendation.
- :mod:`fleet.concepts.publish` exports a line as GTFS and a zone as GTFS-Flex v2.
"""

#: The service concepts, in report order.
CONCEPTS = ("door_to_door", "stop_based", "fixed", "flex")
#: Concepts run by the on-demand dispatcher (fleet size is their axis; lines have headways).
ON_DEMAND = ("door_to_door", "stop_based")
