"""The walk model without a map: crow-fly x circuity on a synthetic plane, and how it is named.

The routed walk model (with a map) is checked against a networkx oracle on the
Heidelberg walk graph in ``test_concepts.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from fleet.concepts.backend import ConceptContext
from fleet.concepts.report import walk_model_note
from fleet.concepts.settings import ComparisonSettings
from fleet.concepts.walking import CrowFlyWalks, virtual_stops

LAT0, LON0 = 50.87, 12.08  # Gera
M_LAT = 111_195.0  # metres per degree of latitude (the oracle's own, spherical)


def _crow_m(lat, lon, lat2, lon2):
    """Equirectangular metres: at 1 km apart within 0.1 m of the great circle."""
    dy = (np.asarray(lat2) - lat) * M_LAT
    dx = (np.asarray(lon2) - lon) * M_LAT * np.cos(np.radians(LAT0))
    return np.hypot(dx, dy)


class GridStreets:
    """A travel model stand-in: street locations on a 40 m grid over 1.2 km."""

    def __init__(self) -> None:
        steps = np.arange(0, 1200.1, 40.0)
        y, x = np.meshgrid(steps, steps, indexing="ij")
        self.lat = LAT0 + y.ravel() / M_LAT
        self.lon = LON0 + x.ravel() / (M_LAT * np.cos(np.radians(LAT0)))
        self.usable = np.arange(self.lat.size)

    def coords(self, loc: int) -> tuple[float, float]:
        return float(self.lat[loc]), float(self.lon[loc])


def test_crow_fly_stops_keep_every_resident_within_the_walk():
    rng = np.random.default_rng(7)
    lat = LAT0 + rng.uniform(0, 1200, 400) / M_LAT
    lon = LON0 + rng.uniform(0, 1200, 400) / (M_LAT * np.cos(np.radians(LAT0)))
    walks = CrowFlyWalks(1.3)
    stops = virtual_stops(GridStreets(), lat, lon, walk_m=300, walks=walks)
    assert 1 < stops.n < 100
    # brute force: each resident's walk to every stop
    crow = _crow_m(lat[:, None], lon[:, None], stops.lat[None], stops.lon[None])
    want = crow.min(axis=1) * 1.3
    assert (want <= 300 + 0.5).all()
    idx, got = stops.nearest(lat, lon)
    np.testing.assert_allclose(got, want, atol=0.5)
    np.testing.assert_allclose(got, crow[np.arange(lat.size), idx] * 1.3, atol=0.5)
    assert not walks.routed and "crow-fly x 1.3" in walks.description


def test_without_a_map_the_comparison_walks_crow_fly():
    ctx = ConceptContext(
        sim=SimpleNamespace(model=SimpleNamespace(walk_snapper=None)),  # type: ignore[arg-type]
        scenario=None,  # type: ignore[arg-type]
        data_dir=None,
        cache_dir=None,
    )
    walks = ctx.walks(ComparisonSettings.model_validate({"stops": {"circuity": 1.4}}))
    assert walks == CrowFlyWalks(1.4)


def test_the_summary_names_the_walk_model():
    routed = walk_model_note(pd.DataFrame({"walk_routed": [1.0, 1.0]}), 1.3)
    assert "routed on the region's walk network" in routed
    crow = walk_model_note(pd.DataFrame({"walk_routed": [0.0, 0.0]}), 1.3)
    assert "crow-fly x 1.3 circuity (no map)" in crow
    # results journaled before walks were routed have no such column
    assert "crow-fly" in walk_model_note(pd.DataFrame({"served_share": [0.5]}), 1.3)
