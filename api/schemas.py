"""Pydantic models of the API's requests and responses (camelCase on the wire, like MOTIS/OTP)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a machine code, a sentence, and what to do about it."""

    error: str = Field(description="Machine-readable code, e.g. 'invalid_request', 'no_route'.")
    message: str = Field(description="What is wrong, naming the field or parameter.")
    fix: str = Field(description="What to change so the request succeeds.")
    details: list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Not found / no route"},
    422: {"model": ErrorBody, "description": "Invalid or impossible request"},
    503: {"model": ErrorBody, "description": "Component not available in this build"},
}


class LatLon(BaseModel):
    """A WGS84 point."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees.")


class ComponentStatus(BaseModel):
    """Readiness of one domain."""

    ready: bool
    detail: str
    load_seconds: float


class FeedHealth(BaseModel):
    """Health of one polled live feed."""

    key: str
    kind: str
    url: str
    ok: bool = Field(description="Fresh data and the last poll succeeded.")
    expired: bool = Field(description="No data younger than max_age_s: not used for planning.")
    age_s: float | None = Field(description="Seconds since the last good fetch (200 or 304).")
    max_age_s: float
    interval_s: float
    version: int = Field(description="Payload version applied by this worker.")
    entities: int = Field(description="Entities applied from the current version.")
    errors_total: int
    consecutive_failures: int
    not_modified_total: int
    last_error: str | None = None
    leader: bool = Field(description="This worker process polls the feed.")


class Health(BaseModel):
    """Server status."""

    status: Literal["ok"]
    region: str
    title: str
    timezone: str
    bbox: list[float] = Field(description="[min_lon, min_lat, max_lon, max_lat]")
    uptime_s: float
    components: dict[str, ComponentStatus]
    default_date: str | None = None
    sample_queries: list[list[list[float]]] = Field(default_factory=list)
    feeds: list[FeedHealth] = Field(
        default_factory=list, description="Live feeds polled by the server (region [live.KEY])."
    )


# -- shuttle -------------------------------------------------------------------------------


class ShuttleTripRequest(BaseModel):
    """A ride request for the on-demand shuttle."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: LatLon = Field(alias="from", description="Pickup point.")
    to: LatLon = Field(description="Drop-off point.")
    pickup_after: datetime | None = Field(
        default=None,
        alias="pickupAfter",
        description="Earliest pickup (ISO 8601; without offset: the region's local time). "
        "Default: now.",
    )
    passengers: int = Field(default=1, ge=1, le=8)
    wheelchairs: int = Field(default=0, ge=0, le=2)


class PickupWindow(BaseModel):
    """When the shuttle will arrive at the pickup point."""

    start: datetime
    end: datetime


class ShuttleQuoteOut(BaseModel):
    """The dispatcher's offer, or why there is none."""

    model_config = ConfigDict(populate_by_name=True)

    accepted: bool
    reason: str = ""
    pickup_window: PickupWindow | None = Field(default=None, alias="pickupWindow")
    dropoff_eta: datetime | None = Field(default=None, alias="dropoffEta")
    price_eur: float | None = Field(default=None, alias="priceEur")
    vehicle_id: str | None = Field(default=None, alias="vehicleId")


class BookingEventOut(BaseModel):
    """One state change of a booking."""

    at: datetime
    status: str
    detail: str


class BookingOut(BaseModel):
    """A shuttle booking as the passenger sees it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: str = Field(
        description="confirmed, then assigned (the shuttle is on its way to the pickup), "
        "arriving, picked_up and completed; delayed (a new ETA, see live and events); or "
        "cancelled, no_show, cancelled_by_operator (the reason is in events). Read from the "
        "dispatcher's current plans (the status a cancel is decided on); each change is in "
        "events with its instant."
    )
    token: str | None = Field(
        default=None,
        description="Passenger token (only in the creation answer): send it as "
        "X-Booking-Token to read or cancel the booking.",
    )
    from_: LatLon = Field(alias="from")
    to: LatLon
    pickup_after: datetime = Field(alias="pickupAfter")
    passengers: int
    wheelchairs: int
    quote: ShuttleQuoteOut
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    events: list[BookingEventOut] = Field(default_factory=list)
    pickup_code: str | None = Field(
        default=None, alias="pickupCode", description="Show it to the driver at the pickup."
    )
    live: BookingLiveOut | None = Field(
        default=None,
        description="Where the shuttle is and when it comes (while a real vehicle serves "
        "the booking; null otherwise).",
    )


class BookingLiveOut(BaseModel):
    """The live view of a booking's shuttle."""

    model_config = ConfigDict(populate_by_name=True)

    vehicle_id: str = Field(alias="vehicleId")
    position: LatLon | None = Field(
        description="Where the shuttle is: only once it is on its way to you or carries you."
    )
    position_at: datetime | None = Field(alias="positionAt")
    pickup_eta: datetime | None = Field(alias="pickupEta")
    dropoff_eta: datetime | None = Field(alias="dropoffEta")
    delayed: bool


BookingOut.model_rebuild()


# -- fleet (dispatcher view) -----------------------------------------------------------------


class VehicleOut(BaseModel):
    """A shuttle vehicle as the dispatcher sees it."""

    model_config = ConfigDict(extra="allow")

    id: str
    lat: float | None = None
    lon: float | None = None
    capacity: int | None = None
    onboard: int | None = None
    stops: list[dict[str, Any]] = Field(default_factory=list)


