"""The worker supervisor: a dying worker is replaced, the others keep serving, give-up exits 1+.

Regression test for issue 17, finding 1: killing a worker and then its
replacement within 10 s used to stop the whole server (healthy worker
included) and exit with status 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.workers import GIVE_UP_EXIT
from routing.regions import PROJECT_ROOT
from tests.support.api import free_port


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _wait(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _supervisor(factory: str, port: int, log: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "api.workers", factory, "--port", str(port), "--workers", "2",
           "--backoff", "0.5", "--max-backoff", "2", *extra]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _serving_pids(port: int) -> set[int]:
    seen = set()
    for _ in range(40):  # new connections: the kernel spreads them over the workers
        with contextlib.suppress(httpx.HTTPError):
            seen.add(int(httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text))
    return seen


def test_killing_a_replacement_worker_early_keeps_the_survivor_serving(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "supervisor.log"
    sup = _supervisor("tests.support.worker_apps:tiny_app", port, log)
    try:
        first = _wait(lambda: len(pids := _serving_pids(port)) == 2 and pids, "2 workers")
        helpers = _children(sup.pid) - first  # e.g. multiprocessing's resource tracker
        victim, survivor = sorted(first)
        os.kill(victim, signal.SIGKILL)
        replacement = _wait(
            lambda: (_children(sup.pid) - first - helpers) or None, "a replacement worker"
        ).pop()
        os.kill(replacement, signal.SIGKILL)  # dies within 10 s of its start
        time.sleep(0.5)
        assert sup.poll() is None, log.read_text()  # the supervisor did not stop
        assert survivor in _children(sup.pid)  # nor did it stop the healthy worker
        assert survivor in _serving_pids(port)
        # After its back-off the slot gets a worker again, and both serve.
        again = _wait(
            lambda: len(pids := _serving_pids(port)) == 2 and replacement not in pids and pids,
            "a second replacement serving",
        )
        assert survivor in again
        assert "starts in" in log.read_text()  # the back-off was logged
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=60) == 0  # a requested shutdown exits 0


def test_a_worker_that_never_starts_makes_the_supervisor_give_up_non_zero(
    tmp_path: Path,
) -> None:
    log = tmp_path / "supervisor.log"
    sup = _supervisor(
        "tests.support.worker_apps:broken_app", free_port(), log, "--max-fast-failures", "3"
    )
    try:
        status = sup.wait(timeout=120)
    finally:
        if sup.poll() is None:
            os.killpg(sup.pid, signal.SIGKILL)
    assert status == GIVE_UP_EXIT, log.read_text()
    text = log.read_text()
    assert "giving up" in text
    assert text.count("starts in") >= 2  # it retried with back-off before giving up


def test_a_worker_listens_only_after_its_startup(tmp_path: Path) -> None:
    """Issue 17, finding 13: no connection may wait on a worker still warming up."""
    import socket

    port = free_port()
    gate = tmp_path / "gate"
    cmd = [sys.executable, "-m", "api.workers", "tests.support.worker_apps:slow_start_app",
           "--port", str(port), "--workers", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ELSTER_TEST_GATE": str(gate)}
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        _wait(lambda: gate.with_suffix(".started").exists(), "the startup to begin")
        with pytest.raises(ConnectionRefusedError):  # not listening while starting
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        gate.touch()  # startup done
        _wait(lambda: _serving_pids(port) == {proc.pid}, "the worker to serve")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
