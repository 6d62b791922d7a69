"""Run a scenario's runs in local worker processes or on a Dask cluster.

What a run does is a :class:`Backend`: ``load_context`` loads what every run
of a scenario shares (the region's road network, travel-time model and demand
model) and ``run`` simulates one :class:`RunSpec` with it and returns its
KPIs. The context is loaded once per worker process and kept in a
process-wide cache (:func:`worker_context`), never pickled per task.

- Locally (:func:`run_local`) the runs go to a :class:`ProcessPoolExecutor`,
  at most ``workers`` at a time. When a worker process dies (segfault, OOM
  kill, ``os._exit``) the pool breaks: the runs that were in flight are
  resubmitted to a fresh pool, the suspects one at a time so that the run
  that kills its worker is identified; it gets ``max_attempts`` tries.
- On Dask (:func:`run_dask`) a worker plugin
  (:class:`fleet.scenarios.dask_plugin.RegionPlugin`) loads the context on
  every worker when it joins; tasks have ``retries`` for exceptions, and the
  scheduler reschedules the task of a worker that died.

Either way a run's KPIs depend only on its parameters (and seed), so local
and Dask sweeps give the same table.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fleet.scenarios.results import RunResult
from fleet.scenarios.spec import RunSpec, Scenario
from routing.errors import DataError, ElsterError

log = logging.getLogger(__name__)

ContextLoader = Callable[..., Any]
RunFunction = Callable[[RunSpec, Any], Mapping[str, float]]


@dataclass(frozen=True)
class Backend:
    """What a sweep's runs compute.

    Attributes
    ----------
    name : str
        Short name (part of the worker cache key).
    load_context : callable
        ``load_context(scenario, *, data_dir, cache_dir) -> context``: what all
        runs of the scenario share. Called once per worker process.
    run : callable
        ``run(run_spec, context) -> {kpi: value}``; deterministic given the
        run's parameters.
    kpis : tuple of str
        The KPI names ``run`` reports (scenario targets are checked against them).

    Both callables must be module-level functions (they are pickled by name).
    """

    name: str
    load_context: ContextLoader
    run: RunFunction
    kpis: tuple[str, ...]


@dataclass(frozen=True)
class WorkerOptions:
    """Where workers find the region's data and build cache."""

    data_dir: Path | None = None
    cache_dir: Path | None = None


# Worker-process cache of loaded contexts: (backend, scenario context, dirs) -> context.
_CONTEXTS: dict[tuple[str, str, str, str], Any] = {}
_CONTEXT_LOCK = threading.Lock()
_MAX_CONTEXTS = 2


def worker_context(backend: Backend, scenario: Scenario, options: WorkerOptions) -> Any:
    """The scenario's shared context in this process, loaded on first use.

    Thread-safe: with threaded Dask workers in one process the context is still
    loaded once.
    """
    key = (backend.name, scenario.context_key(), str(options.data_dir), str(options.cache_dir))
    with _CONTEXT_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            started = time.perf_counter()
            context = backend.load_context(
                scenario, data_dir=options.data_dir, cache_dir=options.cache_dir
            )
            while len(_CONTEXTS) >= _MAX_CONTEXTS:
                _CONTEXTS.pop(next(iter(_CONTEXTS)))
            _CONTEXTS[key] = context
            log.info(
                "worker %s loaded the %s context of %s in %.1f s",
                worker_name(),
                backend.name,
                scenario.region,
                time.perf_counter() - started,
            )
        return context


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def execute_run(
    backend: Backend, scenario: Scenario, run: RunSpec, options: WorkerOptions
) -> RunResult:
    """Run one spec in this process (the task a worker executes)."""
    context = worker_context(backend, scenario, options)
    started = time.perf_counter()
    kpis = backend.run(run, context)
    elapsed = time.perf_counter() - started
    values = {str(k): float(v) for k, v in kpis.items()}
    return RunResult(run.run_id, dict(run.params), values, round(elapsed, 3), worker_name())


