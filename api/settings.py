"""Service settings, read from the environment (``ELSTER_*``) by pydantic-settings.

Every option has a safe default so that ``elster serve heidelberg`` works
without configuration: the region's data and cache directories follow
:func:`routing.regions.default_data_dir`, bookings go to an embedded SQLite
file beside the data, and operator endpoints stay closed until an API key is
configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from routing.regions import DEFAULT_REGION, default_cache_dir, default_data_dir


class Settings(BaseSettings):
    """Configuration of one API process.

    Attributes
    ----------
    region : str
        Region name or path to a region TOML (``ELSTER_REGION``).
    data_dir, cache_dir : Path
        Source data and build cache (``ELSTER_DATA_DIR``, ``ELSTER_CACHE_DIR``).
    database_url : str
        SQLAlchemy URL for bookings and dispatcher state (``ELSTER_DATABASE_URL``);
        default ``sqlite:///DATA_DIR/elster-REGION.db``. A ``postgresql://`` URL works too.
    api_keys : str
        Comma-separated operator keys accepted in the ``X-API-Key`` header
        (``ELSTER_API_KEYS``). Empty means operator endpoints refuse every call.
    cors_origins : str
        Comma-separated origins allowed by CORS (``ELSTER_CORS_ORIGINS``).
    max_body_bytes : int
        Largest accepted request body; larger ones get 413 (``ELSTER_MAX_BODY_BYTES``).
    body_timeout_s : float
        Seconds a client has to send the whole request body; slower ones get 408 and
        the connection is closed (``ELSTER_BODY_TIMEOUT_S``).
    profiles : str
        Comma-separated road profiles to load (``ELSTER_PROFILES``).
    transit : bool
        Load the region's timetable (``ELSTER_TRANSIT``).
    token_secret : str
        Secret that signs passenger booking tokens (``ELSTER_TOKEN_SECRET``, at least
        32 characters, the same for every worker and host). Recommended: without it a
        secret is generated once and kept in the bookings database (created 0600), and
        whoever can read the database can forge tokens. When set, it is used and nothing
        is stored; changing it invalidates the tokens already handed out.
    shuttle_vehicles, shuttle_seats, shuttle_wheelchairs : int
        The on-demand fleet the dispatcher plans with (``ELSTER_SHUTTLE_VEHICLES``, ...);
        0 vehicles turns the shuttle service off.
    shuttle_operation : {"simulated", "live"}
        ``simulated`` (``ELSTER_SHUTTLE_OPERATION``, default): the vehicles drive
        their plans exactly. ``live``: real vehicles join by starting a shift and
        report positions and stop events through ``/api/v1/vehicles``.
    shuttle_no_show_wait_s : float
        How long a driver waits at a pickup before a no-show may be reported.
    clock_file : Path or None
        ``ELSTER_CLOCK_FILE``: a file holding the UNIX time the shuttle stack
        runs on (simulated days); unset: the system clock.
    shuttle_reoptimise_s : float
        Seconds between re-optimisations (and idle-vehicle rebalancing) of the shuttle
        plans in the background (``ELSTER_SHUTTLE_REOPTIMISE_S``); 0 turns it off.
    live_path : Path or None
        JSON file of road closures and traffic readings, shared by the worker
        processes (``ELSTER_LIVE_PATH``); default ``DATA_DIR/live/REGION.json``.
    rate_limit_bookings, rate_limit_expensive : str
        Per-client limits as ``"N/S"`` (N requests per S seconds; ``"0"`` turns it off):
        booking creation (``ELSTER_RATE_LIMIT_BOOKINGS``, default 10 per minute) and the
        expensive public endpoints, plan, route, matrix, isochrone, departures and shuttle
        quotes (``ELSTER_RATE_LIMIT_EXPENSIVE``, default 120 per minute). Answered 429 with
        Retry-After; operator keys are exempt. Each worker enforces its share (see
        :mod:`api.ratelimit`).
    isochrone_concurrency : int
        Isochrones computed at once per worker (``ELSTER_ISOCHRONE_CONCURRENCY``); more
        wait, then get 503 with Retry-After. Bounds the CPU and memory they take.
    workers : int
        Worker processes serving together (``ELSTER_WORKERS``, set by ``elster serve``);
        rate limits are divided among them.
    map_shuttle_cell_m : float
        Grid cell (metres) the public shuttle map layer coarsens vehicle positions to
        (``ELSTER_MAP_SHUTTLE_CELL_M``); exact positions are for operators only.
    wheelchair : bool
        Load the step-free walking network for ``wheelchair=true`` plans
        (``ELSTER_WHEELCHAIR``).
    live_feeds : bool
        Poll the region's ``[live.KEY]`` feeds while serving (``ELSTER_LIVE_FEEDS``).
    """

    model_config = SettingsConfigDict(env_prefix="ELSTER_", extra="ignore")

    region: str = DEFAULT_REGION
    data_dir: Path = Field(default_factory=default_data_dir)
    cache_dir: Path = Field(default_factory=default_cache_dir)
    database_url: str = ""
    api_keys: str = ""
    cors_origins: str = ""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    profiles: str = "walk,bike,car,shuttle"
    transit: bool = True
    token_secret: str = ""
    shuttle_vehicles: int = Field(default=10, ge=0)
    shuttle_seats: int = Field(default=8, ge=1)
    shuttle_wheelchairs: int = Field(default=1, ge=0)
    shuttle_reoptimise_s: float = Field(default=60.0, ge=0)
    shuttle_operation: Literal["simulated", "live"] = "simulated"
    shuttle_no_show_wait_s: float = Field(default=180.0, ge=0, le=3600)
    clock_file: Path | None = None
    rate_limit_bookings: str = "10/60"
    rate_limit_expensive: str = "120/60"
    workers: int = Field(default=1, ge=1)
    isochrone_concurrency: int = Field(default=2, ge=1, le=64)
    map_shuttle_cell_m: float = Field(default=1000.0, ge=100.0, le=50_000.0)
    wheelchair: bool = True
    live_path: Path | None = None
    live_feeds: bool = True

    @field_validator("token_secret")
    @classmethod
    def _strong_secret(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError(
                "ELSTER_TOKEN_SECRET is too short: use at least 32 random characters "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return value

    @field_validator("rate_limit_bookings", "rate_limit_expensive")
    @classmethod
    def _rate(cls, value: str) -> str:
        from api.ratelimit import Limit

        Limit.parse("limit", value)  # raises with the expected form
        return value

    def rate_limits(self, prefix: str) -> dict[tuple[str, str], Any]:
        """``(method, path) -> Limit`` of the rate-limited endpoints under ``prefix``."""
        from api.ratelimit import LIMITED_ROUTES, Limit

        configured = {"booking": self.rate_limit_bookings, "routing": self.rate_limit_expensive}
        routes: dict[tuple[str, str], Any] = {}
        for name, text in configured.items():
            limit = Limit.parse(name, text, workers=self.workers)
            if limit is not None:
                for method, path in LIMITED_ROUTES[name]:
                    routes[(method, prefix + path)] = limit
        return routes

    @field_validator("data_dir", "cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return Path(value).expanduser().resolve()

    def resolved_database_url(self, region_name: str) -> str:
        """Return the database URL, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / f'elster-{region_name}.db'}"

    def resolved_live_path(self, region_name: str) -> Path:
        """Return the live-state file, defaulting to ``DATA_DIR/live/REGION.json``."""
        if self.live_path is not None:
            return Path(self.live_path).expanduser().resolve()
        return self.data_dir / "live" / f"{region_name}.json"

    def operator_keys(self) -> list[str]:
        """Return the configured operator API keys (never empty strings)."""
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    def cors_origin_list(self) -> list[str]:
        """Return the configured CORS origins."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def profile_list(self) -> list[str]:
        """Return the road profiles to load, in order."""
        return [p.strip() for p in self.profiles.split(",") if p.strip()]
