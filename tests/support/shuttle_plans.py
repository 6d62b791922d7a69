"""Shuttle plans as the fleet endpoints show them: trips that make capacity bind, and checks.

Shared by the multi-worker and the two-hosts tests (``tests/api``).
"""

from __future__ import annotations

#: Seats per vehicle: small, so that capacity binds.
SEATS = 3
#: Pickup points around Heidelberg's old town and Bergheim, drop-offs in the south.
ORIGINS = [(49.4094, 8.6937), (49.4105, 8.7060), (49.4075, 8.6900), (49.4120, 8.6990)]
DESTINATIONS = [(49.3925, 8.6890), (49.3990, 8.6720), (49.3850, 8.6800)]


def check_plans(vehicles: list[dict], confirmed: dict[str, int], gone: set[str]) -> None:
    """Every confirmed booking planned once, nothing else, no vehicle over capacity."""
    where: dict[str, list[str]] = {}
    for v in vehicles:
        load = int(v["onboard"])
        assert load <= v["capacity"]
        for stop in v["stops"]:
            rid = stop["request"]
            assert rid not in gone, f"refused or cancelled booking {rid} is planned"
            assert rid in confirmed, f"unknown request {rid} in the plans"
            where.setdefault(rid, []).append(f"{v['id']}:{stop['kind']}")
            load += confirmed[rid] if stop["kind"] == "pickup" else -confirmed[rid]
            assert 0 <= load <= v["capacity"], f"vehicle {v['id']} over capacity: {v['stops']}"
    for rid in confirmed:
        assert rid in where, f"confirmed booking {rid} missing from the plans"
        vehicles_of = {w.split(":")[0] for w in where[rid]}
        assert len(vehicles_of) == 1, f"booking {rid} on several vehicles: {where[rid]}"
        assert sorted(w.split(":")[1] for w in where[rid]) == ["dropoff", "pickup"]


def shape(vehicles: list[dict]) -> list[list[tuple[str, str]]]:
    """Each vehicle's stops as (request, kind): what two views of one plan must agree on."""
    return [[(s["request"], s["kind"]) for s in v["stops"]] for v in vehicles]
