"""Routing core: road graphs, shortest paths, transit and trip planning (arrays in, arrays out).

Importing the package points numba's on-disk cache of compiled kernels out of the
source tree, before any module imports numba: ``NUMBA_CACHE_DIR`` when set, else
``numba/`` under the build cache (``ELSTER_CACHE_DIR``, default ``data/cache``).
"""

import os

if "NUMBA_CACHE_DIR" not in os.environ:
    from routing.regions import default_cache_dir

    os.environ["NUMBA_CACHE_DIR"] = str(default_cache_dir() / "numba")
