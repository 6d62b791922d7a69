"""RoutingKit's CCH beside ours, for benchmarks only: a separate venv and a subprocess.

The peer is the Customizable Contraction Hierarchy of RoutingKit (the C++
library of KIT by Dibbelt, Strasser and Wagner's group) through its Python
binding ``routingkit-cch`` (PyPI, a cp39-abi3 manylinux_2_34 wheel). Maturity:
0.1.2 to 0.1.4 only, one author, Rust/pyo3 over the C++ core; its repository
holds one Rust test file and a few Python examples, its CI builds wheels but
runs no tests, and no dependent project is known: the binding is young, the
C++ core under it is the reference CCH implementation.

It is never a dependency of the project, nor used by its tests. It is
installed on first use into its own virtual environment in a cache folder
(``bench-results/.routingkit-venv``, gitignored: ``python -m venv`` then
``pip install routingkit-cch==0.1.4 numpy``), and run there as a subprocess on
this file (:func:`main`), which imports nothing but the standard library,
numpy and ``routingkit_cch``. The benchmark side (:func:`run_routingkit`)
writes the graph, the weights of each live state and the query pairs to a
temporary ``.npz``, runs the subprocess, and reads its JSON answer. When the
wheel cannot be had, :func:`ensure_routingkit` raises
:class:`RoutingKitUnavailable` naming the reason, so a benchmark skips its
RoutingKit part with one message::

    try:
        python = ensure_routingkit()
    except RoutingKitUnavailable as exc:
        print(f"RoutingKit part skipped: {exc}")
    else:
        answer = run_routingkit(graph, {"closed": weights}, sources, targets, python=python)

What the subprocess measures, on exactly our graph (the turn-expanded car
graph: its tail, head and travel times; the node coordinates for the order):

* ``order_s``: RoutingKit's nested dissection order (inertial flow on the
  coordinates, ``compute_order_inertial``), ``cch_build_s``: the CCH on it;
* ``customize_full``: a full customization of the base weights
  (``CCHMetric``) and ``reset``: the same reusing the metric's buffers;
* per live state: ``partial`` (``CCHMetricPartialUpdater.apply`` with the
  changed arcs only, then undone outside the clock) when at most
  ``partial_limit`` of the arcs changed, and ``full`` (``CCHMetric.reset``
  with the whole weight vector); ``apply`` is the faster of the two by p50
  (partial customization wins for a few arcs, loses to a full one for
  thousands of scattered arcs), named in ``apply_method``;
* point-to-point queries (``CCHQuery.run(s, t).distance``) before any change
  and under each live state (reached the way ``apply`` reaches it), with every
  answer and the number of arcs of its path, so the caller can check them
  against its own.

Every time includes what a Python caller of the binding pays: pyo3 turning the
weight list (``reset``) or the update dict (``apply``) into Rust vectors, and
one Python call per query (as our side pays one per query too).

RoutingKit takes unsigned 32-bit weights: seconds are scaled by ``scale``
(1000: milliseconds) and rounded; a closed edge gets RoutingKit's
``inf_weight`` (2**31 - 1). Rounding each arc by at most ``0.5 / scale`` s
bounds the difference of two exact answers by ``0.5 / scale`` times the arcs
of the longer of the two paths (:func:`compare_answers`).

Run ``python -m benchmarks.routingkit_peer --check`` to install the peer and
answer one query on a toy graph.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The binding version the benchmarks compare against.
ROUTINGKIT_VERSION = "0.1.4"
#: Its package name on PyPI.
PACKAGE = "routingkit-cch"
#: RoutingKit's ``inf_weight``: an arc with this weight is closed; a distance equal to it is none.
INF_WEIGHT = 2_147_483_647
#: Seconds are multiplied by this before rounding to RoutingKit's integer weights (ms).
DEFAULT_SCALE = 1000.0
ROOT = Path(__file__).resolve().parents[1]


class RoutingKitUnavailable(RuntimeError):  # noqa: N818 (the name benchmarks catch: a state)
    """The RoutingKit binding cannot be had here (venv, install or import failed)."""


class RoutingKitError(RuntimeError):
    """The RoutingKit subprocess failed (the message carries its stderr)."""


# ----------------------------------------------------------------------------- install


def default_venv_dir() -> Path:
    """``$ELSTER_BENCH_DIR/.routingkit-venv``, else ``bench-results/.routingkit-venv``.

    Returns
    -------
    Path
        The folder of the peer's own virtual environment (gitignored).
    """
    base = os.environ.get("ELSTER_BENCH_DIR")
    return (Path(base) if base else ROOT / "bench-results") / ".routingkit-venv"


def _run(cmd: Sequence[str], what: str, timeout: float) -> str:
    try:
        done = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RoutingKitUnavailable(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RoutingKitUnavailable(f"{what} failed (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def ensure_routingkit(
    venv_dir: Path | str | None = None, *, version: str = ROUTINGKIT_VERSION
) -> Path:
    """The Python of the peer's venv, creating it and installing the binding on first use.

    Parameters
    ----------
    venv_dir : Path, optional
        Where the venv lives (default :func:`default_venv_dir`).
    version : str
        ``routingkit-cch`` version to install.

    Returns
    -------
    Path
        The venv's ``python``, on which ``import routingkit_cch`` works.

    Raises
    ------
    RoutingKitUnavailable
        When the venv cannot be made, the wheel cannot be installed (no
        registry, no wheel for this platform) or does not import.
    """
    venv = Path(venv_dir) if venv_dir is not None else default_venv_dir()
    python = venv / "bin" / "python"
    ready = venv / ".elster-ready"
    if ready.is_file() and ready.read_text().strip() == version and python.is_file():
        return python
    if not python.is_file():
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", str(venv)], f"python -m venv {venv}", 300)
    _run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         f"{PACKAGE}=={version}", "numpy"],
        f"pip install {PACKAGE}=={version} numpy (into {venv})", 900,
    )  # fmt: skip
    _run(
        [str(python), "-c", "import routingkit_cch, numpy; routingkit_cch.CCHQuery"],
        f"import routingkit_cch in {venv}", 120,
    )  # fmt: skip
    ready.write_text(version + "\n")
    return python


# ----------------------------------------------------------------------------- driver


def to_weights(seconds: np.ndarray, scale: float = DEFAULT_SCALE) -> np.ndarray:
    """RoutingKit's integer weights for travel times in seconds.

    Parameters
    ----------
    seconds : ndarray of float64, shape (m,)
        Seconds per arc, ``inf`` for a closed arc.
    scale : float
        Units per second (1000: milliseconds).

    Returns
    -------
    ndarray of uint32, shape (m,)
        ``round(seconds * scale)``; closed arcs ``INF_WEIGHT``.

    Raises
    ------
    ValueError
        A finite weight does not fit below ``INF_WEIGHT`` (use a smaller scale).
    """
    s = np.asarray(seconds, dtype=np.float64)
    closed = ~np.isfinite(s)
    scaled = np.rint(np.where(closed, 0.0, s) * scale)
    if scaled.size and (scaled.min() < 0 or scaled.max() >= INF_WEIGHT // 2):
        raise ValueError(f"weights x {scale:g} leave RoutingKit's range; lower the scale")
    out = scaled.astype(np.uint32)
    out[closed] = INF_WEIGHT
    return out


def run_routingkit(
    graph: Any,
    states: Mapping[str, np.ndarray],
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    python: Path | str,
    scale: float = DEFAULT_SCALE,
    repeats: int = 15,
    partial_limit: float = 0.25,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Run RoutingKit's CCH on ``graph`` under each live state in a subprocess.

    Parameters
    ----------
    graph : RoadGraph
        The graph (CSR ``first_out``/``head``, ``travel_time``, ``lat``/``lon`` per node).
    states : mapping of str to ndarray of float64, shape (m,)
        Live states by name: the seconds of every arc (``inf`` = closed).
    sources, targets : ndarray of int, shape (q,)
        Node ids of the point-to-point queries (the same graph's nodes).
    python : Path
        The peer's interpreter (:func:`ensure_routingkit`).
    scale : float
        Weight units per second (see :func:`to_weights`).
    repeats : int
        Timed repetitions of every customization.
    partial_limit : float
        Largest share of changed arcs for which partial customization is timed.
    timeout : float
        Seconds the subprocess may take.

    Returns
    -------
    dict
        The subprocess's JSON (see :func:`main`), plus ``scale``.

    Raises
    ------
    RoutingKitError
        The subprocess failed or timed out.
    """
    first_out = np.asarray(graph.first_out, dtype=np.int64)
    n = first_out.shape[0] - 1
    tail = np.repeat(np.arange(n, dtype=np.uint32), np.diff(first_out))
    arrays = {
        "tail": tail,
        "head": np.asarray(graph.head, dtype=np.uint32),
        "lat": np.asarray(graph.lat, dtype=np.float32),
        "lon": np.asarray(graph.lon, dtype=np.float32),
        "base": to_weights(graph.travel_time, scale),
        "sources": np.asarray(sources, dtype=np.uint32),
        "targets": np.asarray(targets, dtype=np.uint32),
    }
    names = list(states)
    for i, name in enumerate(names):
        arrays[f"state_{i}"] = to_weights(states[name], scale)
    with tempfile.TemporaryDirectory(prefix="elster-routingkit-") as tmp:
        npz, out = Path(tmp) / "input.npz", Path(tmp) / "answer.json"
        np.savez(npz, **arrays)
        cmd = [
            str(python), str(Path(__file__).resolve()), str(npz), str(out),
            "--states", json.dumps(names), "--repeats", str(repeats),
            "--partial-limit", str(partial_limit),
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RoutingKitError(f"RoutingKit subprocess timed out after {timeout:.0f} s") from exc
        if done.returncode != 0 or not out.is_file():
            raise RoutingKitError(
                f"RoutingKit subprocess exited {done.returncode}: {done.stderr.strip()[-2000:]}"
            )
        answer = json.loads(out.read_text())
    answer["scale"] = scale
    return answer


def compare_answers(
    ours_s: np.ndarray,
    ours_arcs: np.ndarray,
    theirs: Sequence[int],
    theirs_arcs: Sequence[int],
    *,
    scale: float = DEFAULT_SCALE,
) -> dict[str, Any]:
    """Check RoutingKit's integer answers against ours (seconds), within the rounding bound.

    Parameters
    ----------
    ours_s : ndarray of float64, shape (q,)
        Our travel times in seconds (``inf`` = no route).
    ours_arcs : ndarray of int, shape (q,)
        Arcs on our paths.
    theirs : sequence of int
        RoutingKit's distances in weight units, ``-1`` = no route.
    theirs_arcs : sequence of int
        Arcs on RoutingKit's paths.
    scale : float
        Weight units per second.

    Returns
    -------
    dict
        ``mismatches`` (answers outside ``0.5 / scale`` s per arc of the longer
        path, or reachable on one side only), ``both_unreachable``,
        ``max_abs_diff_s`` and ``max_tolerance_s`` over the reachable pairs.
    """
    ours = np.asarray(ours_s, dtype=np.float64)
    rk = np.asarray(theirs, dtype=np.float64)
    rk_none = rk < 0
    ours_none = ~np.isfinite(ours)
    both = rk_none & ours_none
    one = rk_none ^ ours_none
    ok = ~(rk_none | ours_none)
    tol = 0.5 / scale * np.maximum(np.asarray(ours_arcs), np.asarray(theirs_arcs)) + 1e-6
    diff = np.abs(rk / scale - ours)
    bad = ok & (diff > tol)
    return {
        "mismatches": int(bad.sum() + one.sum()),
        "unreachable_one_side": int(one.sum()),
        "both_unreachable": int(both.sum()),
        "max_abs_diff_s": float(diff[ok].max()) if ok.any() else 0.0,
        "max_tolerance_s": float(tol[ok].max()) if ok.any() else 0.0,
    }


# ----------------------------------------------------------------------------- subprocess


def _pct(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds, dtype=float) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "n": int(values.size),
    }