@dataclass
class RunnerReport:
    """What a runner did: finished results are handed to ``on_result`` as they come."""

    computed: int = 0
    failed: dict[str, str] | None = None
    crashes: int = 0

    def fail(self, run_id: str, why: str) -> None:
        """Record a run that could not be computed."""
        if self.failed is None:
            self.failed = {}
        self.failed[run_id] = why


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver: children fork from a clean single-threaded server, so threads
    # of the parent (numba, dask, tqdm) cannot leave locks held in them.
    # The server imports this module once, so each worker starts without re-importing it.
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def run_local(
    runs: Sequence[RunSpec],
    *,
    backend: Backend,
    scenario: Scenario,
    workers: int,
    on_result: Callable[[RunResult], None],
    options: WorkerOptions | None = None,
    max_attempts: int = 3,
    progress: bool = True,
) -> RunnerReport:
    """Run ``runs`` in ``workers`` local processes; call ``on_result`` for each finished run.

    A worker process that dies breaks the pool: the runs in flight are
    resubmitted to a new pool. If several were in flight, each is then retried
    alone (so the culprit is known); a run that kills its worker alone
    ``max_attempts`` times is reported as failed. An :class:`ElsterError`
    raised by a run (bad input) stops the sweep; other exceptions fail that
    run only.
    """
    if workers < 1:
        raise DataError(f"--workers must be >= 1, got {workers}")
    options = options or WorkerOptions()
    report = RunnerReport()
    pending: deque[RunSpec] = deque(runs)
    suspects: set[str] = set()
    crashes: dict[str, int] = {}
    idle_breaks = 0
    bar = tqdm(total=len(runs), desc=f"sweep {scenario.name}", unit="run", disable=not progress)
    try:
        while pending:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
                inflight: dict[Future[RunResult], RunSpec] = {}
                broken = False
                while (pending or inflight) and not broken:
                    while pending and len(inflight) < workers:
                        alone = pending[0].run_id in suspects
                        if alone and inflight:
                            break
                        try:
                            future = pool.submit(
                                execute_run, backend, scenario, pending[0], options
                            )
                        except BrokenProcessPool:  # a worker died since the last wait
                            broken = True
                            break
                        inflight[future] = pending.popleft()
                        if alone:
                            break
                    if broken or not inflight:
                        continue
                    done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                    for fut in done:
                        run = inflight.pop(fut)
                        try:
                            result = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            inflight[fut] = run  # handled with the others below
                        except ElsterError:
                            raise
                        except Exception as exc:  # a bug in one run fails only it
                            log.error("run %s failed: %r", run.run_id, exc)
                            report.fail(run.run_id, f"{type(exc).__name__}: {exc}")
                            bar.update(1)
                        else:
                            suspects.discard(run.run_id)
                            on_result(result)
                            report.computed += 1
                            bar.update(1)
                if broken:
                    report.crashes += 1
                    lost = list(inflight.values())
                    idle_breaks = 0 if lost else idle_breaks + 1
                    if idle_breaks >= max_attempts:
                        raise DataError(
                            "worker processes keep dying before they run anything; a script "
                            'that calls run_sweep needs an `if __name__ == "__main__":` guard'
                        )
                    guilty = lost[0] if len(lost) == 1 else None
                    log.warning(
                        "a worker process died with %d run(s) in flight (%s); %s",
                        len(lost),
                        ", ".join(r.run_id for r in lost),
                        "retrying it" if guilty else "retrying each alone",
                    )
                    for run in reversed(lost):
                        if guilty is not None:
                            crashes[run.run_id] = crashes.get(run.run_id, 0) + 1
                            if crashes[run.run_id] >= max_attempts:
                                report.fail(
                                    run.run_id,
                                    f"its worker process died {crashes[run.run_id]} times",
                                )
                                bar.update(1)
                                continue
                        suspects.add(run.run_id)
                        pending.appendleft(run)
    finally:
        bar.close()
    return report


def run_dask(
    runs: Sequence[RunSpec],
    *,
    backend: Backend,
    scenario: Scenario,
    on_result: Callable[[RunResult], None],
    scheduler: str | None = None,
    client: Any = None,
    options: WorkerOptions | None = None,
    max_attempts: int = 3,
    progress: bool = True,
    connect_timeout: str = "20s",
) -> RunnerReport:
    """Run ``runs`` on a Dask cluster at ``scheduler`` (``tcp://HOST:PORT``) or via ``client``.

    The scenario is scattered to the workers once; a worker plugin
    (:class:`fleet.scenarios.dask_plugin.RegionPlugin`) loads the region
    context on each worker. Each task may be retried ``max_attempts - 1``
    times after an exception; a task whose worker dies is rescheduled by the
    scheduler (up to its ``allowed-failures``).
    """
    from distributed import Client, as_completed

    from fleet.scenarios.dask_plugin import RegionPlugin

    options = options or WorkerOptions()
    own_client = client is None
    if client is None:
        if not scheduler:
            raise DataError("a Dask sweep needs --scheduler tcp://HOST:PORT")
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise DataError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it "
                f"with `dask scheduler` and workers with `dask worker {scheduler}`"
            ) from None
    report = RunnerReport()
    bar = tqdm(
        total=len(runs), desc=f"sweep {scenario.name} (dask)", unit="run", disable=not progress
    )
    try:
        plugin = RegionPlugin(backend, scenario, options)
        client.register_plugin(plugin, name=plugin.name)
        [scenario_future] = client.scatter([scenario], broadcast=True, hash=False)
        futures = {
            client.submit(
                execute_run,
                backend,
                scenario_future,
                run,
                options,
                key=f"elster-run-{run.run_id}",
                pure=False,
                retries=max_attempts - 1,
            ): run
            for run in runs
        }
        for fut in as_completed(list(futures)):
            run = futures[fut]
            try:
                result = fut.result()
            except ElsterError:
                for other in futures:
                    other.cancel()
                raise
            except Exception as exc:  # KilledWorker, a bug in one run
                log.error("run %s failed on Dask: %r", run.run_id, exc)
                report.fail(run.run_id, f"{type(exc).__name__}: {exc}")
            else:
                on_result(result)
                report.computed += 1
            bar.update(1)
            fut.release()
    finally:
        bar.close()
        if own_client:
            client.close()
    return report
