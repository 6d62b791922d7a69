"""The live road state shared by worker processes: a change is seen at once, cheaply.

Two :class:`api.services.live_sync.LiveSync` objects on one file stand for two
workers. A change made through one is seen by the other's very next read (the
shared change counter); a file replaced behind their back is seen within
:data:`~api.services.live_sync.STAT_INTERVAL_S` (the reads between do not look at
the file). The clocks are fake, so nothing here waits or depends on timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import api.services.live_sync as live_sync
from api.services.live_sync import STAT_INTERVAL_S, ChangeCounter, LiveSync
from routing.live import LiveState


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sync(graphs, path: Path, clock: Clock) -> LiveSync:
    return LiveSync({"walk": graphs["walk"]}, path, timezone="UTC", clock=clock)


def _closure_ids(sync: LiveSync) -> list[str]:
    return [c.id for c in sync.current().closures()]


def test_a_change_by_one_worker_is_seen_by_the_next_read_of_another(tmp_path, tiny_graphs):
    path = tmp_path / "live" / "hd.json"
    clock = Clock()  # never advances: only the change counter can tell
    one, two = _sync(tiny_graphs, path, clock), _sync(tiny_graphs, path, clock)
    assert _closure_ids(two) == []
    with one.change() as live:
        live.add_closure(edges=[0], edge_profile="walk", closure_id="c1")
    assert _closure_ids(two) == ["c1"]
    assert two.reloads == 1
    assert _closure_ids(two) == ["c1"] and two.reloads == 1  # loaded once, not per read
    with two.change() as live:
        assert live.remove_closure("c1")
    assert _closure_ids(one) == []
    assert one.reloads == 1
    assert _closure_ids(one) == [] and one.reloads == 1  # its own change is no reload


def test_a_file_replaced_behind_the_workers_is_seen_within_the_interval(tmp_path, tiny_graphs):
    path = tmp_path / "live" / "hd.json"
    clock = Clock()
    sync = _sync(tiny_graphs, path, clock)
    assert _closure_ids(sync) == []
    # Another program writes the file without LiveSync (no counter, no lock).
    outside = LiveState({"walk": tiny_graphs["walk"]}, path=path, timezone="UTC")
    outside.add_closure(edges=[1], edge_profile="walk", closure_id="by-hand")
    clock.now += STAT_INTERVAL_S / 2
    assert _closure_ids(sync) == []  # within the interval the file is not looked at
    clock.now += STAT_INTERVAL_S
    assert _closure_ids(sync) == ["by-hand"]
    assert sync.reloads == 1


def test_a_change_under_the_lock_sees_a_file_replaced_behind_it(tmp_path, tiny_graphs):
    path = tmp_path / "live" / "hd.json"
    sync = _sync(tiny_graphs, path, Clock())
    LiveState({"walk": tiny_graphs["walk"]}, path=path, timezone="UTC").add_closure(
        edges=[1], edge_profile="walk", closure_id="by-hand"
    )
    with sync.change() as live:  # a writer never builds on a stale state
        assert [c.id for c in live.closures()] == ["by-hand"]
        live.add_closure(edges=[2], edge_profile="walk", closure_id="c2")
    again = _sync(tiny_graphs, path, Clock())
    assert sorted(_closure_ids(again)) == ["by-hand", "c2"]


def test_without_a_shared_counter_every_read_looks_at_the_file(
    tmp_path, tiny_graphs, monkeypatch: pytest.MonkeyPatch
):
    def unavailable(path: Path) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(live_sync, "ChangeCounter", unavailable)
    path = tmp_path / "live" / "hd.json"
    sync = _sync(tiny_graphs, path, Clock())
    assert _closure_ids(sync) == []
    LiveState({"walk": tiny_graphs["walk"]}, path=path, timezone="UTC").add_closure(
        edges=[1], edge_profile="walk", closure_id="by-hand"
    )
    assert _closure_ids(sync) == ["by-hand"]  # no interval: the clock did not move
    with sync.change() as live:
        live.add_closure(edges=[2], edge_profile="walk", closure_id="c2")
    assert sorted(_closure_ids(sync)) == ["by-hand", "c2"]


def test_the_change_counter_is_shared_through_the_file(tmp_path):
    path = tmp_path / "sub" / "state.json.lock"
    a, b = ChangeCounter(path), ChangeCounter(path)
    assert (a.read(), b.read()) == (0, 0)
    assert a.bump() == 1
    assert b.read() == 1
    assert b.bump() == 2
    assert a.read() == 2
    assert ChangeCounter(path).read() == 2  # a new worker starts from the count so far
    assert path.stat().st_mode & 0o777 == 0o600
