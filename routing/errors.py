"""The exception hierarchy shared by every Elster package.

Every error a user can cause derives from :class:`ElsterError` and also from
the matching builtin, so callers may catch either. Messages name the file,
row or field at fault and say how to fix it; the CLI turns them into exit
code 2 and the API into a 4xx response.
"""

from __future__ import annotations


class ElsterError(Exception):
    """Root of all errors raised on purpose by Elster."""


class DataError(ValueError, ElsterError):
    """An input file is missing, malformed, truncated or inconsistent."""


class RegionError(LookupError, ElsterError):
    """An unknown region name or an invalid region file."""


class FetchError(OSError, ElsterError):
    """A data source could not be downloaded, copied or verified."""


class SnapError(ValueError, ElsterError):
    """A coordinate is outside the region or too far from the network."""


class NoRouteError(LookupError, ElsterError):
    """No route exists between the requested points under the given options."""


class RequestError(ValueError, ElsterError):
    """A request is impossible or self-contradictory (bad mode, bad time, ...)."""