class FleetRequestOut(BaseModel):
    """A booking in the dispatcher's list."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: str
    from_: LatLon = Field(alias="from")
    to: LatLon
    pickup_after: datetime = Field(alias="pickupAfter")
    passengers: int
    wheelchairs: int
    vehicle_id: str | None = Field(default=None, alias="vehicleId")
    created_at: datetime = Field(alias="createdAt")


# -- itineraries (MOTIS/OTP shape) -------------------------------------------------------------


class Place(BaseModel):
    """A leg end: a stop (with id) or a free point."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str = ""
    lat: float
    lon: float
    stop_id: str | None = Field(default=None, alias="stopId")


class LegGeometry(BaseModel):
    """An encoded polyline (Google algorithm) with its precision (6 digits)."""

    points: str
    precision: int = 6
    length: int = Field(description="Number of vertices.")


class Alert(BaseModel):
    """A GTFS-Realtime service alert."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    header_text: str = Field(alias="headerText")
    description_text: str = Field(alias="descriptionText")
    cause: str
    effect: str
    url: str | None = None


class FeedUse(BaseModel):
    """One live feed's part in a plan.

    GTFS-RT feeds, and station, charger and free-floating feeds (GBFS, ParkAPI,
    OCPI): ``used`` false for those means their sites count as "availability
    unknown" and an expired free-floating system's vehicles are not offered.
    """

    model_config = ConfigDict(populate_by_name=True)

    feed: str
    kind: str
    used: bool
    expired: bool
    age_seconds: float | None = Field(default=None, alias="ageSeconds")
    max_age_seconds: float = Field(alias="maxAgeSeconds")


class RealtimeStatus(BaseModel):
    """What a plan's transit times are based on: realtime feeds or the schedule."""

    applied: bool = Field(description="Trip times include realtime updates.")
    message: str = Field(
        description="What the times are based on, and which live availability feeds are not used."
    )
    feeds: list[FeedUse] = Field(default_factory=list)


class Leg(BaseModel):
    """One leg of an itinerary."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    mode: str = Field(
        description="WALK, BICYCLE, SCOOTER, CAR, TRAM, BUS, RAIL, ..., CHARGING, SHUTTLE"
    )
    from_: Place = Field(alias="from")
    to: Place
    start_time: datetime = Field(alias="startTime")
    end_time: datetime = Field(alias="endTime")
    duration: float = Field(description="Seconds.")
    distance: float | None = Field(default=None, description="Metres.")
    transit_leg: bool = Field(default=False, alias="transitLeg")
    leg_geometry: LegGeometry | None = Field(default=None, alias="legGeometry")
    route_id: str | None = Field(default=None, alias="routeId")
    route_short_name: str | None = Field(default=None, alias="routeShortName")
    trip_id: str | None = Field(default=None, alias="tripId")
    headsign: str | None = None
    realtime: bool = Field(
        default=False, description="Times of this transit leg come from a realtime feed."
    )
    departure_delay: int | None = Field(
        default=None, alias="departureDelay", description="Seconds late at boarding (realtime)."
    )
    arrival_delay: int | None = Field(
        default=None, alias="arrivalDelay", description="Seconds late at alighting (realtime)."
    )
    scheduled_start_time: datetime | None = Field(default=None, alias="scheduledStartTime")
    scheduled_end_time: datetime | None = Field(default=None, alias="scheduledEndTime")
    alerts: list[Alert] = Field(
        default_factory=list,
        description="Service alerts informing the leg's trip, route or boarding/alighting stop.",
    )
    relies_on_realtime: bool | None = Field(
        default=None,
        alias="reliesOnRealtime",
        description="Live data showed the bike, free space, charging point or free-floating "
        "vehicle this leg needs (set on legs that use one).",
    )
    availability: Literal["available", "unknown"] | None = Field(
        default=None,
        description="'unknown': a station, box or charger of this leg has no (fresh) live "
        "data; it is offered anyway, ranked below ones known to have room.",
    )


class Cost(BaseModel):
    """A price."""

    amount: float
    currency: str = "EUR"


class Itinerary(BaseModel):
    """A door-to-door journey of one planner mode."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    mode: str = Field(description="Planner mode that produced it (walk, transit, bike_ride, ...).")
    duration: float = Field(description="Seconds from start to end.")
    start_time: datetime = Field(alias="startTime")
    end_time: datetime = Field(alias="endTime")
    transfers: int = 0
    walk_time: float | None = Field(default=None, alias="walkTime", description="Seconds.")
    walk_distance: float | None = Field(default=None, alias="walkDistance", description="Metres.")
    effort: float | None = Field(default=None, description="Seconds walking or cycling.")
    cost: Cost | None = None
    legs: list[Leg]


class PlanResponse(BaseModel):
    """Pareto-optimal itineraries (arrival, transfers, effort, cost), earliest arrival first."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Place = Field(alias="from")
    to: Place
    time: datetime
    arrive_by: bool = Field(alias="arriveBy")
    wheelchair: bool = Field(default=False, description="Step-free trips were asked for.")
    modes: list[str]
    itineraries: list[Itinerary]
    reasons: dict[str, str] = Field(
        default_factory=dict,
        description="Per requested mode without an itinerary: why (no station in reach, "
        "battery, dominated by other modes, ...).",
    )
    realtime: RealtimeStatus | None = Field(
        default=None,
        description="Whether realtime data was applied; when a feed's data is too old, "
        "plans fall back to the schedule and this says so.",
    )


class RouteResponse(BaseModel):
    """A fastest road route."""

    model_config = ConfigDict(populate_by_name=True)

    profile: str
    duration: float = Field(description="Seconds.")
    distance: float = Field(description="Metres.")
    from_: Place = Field(alias="from")
    to: Place
    leg_geometry: LegGeometry = Field(alias="legGeometry")


class GeoJSON(BaseModel):
    """A GeoJSON FeatureCollection (coordinates in lon, lat order)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]
