"""Inputs of a simulation as events: request arrivals (demand's schema) and periodic ticks.

Times inside a simulation are seconds since local midnight of the service day
of the first request (so hourly plots and shift windows read naturally); the
Unix time of that midnight is kept to convert back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from fleet.online.promises import Trip
from fleet.online.travel import TravelModel
from routing.errors import DataError

#: Event kinds in the order they run at the same moment.
REOPTIMISE, REBALANCE, REQUEST = 0, 1, 2


@dataclass(frozen=True)
class Event:
    """One thing that happens at ``time``: a request arrives or a periodic task runs."""

    time: float
    kind: int
    index: int = -1  # request index for REQUEST


@dataclass(frozen=True)
class TripStream:
    """Requests ready for the dispatcher.

    Attributes
    ----------
    trips : list of Trip
        In request-time order.
    origin_unix : float
        Unix time of second 0 (local midnight of the first service day).
    timezone : str
    purposes : list of str
        Trip purpose per request ("" when unknown).
    """

    trips: list[Trip]
    origin_unix: float
    timezone: str
    purposes: list[str]


def trips_from_frame(
    frame: pd.DataFrame, travel: TravelModel, *, timezone: str | None = None
) -> TripStream:
    """Convert requests in demand's schema (:data:`demand.requests.REQUEST_COLUMNS`).

    A request with ``wheelchair`` true needs one wheelchair place; its other
    passengers take seats. Points are placed on the travel model in one batch;
    points it cannot place are kept (the dispatcher rejects them with the
    reason).

    Raises
    ------
    DataError
        Missing columns or naive timestamps.
    """
    need = (
        "request_id", "request_time", "origin_lat", "origin_lon", "destination_lat",
        "destination_lon", "passengers", "wheelchair", "earliest_pickup", "latest_arrival",
    )  # fmt: skip
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(
            f"request table lacks columns {missing}; use the request schema of `elster demand`"
        )
    if frame.empty:
        return TripStream([], 0.0, timezone or "UTC", [])
    req_t = pd.to_datetime(frame["request_time"])
    if req_t.dt.tz is None:
        raise DataError("request times have no timezone; write them with a UTC offset")
    tz = timezone or str(req_t.dt.tz)
    first = req_t.min().tz_convert(tz)
    midnight = datetime.combine(first.date(), time(0), tzinfo=ZoneInfo(tz))
    origin = midnight.timestamp()

    def secs(col: str) -> np.ndarray:
        values = pd.to_datetime(frame[col], utc=True)
        out = (values - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(float)
        return np.where(np.isnan(out), math.inf, out) - origin

    rt, ep, la = secs("request_time"), secs("earliest_pickup"), secs("latest_arrival")
    ola, olo = frame["origin_lat"].to_numpy(float), frame["origin_lon"].to_numpy(float)
    dla, dlo = frame["destination_lat"].to_numpy(float), frame["destination_lon"].to_numpy(float)
    o_loc = travel.locate_many(ola, olo)
    d_loc = travel.locate_many(dla, dlo)
    pax = frame["passengers"].to_numpy(np.int64)
    chair = frame["wheelchair"].astype(str).str.lower().isin(["true", "1", "yes"]).to_numpy()
    ids = frame["request_id"].astype(str).tolist()
    purposes = frame["purpose"].astype(str).tolist() if "purpose" in frame else [""] * len(ids)
    trips = []
    for i in range(len(ids)):
        chairs = 1 if chair[i] else 0
        trips.append(
            Trip(
                id=ids[i],
                origin=(float(ola[i]), float(olo[i])),
                destination=(float(dla[i]), float(dlo[i])),
                request_time=float(rt[i]),
                earliest_pickup=float(max(ep[i], rt[i])),
                latest_arrival=float(la[i]),
                passengers=max(int(pax[i]) - chairs, 0),
                wheelchairs=chairs,
                origin_loc=int(o_loc[i]),
                destination_loc=int(d_loc[i]),
            )
        )
    order = sorted(range(len(trips)), key=lambda i: (trips[i].request_time, i))
    return TripStream([trips[i] for i in order], origin, tz, [purposes[i] for i in order])


def build_events(
    trips: list[Trip], *, reoptimise_every_s: float, rebalance_every_s: float
) -> list[Event]:
    """Request arrivals plus periodic re-optimisation and rebalancing ticks, in order."""
    events = [Event(t.request_time, REQUEST, i) for i, t in enumerate(trips)]
    if trips:
        t0 = trips[0].request_time
        t1 = max(t.earliest_pickup for t in trips)
        for every, kind in ((reoptimise_every_s, REOPTIMISE), (rebalance_every_s, REBALANCE)):
            if every and every > 0:
                start = math.ceil(t0 / every) * every
                events.extend(Event(float(t), kind) for t in np.arange(start, t1 + every, every))
    events.sort(key=lambda e: (e.time, e.kind, e.index))
    return events