def _queries(rk: Any, metric: Any, sources: list[int], targets: list[int]) -> dict[str, Any]:
    """Time ``CCHQuery.run(s, t).distance`` per pair; the query object is dropped after."""
    query = rk.CCHQuery(metric)
    for s, t in zip(sources[:5], targets[:5], strict=True):  # warm the buffers
        res = query.run(s, t)
        _ = res.distance
        del res
    times, dist, arcs = [], [], []
    for s, t in zip(sources, targets, strict=True):
        t0 = time.perf_counter()
        res = query.run(s, t)
        d = res.distance
        t1 = time.perf_counter()
        times.append(t1 - t0)
        dist.append(-1 if d is None else int(d))
        arcs.append(len(res.arc_path) if d is not None else 0)
        del res  # resets the query (the binding refuses a run while a result lives)
    del query  # the metric refuses updates while a query lives
    return {"query": _pct(times), "distances": dist, "arcs": arcs}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the subprocess (the peer's venv): measure and write the JSON answer.

    Parameters
    ----------
    argv : list of str, optional
        ``INPUT.npz OUTPUT.json --states JSON [--repeats N] [--partial-limit F]``, or
        ``--check`` (install the peer from the project's venv and answer a toy query).

    Returns
    -------
    int
        The exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?")
    parser.add_argument("output", nargs="?")
    parser.add_argument("--states", default="[]", help="JSON list of the live states' names")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--partial-limit", type=float, default=0.25)
    parser.add_argument("--check", action="store_true", help="install the peer and try it")
    args = parser.parse_args(argv)
    if args.check:
        return _check()
    import routingkit_cch as rk  # only in the peer's venv

    data = np.load(args.input)
    tail, head = data["tail"].tolist(), data["head"].tolist()
    n = len(data["lat"])
    base = data["base"].tolist()
    sources, targets = data["sources"].tolist(), data["targets"].tolist()
    out: dict[str, Any] = {
        "package": f"{PACKAGE} {_installed_version()}",
        "nodes": n,
        "arcs": len(tail),
        "threads": 1,
    }
    t0 = time.perf_counter()
    order = rk.compute_order_inertial(n, tail, head, data["lat"].tolist(), data["lon"].tolist())
    t1 = time.perf_counter()
    cch = rk.CCH(order, tail, head, False)
    t2 = time.perf_counter()
    out["order_s"], out["cch_build_s"] = t1 - t0, t2 - t1
    full = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        metric = rk.CCHMetric(cch, base)
        full.append(time.perf_counter() - t0)
        del metric
    out["customize_full"] = _pct(full)
    metric = rk.CCHMetric(cch, base)
    reset = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        metric.reset(base)
        reset.append(time.perf_counter() - t0)
    out["reset"] = _pct(reset)
    out["base"] = _queries(rk, metric, sources, targets)
    updater = rk.CCHMetricPartialUpdater(cch)
    base_np = data["base"]
    states = {}
    for i, name in enumerate(json.loads(args.states)):
        w_np = data[f"state_{i}"]
        changed = np.flatnonzero(w_np != base_np)
        weights = w_np.tolist()
        res: dict[str, Any] = {"changed_arcs": int(changed.size), "partial": None}
        if changed.size <= args.partial_limit * len(tail):
            updates = dict(zip(changed.tolist(), w_np[changed].tolist(), strict=True))
            undo = dict(zip(changed.tolist(), base_np[changed].tolist(), strict=True))
            part = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                updater.apply(metric, updates)
                part.append(time.perf_counter() - t0)
                updater.apply(metric, undo)
            res["partial"] = _pct(part)
        full = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            metric.reset(weights)
            full.append(time.perf_counter() - t0)
            metric.reset(base)
        res["full"] = _pct(full)
        # `apply`: the faster way a caller would choose; the state is then reached that way.
        if res["partial"] is not None and res["partial"]["p50_ms"] <= res["full"]["p50_ms"]:
            res["apply_method"], res["apply"] = "partial", res["partial"]
            updater.apply(metric, updates)
        else:
            res["apply_method"], res["apply"] = "full", res["full"]
            metric.reset(weights)
        res.update(_queries(rk, metric, sources, targets))
        metric.reset(base)
        states[name] = res
    out["states"] = states
    Path(args.output).write_text(json.dumps(out))
    return 0


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("routingkit-cch")
    except PackageNotFoundError:
        return "unknown"


def _check() -> int:
    """Install the peer (from the project's venv) and answer one query on a toy graph."""
    python = ensure_routingkit()
    code = (
        "import routingkit_cch as rk; o = rk.compute_order_degree(4, [0, 1, 2], [1, 2, 3]); "
        "m = rk.CCHMetric(rk.CCH(o, [0, 1, 2], [1, 2, 3], False), [10, 5, 7]); "
        "print(rk.CCHQuery(m).run(0, 3).distance)"
    )
    answer = _run([str(python), "-c", code], "toy query", 120).strip()
    print(f"RoutingKit peer at {python}: toy distance {answer} (expected 22)")
    return 0 if answer == "22" else 1


if __name__ == "__main__":
    sys.exit(main())
