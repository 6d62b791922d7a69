"""The comparison tables of a scenario file, validated with pydantic.

A comparison file is a sweep scenario (:mod:`fleet.scenarios.spec`) with
these extra tables (every key optional; defaults below)::

    [compare]
    concepts = ["door_to_door", "stop_based", "fixed", "flex"]
    autonomous = [false, true]      # run every concept manned, autonomous, or both
    headway_min = [10, 20]          # the axis of the line concepts ([fleet] n_vehicles is
                                    # the axis of the on-demand ones)

    [stops]   walk_m = 300          # stop-based on-demand: longest walk to a virtual stop
              circuity = 1.3        # walks without a map (crow-fly x circuity); cycling
              max_uncovered_share = 0.05  # walk locations left without a stop (parks)
    [line]    walk_m = 400, dwell_s = 20, layover_min = 3, flex_slack_share = 0.3, ...
    [hub]     name = "...", location = [lon, lat], share = 0.25, ...
    [autonomous] max_speed_kmh = 20, highway = [...], maxspeed_kmh = 50,
                 allowed_ways_file = "...", safety_operator_required = true
    [costs]   vehicle_eur_h = 25, driver_eur_h = 35, kwh_per_km = 0.35, ...

Errors name the table and key and say what to write instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fleet.concepts import CONCEPTS
from routing.speed_model import SHUTTLE
from routing.validation import validate

#: The tables this module owns (the rest of the file is a sweep scenario).
TABLES = ("compare", "stops", "line", "hub", "autonomous", "costs")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompareSettings(_Strict):
    """Which concepts and variants run, and the line axis."""

    concepts: tuple[str, ...] = CONCEPTS
    autonomous: tuple[bool, ...] = (False, True)
    headway_min: tuple[float, ...] = (10.0, 20.0)
    car_access_min: float = Field(
        default=3.0, ge=0, description="parking and walking for a car trip"
    )

    @field_validator("concepts")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in v if c not in CONCEPTS]
        if bad or not v:
            raise ValueError(f"unknown concept(s) {bad}; use some of {list(CONCEPTS)}")
        return v

    @field_validator("headway_min")
    @classmethod
    def _positive(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or min(v) <= 0:
            raise ValueError("give headways in minutes > 0, like [10, 20]")
        return v


class StopSettings(_Strict):
    """Virtual stops of the stop-based on-demand service."""

    walk_m: float = Field(default=300.0, gt=0, description="longest walk to a stop, routed")
    circuity: float = Field(
        default=1.3,
        ge=1.0,
        description="walk = crow-fly x circuity when the region has no map (cycling always)",
    )
    max_uncovered_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="walk locations allowed to have no stop within walk_m (parks, fields)",
    )


class LineSettings(_Strict):
    """The feeder line (fixed, and flex with its slack)."""

    stops_file: str | None = Field(
        default=None, description="stops in order from the hub outwards (CSV or GeoJSON)"
    )
    stop_spacing_m: float = Field(
        default=400.0, gt=0, description="a generated trunk: a stop every this many metres"
    )
    walk_m: float = Field(default=600.0, gt=0)
    flex_walk_m: float = Field(
        default=300.0, gt=0, description="flex: door service beyond this walk"
    )
    dwell_s: float = Field(default=20.0, ge=0)
    layover_min: float = Field(default=3.0, ge=0)
    slack_share: float = Field(default=0.0, ge=0)
    flex_slack_share: float = Field(default=0.3, ge=0)
    corridor_m: float = Field(default=800.0, gt=0)
    vehicles: int | None = Field(default=None, ge=1)
    capacity: int | None = Field(default=None, ge=1)
    max_snap_m: float = Field(default=100.0, gt=0)
    zone_tolerance_m: float = Field(default=300.0, ge=0)
    boarding_s: float = Field(default=5.0, ge=0)
    tolerance_s: float = Field(default=300.0, ge=0)
    service_after_min: float = Field(
        default=30.0, ge=0, description="service past the demand window"
    )


class HubSettings(_Strict):
    """The transit hub the feeder serves and the demand bound for it."""

    name: str = "Hub"
    location: tuple[float, float] | None = None  # (lon, lat)
    share: float = Field(default=0.25, ge=0, le=1)
    transfer_walk_s: float = Field(default=60.0, ge=0)
    tram_radius_m: float = Field(default=250.0, gt=0)


#: Road classes an autonomous shuttle may use by default: no motorways or trunk roads (with
#: ``maxspeed_kmh`` = 50 no street signed faster either: the speed gap to traffic is unsafe).
#: Urban primary roads stay: without them Heidelberg's test zone falls apart in two halves.
AV_HIGHWAYS = (
    "primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link",
    "unclassified", "residential", "living_street", "service", "road", "busway",
)  # fmt: skip
#: Every ``highway`` class the shuttle profile can drive.
SHUTTLE_HIGHWAYS = tuple(sorted(SHUTTLE.highway_kmh))


class AutonomousSettings(_Strict):
    """The autonomous variant's allowed streets, speed and crew (``fleet.concepts.autonomous``)."""

    max_speed_kmh: float = Field(default=20.0, gt=0)
    highway: tuple[str, ...] = Field(
        default=AV_HIGHWAYS, description="OSM highway classes of the allowed streets"
    )
    maxspeed_kmh: float = Field(default=50.0, gt=0, description="highest signed limit allowed")
    unsigned_maxspeed_kmh: float = Field(
        default=50.0, gt=0, description="the limit of a street with none signed (StVO urban)"
    )
    allowed_ways_file: str | None = Field(
        default=None, description="OSM way ids, one a line (or a CSV with a way_id column)"
    )
    ways_file_mode: Literal["only", "add"] = Field(
        default="only", description="the file is the street set, or adds to the derived one"
    )
    area_buffer_m: float = Field(default=300.0, ge=0)
    min_connected_share: float = Field(
        default=0.8, ge=0, le=1, description="zone's allowed street length in one connected part"
    )
    safety_operator_required: bool = True
    capacity: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "max_street_kmh" in data:
            raise ValueError(
                "max_street_kmh is replaced by the street set: allowed highway classes "
                "(highway = [...]) and the highest signed limit (maxspeed_kmh = 50)"
            )
        return data

    @field_validator("highway")
    @classmethod
    def _classes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [h for h in v if h not in SHUTTLE_HIGHWAYS]
        if bad or not v:
            raise ValueError(
                f"unknown highway class(es) {bad}; use some of {list(SHUTTLE_HIGHWAYS)}"
            )
        return v


