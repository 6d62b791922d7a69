"""Code that the benchmark programs and the tests share.

The dependency is one way: tests may import ``benchmarks.support``; benchmarks
never import ``tests``. Nothing here is imported by the library packages.

* :mod:`benchmarks.support.server`: start ``api.workers`` on a free port, the
  environment block of a benchmark or test server.
* :mod:`benchmarks.support.http_client`: the light raw HTTP/1.1 load client.
* :mod:`benchmarks.support.planner`: hand-made Heidelberg station and charger feeds.
* :mod:`benchmarks.support.restrictions_oracle` and
  :mod:`benchmarks.support.route_segments`: the independent forbidden-turn audit.
"""
