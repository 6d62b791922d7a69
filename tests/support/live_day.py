"""A live-operation day driven by hand: the clock file, vehicle credentials, reports, bookings.

Works on any httpx-style client: FastAPI's ``TestClient`` around an app in the test's
process, or an ``httpx.Client`` on a served app (the page tests). The server runs with
``ELSTER_SHUTTLE_OPERATION=live`` and ``ELSTER_CLOCK_FILE``; the test moves the clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from api.clock import write_clock
from tests.support.api import OPERATOR_KEY

TZ = ZoneInfo("Europe/Berlin")
OPS = {"X-API-Key": OPERATOR_KEY}
#: Heidelberg: Bismarckplatz, Rohrbach, and a point 160 m from Bismarckplatz.
A, B = (49.4094, 8.6937), (49.3925, 8.6890)
NEAR_A = (49.4080, 8.6930)


class LiveDay:
    """A client on a live-operation server and the clock file it runs on.

    Parameters
    ----------
    client : TestClient or httpx.Client
        Requests go to ``/api/v1/...`` on it.
    clock_file : Path
        The server's ``ELSTER_CLOCK_FILE``.
    t0 : float
        The time written into it (UNIX seconds).
    """

    def __init__(self, client: Any, clock_file: Path, t0: float) -> None:
        self.client = client
        self.clock_file = clock_file
        self.t = t0

    def at(self, t: float) -> None:
        """Move the server's clock to ``t``."""
        self.t = t
        write_clock(self.clock_file, t)

    def iso(self, t: float | None = None) -> str:
        """``t`` (default: the clock) as a local ISO timestamp."""
        return datetime.fromtimestamp(self.t if t is None else t, TZ).isoformat()

    def credential(self, vehicle: str) -> dict[str, str]:
        """A fresh credential of ``vehicle`` as the header its reports send."""
        got = self.client.post(f"/api/v1/fleet/vehicles/{vehicle}/credential", headers=OPS)
        assert got.status_code == 200, got.text
        return {"X-Vehicle-Token": got.json()["token"]}

    def report(self, vehicle: str, path: str, token: dict[str, str], **body: Any) -> Any:
        """POST a vehicle report (``shift/start``, ``positions``, ``events``, ...) now."""
        body.setdefault("reportId", uuid.uuid4().hex)
        body.setdefault("ts", self.iso())
        return self.client.post(f"/api/v1/vehicles/{vehicle}/{path}", json=body, headers=token)

    def book(
        self,
        origin: tuple[float, float] = A,
        destination: tuple[float, float] = B,
        minutes: float = 1.0,
    ) -> dict[str, Any]:
        """Book a ride for one passenger, picked up ``minutes`` after the clock."""
        got = self.client.post(
            "/api/v1/shuttle/bookings",
            json={
                "from": {"lat": origin[0], "lon": origin[1]},
                "to": {"lat": destination[0], "lon": destination[1]},
                "pickupAfter": self.iso(self.t + 60 * minutes),
                "passengers": 1,
            },
        )
        assert got.status_code == 201, got.text
        booking: dict[str, Any] = got.json()
        return booking

    def read(self, booking: dict[str, Any]) -> dict[str, Any]:
        """The booking as its passenger reads it."""
        got = self.client.get(
            f"/api/v1/shuttle/bookings/{booking['id']}",
            headers={"X-Booking-Token": booking["token"]},
        )
        assert got.status_code == 200, got.text
        seen: dict[str, Any] = got.json()
        return seen

    def operator(self, path: str) -> Any:
        """GET an operator endpoint (``/api/v1`` + ``path``)."""
        got = self.client.get(f"/api/v1{path}", headers=OPS)
        assert got.status_code == 200, got.text
        return got.json()