class CostSettings(_Strict):
    """Cost and emission parameters (EUR, kWh, g CO2)."""

    vehicle_eur_h: float = Field(default=25.0, ge=0, description="e-minibus incl. depreciation")
    av_vehicle_eur_h: float = Field(
        default=45.0, ge=0, description="autonomous shuttle incl. remote ops"
    )
    driver_eur_h: float = Field(default=35.0, ge=0)
    safety_operator_eur_h: float = Field(default=30.0, ge=0)
    safety_operator_required: bool = True
    kwh_per_km: float = Field(default=0.35, ge=0)
    eur_per_kwh: float = Field(default=0.30, ge=0)
    co2_g_per_kwh: float = Field(default=380.0, ge=0, description="German grid mix 2023, UBA")


class ComparisonSettings(_Strict):
    """All comparison tables together."""

    compare: CompareSettings = CompareSettings()
    stops: StopSettings = StopSettings()
    line: LineSettings = LineSettings()
    hub: HubSettings = HubSettings()
    autonomous: AutonomousSettings = AutonomousSettings()
    costs: CostSettings = CostSettings()

    def to_json(self) -> str:
        """Canonical JSON (part of every run's parameters)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ComparisonSettings:
        """Inverse of :meth:`to_json`."""
        return cls.model_validate(json.loads(text))


def parse_settings(raw: Mapping[str, Any], *, source: str, base_dir: Path) -> ComparisonSettings:
    """Validate the comparison tables of a parsed scenario file.

    Raises
    ------
    DataError
        Naming the file, the table and key, what was wrong and what to write
        (:func:`routing.validation.format_error`).
    """
    tables = {k: raw[k] for k in TABLES if k in raw}
    compare = tables.get("compare")
    if isinstance(compare, Mapping):
        # Single values are fine where lists are allowed.
        tables["compare"] = {
            k: [v]
            if k in ("concepts", "autonomous", "headway_min") and not isinstance(v, list)
            else v
            for k, v in compare.items()
        }
    settings = validate(ComparisonSettings, tables, source=source)
    if settings.line.stops_file:
        path = (base_dir / settings.line.stops_file).resolve()
        settings = settings.model_copy(
            update={"line": settings.line.model_copy(update={"stops_file": str(path)})}
        )
    if settings.autonomous.allowed_ways_file:
        path = (base_dir / settings.autonomous.allowed_ways_file).resolve()
        av = settings.autonomous.model_copy(update={"allowed_ways_file": str(path)})
        settings = settings.model_copy(update={"autonomous": av})
    return settings
