"""Dask worker plugin that loads a sweep's region context once per worker.

Kept apart from :mod:`fleet.scenarios.runner` so that local sweeps never
import ``distributed``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from distributed import WorkerPlugin

from fleet.scenarios.runner import Backend, WorkerOptions, worker_context
from fleet.scenarios.spec import Scenario


class RegionPlugin(WorkerPlugin):
    """Load the scenario's context (region, travel model, demand model) when a worker starts.

    Tasks then find it in the worker process's cache
    (:func:`fleet.scenarios.runner.worker_context`); a worker that joins later,
    or is restarted after a crash, loads it in its own ``setup``. The plugin
    itself is small (backend functions by name, the scenario): the arrays are
    loaded on the worker, never pickled.
    """

    def __init__(self, backend: Backend, scenario: Scenario, options: WorkerOptions) -> None:
        self.backend = backend
        self.scenario = scenario
        self.options = options
        self.name = f"elster-region-{backend.name}-{scenario.context_key()}"

    async def setup(self, worker: Any) -> None:
        """Load the context off the worker's event loop (heartbeats keep going)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, worker_context, self.backend, self.scenario, self.options)

    def teardown(self, worker: Any) -> None:
        """Nothing to release: the cache lives as long as the worker process."""
