"""PNG charts of a request stream: origin/destination heat maps and an hourly histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from demand.area import ServiceArea


def _pyplot():  # returns the matplotlib.pyplot module
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_heatmap(
    requests: pd.DataFrame, path: Path | str, *, area: ServiceArea | None = None, title: str = ""
) -> Path:
    """Two hexbin heat maps (origins, destinations) with the service area outline."""
    plt = _pyplot()
    path = Path(path)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5), sharex=True, sharey=True)
    for ax, end in zip(axes, ("origin", "destination"), strict=False):
        lon = requests[f"{end}_lon"].to_numpy(dtype=float)
        lat = requests[f"{end}_lat"].to_numpy(dtype=float)
        if lon.size:
            hb = ax.hexbin(lon, lat, gridsize=40, bins="log", cmap="inferno", mincnt=1)
            fig.colorbar(hb, ax=ax, label="requests (log)")
        if area is not None:
            for poly in getattr(area.geometry, "geoms", [area.geometry]):
                x, y = poly.exterior.xy
                ax.plot(x, y, color="tab:blue", linewidth=0.8)
        ax.set_title(f"{end}s ({lon.size})")
        ax.set_xlabel("longitude")
        ax.set_aspect(1.0 / np.cos(np.radians(np.nanmean(lat) if lat.size else 50.0)))
    if area is not None:
        b = area.bounds
        axes[0].set_xlim(b[0], b[2])
        axes[0].set_ylim(b[1], b[3])
    axes[0].set_ylabel("latitude")
    fig.suptitle(title or "trip requests")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_hourly(requests: pd.DataFrame, path: Path | str, *, title: str = "") -> Path:
    """Histogram of requests per local hour, stacked by purpose."""
    plt = _pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    hours = requests["request_time"].dt.hour.to_numpy() if len(requests) else np.zeros(0, int)
    purposes = sorted(requests["purpose"].unique()) if len(requests) else []
    bottom = np.zeros(24)
    for name in purposes:
        counts = np.bincount(hours[requests["purpose"].to_numpy() == name], minlength=24)[:24]
        ax.bar(np.arange(24), counts, bottom=bottom, label=name, width=0.9)
        bottom += counts
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel("hour of request (local time)")
    ax.set_ylabel("requests")
    ax.set_title(title or "requests per hour")
    if purposes:
        ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
