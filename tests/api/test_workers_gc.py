"""A worker exempts what its startup loaded from the garbage collector's full collections."""

from __future__ import annotations

import gc

from api.workers import freeze_startup_objects


def test_startup_objects_are_frozen_and_later_ones_still_collected():
    gc.unfreeze()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        cycle: list[object] = []
        cycle.append(cycle)  # garbage made after startup: still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
