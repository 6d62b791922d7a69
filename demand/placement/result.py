"""One placement run (:func:`place`) and its report: summary, GeoJSON and a map PNG."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from demand.placement.coverage import Coverage, coverage
from demand.placement.inputs import Demand, Sites
from demand.placement.mclp import PlacementSolution, solve_mclp
from routing.errors import RequestError
from routing.graph import RoadGraph

log = logging.getLogger(__name__)


@dataclass
class PlacementResult:
    """Everything a placement run produced (see :func:`place`)."""

    kind: str
    k: int
    radius_min: float
    mode: str
    sites: Sites
    demand: Demand
    coverage: Coverage
    solution: PlacementSolution

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: chosen sites with their gains, totals, solver info."""
        total = self.demand.total
        sol = self.solution
        chosen = [
            {
                "rank": i + 1,
                "id": self.sites.ids[s],
                "name": self.sites.names[s],
                "lat": round(float(self.sites.lat[s]), 6),
                "lon": round(float(self.sites.lon[s]), 6),
                "gain": round(g, 3),
                "gain_share": round(g / total, 5) if total else 0.0,
            }
            for i, (s, g) in enumerate(zip(sol.chosen, sol.gains, strict=True))
        ]
        return {
            "kind": self.kind,
            "k": self.k,
            "radius_min": self.radius_min,
            "mode": self.mode,
            "candidates": len(self.sites),
            "candidates_source": self.sites.source,
            "demand_source": self.demand.source,
            "demand_total": round(total, 3),
            "demand_unreachable": round(self.coverage.dropped_weight, 3),
            "covered": round(sol.covered, 3),
            "covered_share": round(sol.covered / total, 5) if total else 0.0,
            "greedy_covered": round(sol.greedy_covered, 3),
            "method": sol.method,
            "optimal": sol.optimal,
            "solve_seconds": round(sol.seconds, 3),
            "chosen": chosen,
            **sol.info,
        }

    def geojson(self) -> dict[str, Any]:
        """Chosen sites as GeoJSON points (lon, lat) with rank and gain."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]},
                    "properties": c,
                }
                for c in self.summary()["chosen"]
            ],
        }

    def plot(self, path: Path | str, graph: RoadGraph) -> Path:
        """Draw demand (covered in colour), candidates and the chosen sites to a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cov = self.coverage
        hit = np.asarray(cov.matrix[self.solution.chosen].sum(axis=0)).ravel() > 0
        fig, ax = plt.subplots(figsize=(9, 9), dpi=110)
        from matplotlib.collections import LineCollection

        tails = graph.tail()
        segments = np.stack(
            (np.column_stack((graph.lon[tails], graph.lat[tails])),
             np.column_stack((graph.lon[graph.head], graph.lat[graph.head]))), axis=1,
        )  # fmt: skip
        lines = LineCollection(list(segments), colors="#dddddd", linewidths=0.3, zorder=0)
        ax.add_collection(lines)
        lat, lon = graph.lat[cov.demand_nodes], graph.lon[cov.demand_nodes]
        size = 2 + 30 * cov.weights / max(float(cov.weights.max(initial=1.0)), 1e-9)
        ax.scatter(lon[~hit], lat[~hit], s=size[~hit], c="#9e9e9e", alpha=0.5, label="demand")
        ax.scatter(lon[hit], lat[hit], s=size[hit], c="#1e88e5", alpha=0.7, label="covered")
        ax.scatter(self.sites.lon, self.sites.lat, s=8, marker="x", c="#555555", label="candidates")
        chosen = self.solution.chosen
        ax.scatter(self.sites.lon[chosen], self.sites.lat[chosen], s=160, marker="*",
                   c="#e53935", edgecolors="black", zorder=5, label="chosen")  # fmt: skip
        for rank, s in enumerate(chosen, start=1):
            ax.annotate(str(rank), (self.sites.lon[s], self.sites.lat[s]), fontsize=8,
                        xytext=(4, 4), textcoords="offset points", zorder=6)  # fmt: skip
        total = self.demand.total
        ax.set_title(
            f"{self.k} {self.kind} sites within {self.radius_min:g} min ({self.mode}): "
            f"{self.solution.covered / total:.1%} of demand covered ({self.solution.method})"
            if total
            else f"{self.k} {self.kind} sites"
        )
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_aspect(1 / math.cos(math.radians(float(np.mean(self.sites.lat)))))
        ax.legend(loc="lower left", fontsize=8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def place(
    graph: RoadGraph,
    sites: Sites,
    demand: Demand,
    *,
    kind: str,
    k: int,
    radius_min: float,
    method: str = "auto",
    time_limit_s: float = 60.0,
    snapper: Any = None,
) -> PlacementResult:
    """Coverage plus solver in one call (the graph decides walking or cycling)."""
    if radius_min <= 0 or not math.isfinite(radius_min):
        raise RequestError(f"--radius-min must be a positive number of minutes, got {radius_min}")
    cov = coverage(graph, sites, demand, radius_min * 60.0, snapper=snapper)
    solution = solve_mclp(cov.matrix, cov.weights, k, method=method, time_limit_s=time_limit_s)
    log.info(
        "placed %d %s: %.0f of %.0f demand covered (%s%s) in %.1f s",
        len(solution.chosen), kind, solution.covered, demand.total, solution.method,
        ", optimal" if solution.optimal else "", solution.seconds,
    )  # fmt: skip
    return PlacementResult(kind, k, radius_min, graph.profile, sites, demand, cov, solution)
