"""PNG charts of a simulation: waits and detours, fleet state over the day, requests per hour."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fleet.simulation.simulator import SimulationResult


def fleet_states(result: SimulationResult, step_s: float = 300.0):
    """Vehicles per state sampled every ``step_s``: (times, dict state -> counts)."""
    legs = result.legs
    n = result.config.n_vehicles
    if len(legs) == 0:
        t = np.array([0.0])
        return t, {"idle": np.array([n])}
    t0 = float(np.floor(legs["depart"].min() / step_s) * step_s)
    t1 = float(legs["arrive"].max())
    times = np.arange(t0, t1 + step_s, step_s)
    dep = legs["depart"].to_numpy(float)
    arr = legs["arrive"].to_numpy(float)
    kind = legs["kind"].to_numpy(str)
    persons = legs["persons"].to_numpy(float)
    states = {
        "occupied": (kind == "service") & (persons > 0),
        "driving empty": (kind == "service") & (persons == 0),
        "repositioning": kind == "reposition",
        "to charger": kind == "charge",
    }
    counts = {}
    active = (dep[None, :] <= times[:, None]) & (times[:, None] < arr[None, :])
    for name, mask in states.items():
        counts[name] = active[:, mask].sum(axis=1)
    if len(result.charges):
        cs = result.charges["start"].to_numpy(float)
        ce = result.charges["end"].to_numpy(float)
        counts["charging"] = ((cs[None, :] <= times[:, None]) & (times[:, None] < ce[None, :])).sum(
            1
        )
    busy = sum(counts.values())
    counts["idle or at stops"] = np.maximum(n - busy, 0)
    return times, counts


def write_plots(result: SimulationResult, out_dir: Path | str) -> list[Path]:
    """Write ``waits.png``, ``fleet_state.png`` and ``requests_per_hour.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    req = result.requests
    done = req[req["status"] == "done"]
    title = f"{result.config.n_vehicles} vehicles, {result.config.policy}"

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    wait = (done["pickup_time"] - done["earliest_pickup"]) / 60.0
    detour = (done["dropoff_time"] - done["pickup_depart"] - done["direct_s"]) / 60.0
    axes[0].hist(wait, bins=30, color="#3b7dd8")
    axes[0].set_xlabel("wait (min)")
    axes[0].set_ylabel("served requests")
    axes[0].set_title(
        f"wait: mean {wait.mean():.1f}, "
        f"p90 {np.nanpercentile(wait, 90) if len(wait) else 0:.1f} min"
    )
    axes[1].hist(detour, bins=30, color="#d8843b")
    axes[1].set_xlabel("ride detour (min)")
    axes[1].set_title(f"detour: mean {detour.mean():.1f} min")
    fig.suptitle(title)
    fig.tight_layout()
    paths.append(out / "waits.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    times, counts = fleet_states(result)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.stackplot(times / 3600.0, *counts.values(), labels=list(counts))
    ax.set_xlabel("hour of day")
    ax.set_ylabel("vehicles")
    ax.set_title(f"fleet state ({title})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    paths.append(out / "fleet_state.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4))
    hours = np.floor(req["request_time"].to_numpy(float) / 3600.0).astype(int)
    bins = list(range(hours.min(), hours.max() + 2)) if len(hours) else [0, 1]
    served = req["status"].to_numpy(str) == "done"
    ax.hist([hours[served], hours[~served]], bins=bins, stacked=True,
            label=["served", "not served"], color=["#3bb273", "#e15554"])  # fmt: skip
    ax.set_xlabel("hour of day (request time)")
    ax.set_ylabel("requests")
    ax.set_title(
        f"requests per hour: {result.kpis['served_share'] * 100:.1f}% served, occupancy "
        f"{result.kpis['occupancy']:.2f}"
    )
    ax.legend()
    fig.tight_layout()
    paths.append(out / "requests_per_hour.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths
