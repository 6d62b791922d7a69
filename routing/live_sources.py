"""Live feeds of a region: the ``[live.KEY]`` tables of its TOML file, validated.

Each table names one feed the server polls (see ``api.live``)::

    [live.vrn_trip_updates]
    kind = "gtfs_rt_trip_updates"   # or gtfs_rt_alerts, gtfs_rt_vehicle_positions,
                                    #    gbfs, parkapi, ocpi
    url = "https://example.org/gtfs-rt/trip-updates.pb"
    interval_s = 30                 # poll every 30 s (default 30)
    timeout_s = 10                  # give up on one request after 10 s (default 10)
    max_age_s = 300                 # older data is dropped: plans use the schedule
    auth_header = "Authorization"   # optional header sent with every request ...
    auth_env = "VRN_RT_TOKEN"       # ... its value from this environment variable
    # auth_value = "Bearer ..."     # (or literally; keep secrets out of the file)

Anything else is a kind-specific option (``source_uid`` for ParkAPI;
``system_id``, ``language`` and ``grace_s`` for GBFS; ``page_limit`` for OCPI).
A mistake raises :class:`RegionError` naming the file, the key and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator

from routing.errors import RegionError
from routing.validation import validate

#: Feed kinds the server can poll, and what each carries.
LIVE_KINDS = {
    "gtfs_rt_trip_updates": "GTFS-Realtime TripUpdates (delays, cancellations, platforms)",
    "gtfs_rt_alerts": "GTFS-Realtime ServiceAlerts",
    "gtfs_rt_vehicle_positions": "GTFS-Realtime VehiclePositions",
    "gbfs": "GBFS auto-discovery gbfs.json (station status, free-floating vehicles and zones)",
    "parkapi": "ParkAPI realtime (bike boxes)",
    "ocpi": "OCPI 2.2.1 Locations pull (chargers)",
}
GTFS_RT_KINDS = frozenset(k for k in LIVE_KINDS if k.startswith("gtfs_rt_"))
_OPTIONS = ("source_uid", "system_id", "language", "page_limit", "grace_s")


@dataclass(frozen=True)
class LiveSource:
    """One polled feed.

    Attributes
    ----------
    key : str
        The table name (``[live.KEY]``); names the feed in health and metrics.
    kind : str
        One of :data:`LIVE_KINDS`.
    url : str
        ``http(s)://`` (or ``file://``) address polled.
    interval_s, timeout_s, max_age_s : float
        Poll period, per-request timeout, and the age past which the last good
        data is dropped (default three intervals, at least 60 s).
    auth_header : str or None
        Header sent with every request, e.g. ``Authorization``.
    auth_env : str or None
        Environment variable holding the header's value.
    auth_value : str or None
        The header's value written in the file (prefer ``auth_env``).
    options : dict
        Kind-specific settings.
    file : Path or None
        The region file, for messages.
    """

    key: str
    kind: str
    url: str
    interval_s: float = 30.0
    timeout_s: float = 10.0
    max_age_s: float = 300.0
    auth_header: str | None = None
    auth_env: str | None = None
    auth_value: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None

    def headers(self) -> dict[str, str]:
        """Request headers (the auth header with its value resolved from the environment).

        Raises
        ------
        RegionError
            ``auth_env`` names a variable that is not set.
        """
        if not self.auth_header:
            return {}
        value = self.auth_value
        if self.auth_env:
            value = os.environ.get(self.auth_env)
            if not value:
                raise RegionError(
                    f"{self.file}: [live.{self.key}] takes its {self.auth_header} header from "
                    f"the environment variable {self.auth_env}, which is not set; export it "
                    "before starting the server"
                )
        return {self.auth_header: value or ""}


def _positive_seconds(value: Any) -> Any:
    """Refuse booleans, non-numbers and values <= 0 (before pydantic's own checks)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _non_empty(value: Any) -> Any:
    """Refuse anything but a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value


#: Seconds: a positive number (not a boolean).
Seconds = Annotated[float, BeforeValidator(_positive_seconds)]
#: A non-empty string.
NonEmpty = Annotated[str, BeforeValidator(_non_empty)]


class LiveSourceTable(BaseModel):
    """The ``[live.KEY]`` table as written in the region file (validated, before defaults)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: str
    url: str
    interval_s: Seconds = 30.0
    timeout_s: Seconds | None = None
    max_age_s: Seconds | None = None
    auth_header: NonEmpty | None = None
    auth_env: NonEmpty | None = None
    auth_value: NonEmpty | None = None
    # Kind-specific options.
    source_uid: Any = None
    system_id: Any = None
    language: Any = None
    page_limit: Any = None
    grace_s: Any = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        """Only the kinds the server can poll."""
        if kind not in LIVE_KINDS:
            raise ValueError(
                f"{kind!r} is not a live feed kind; use one of {', '.join(LIVE_KINDS)}"
            )
        return kind

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        """An address the poller can open."""
        if not url.startswith(("http://", "https://", "file://")):
            raise ValueError(f"must be an http(s):// or file:// address, got {url!r}")
        return url

    @model_validator(mode="after")
    def _consistent(self) -> LiveSourceTable:
        """Expiry after the next poll; an auth header with exactly one source of its value."""
        max_age = self.max_age_s if self.max_age_s is not None else max(60.0, 3 * self.interval_s)
        if max_age < self.interval_s:
            raise ValueError(
                f"max_age_s ({max_age:g}) is shorter than interval_s ({self.interval_s:g}); "
                "data would expire before the next poll: raise max_age_s"
            )
        header, env, value = self.auth_header, self.auth_env, self.auth_value
        if (env or value) and not header:
            raise ValueError("auth_env/auth_value need auth_header (e.g. Authorization)")
        if header and not (env or value):
            raise ValueError(
                f'auth_header {header!r} needs its value: auth_env = "VARIABLE" '
                "(read from the environment) or auth_value"
            )
        if env and value:
            raise ValueError("give auth_env or auth_value, not both")
        return self

    def to_source(self, key: str, path: Path) -> LiveSource:
        """The :class:`LiveSource` with its defaults filled in."""
        given = self.model_dump(exclude_unset=True)
        return LiveSource(
            key=key,
            kind=self.kind,
            url=self.url,
            interval_s=self.interval_s,
            timeout_s=self.timeout_s if self.timeout_s is not None else min(10.0, self.interval_s),
            max_age_s=(
                self.max_age_s if self.max_age_s is not None else max(60.0, 3 * self.interval_s)
            ),
            auth_header=self.auth_header,
            auth_env=self.auth_env,
            auth_value=self.auth_value,
            options={k: given[k] for k in _OPTIONS if k in given},
            file=path,
        )


def parse_live_sources(raw: Any, path: Path) -> dict[str, LiveSource]:
    """Validate the ``live`` table of a region file.

    Parameters
    ----------
    raw : object
        The parsed ``live`` table (None when absent).
    path : Path
        The region file (named in errors).

    Raises
    ------
    RegionError
        A table is malformed; the message names the file, the key and the fix.
    """
    if raw is None:
        return {}
    tables = validate(_LiveTables, {"live": raw}, source=str(path), error=RegionError).live
    return {key: table.to_source(key, path) for key, table in tables.items()}


class _LiveTables(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    live: dict[str, LiveSourceTable]
