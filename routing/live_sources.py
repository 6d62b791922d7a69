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
from typing import Any

from routing.errors import RegionError

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
_KNOWN_KEYS = {
    "kind",
    "url",
    "interval_s",
    "timeout_s",
    "max_age_s",
    "auth_header",
    "auth_env",
    "auth_value",
}
_OPTIONS = {"source_uid", "system_id", "language", "page_limit", "grace_s"}


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
        A table is malformed; the message names the key and the fix.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RegionError(f"{path}: 'live' must be a table of [live.KEY] feeds, got {raw!r}")
    out: dict[str, LiveSource] = {}
    for key, table in raw.items():
        where = f"{path}: [live.{key}]"
        if not isinstance(table, dict):
            raise RegionError(f"{where} must be a table with kind and url")
        unknown = sorted(set(table) - _KNOWN_KEYS - _OPTIONS)
        if unknown:
            raise RegionError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(_KNOWN_KEYS | _OPTIONS))}"
            )
        kind = table.get("kind")
        if kind not in LIVE_KINDS:
            raise RegionError(
                f"{where}: kind {kind!r} is not a live feed kind; use one of "
                f"{', '.join(LIVE_KINDS)}"
            )
        url = table.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "file://")):
            raise RegionError(f"{where}: url must be an http(s):// or file:// address, got {url!r}")
        interval = _seconds(table, "interval_s", 30.0, where)
        timeout = _seconds(table, "timeout_s", min(10.0, interval), where)
        max_age = _seconds(table, "max_age_s", max(60.0, 3 * interval), where)
        if max_age < interval:
            raise RegionError(
                f"{where}: max_age_s ({max_age:g}) is shorter than interval_s ({interval:g}); "
                "data would expire before the next poll: raise max_age_s"
            )
        header = table.get("auth_header")
        env, value = table.get("auth_env"), table.get("auth_value")
        for name, item in (("auth_header", header), ("auth_env", env), ("auth_value", value)):
            if item is not None and (not isinstance(item, str) or not item):
                raise RegionError(f"{where}: {name} must be a non-empty string")
        if (env or value) and not header:
            raise RegionError(f"{where}: auth_env/auth_value need auth_header (e.g. Authorization)")
        if header and not (env or value):
            raise RegionError(
                f'{where}: auth_header {header!r} needs its value: auth_env = "VARIABLE" '
                "(read from the environment) or auth_value"
            )
        if env and value:
            raise RegionError(f"{where}: give auth_env or auth_value, not both")
        out[key] = LiveSource(
            key=key,
            kind=kind,
            url=url,
            interval_s=interval,
            timeout_s=timeout,
            max_age_s=max_age,
            auth_header=header,
            auth_env=env,
            auth_value=value,
            options={k: v for k, v in table.items() if k in _OPTIONS},
            file=path,
        )
    return out


def _seconds(table: dict[str, Any], name: str, default: float, where: str) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise RegionError(f"{where}: {name} must be a positive number of seconds, got {value!r}")
    return float(value)
