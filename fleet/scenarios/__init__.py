"""Scenario sweeps: a scenario file expanded into runs, run locally or on Dask, reported.

- :mod:`fleet.scenarios.spec` reads and validates a scenario file (TOML or YAML)
  and expands it into runs with stable ids.
- :mod:`fleet.scenarios.runner` runs them in local worker processes or on a Dask
  cluster, loading the region once per worker.
- :mod:`fleet.scenarios.results` keeps the tidy result table (CSV + Parquet),
  resumable run by run.
- :mod:`fleet.scenarios.report` draws KPI-vs-fleet-size plots and writes the
  Markdown summary naming the smallest fleet that meets the targets.
"""
