"""Secrets at rest (issue 17, finding 9): private data files, the token secret from the env."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import Settings
from api.state import private_database_file
from api.storage import BookingStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bookings_database_and_its_wal_are_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        url = f"sqlite:///{tmp_path / 'data' / 'bookings.db'}"
        private_database_file(url)
        store = BookingStore(url)
        with store.exclusive() as tx:
            store.set_meta(tx, "probe", "1")
        created = sorted(p.name for p in (tmp_path / "data").iterdir())
        assert "bookings.db" in created and "bookings.db-wal" in created
        for name in created:
            assert mode(tmp_path / "data" / name) == 0o600, (
                name,
                oct(mode(tmp_path / "data" / name)),
            )
        store.close()
    finally:
        os.umask(old)


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch()
    db.chmod(0o644)
    private_database_file(f"sqlite:///{db}")
    assert mode(db) == 0o600


def test_token_secret_from_the_environment_is_used_and_not_stored(tmp_path: Path) -> None:
    secret = "s" * 40
    store = BookingStore(f"sqlite:///{tmp_path / 'b.db'}", token_secret=secret)
    try:
        assert store.meta("token_secret") is None  # nothing to steal from the file
        expected = hmac.new(secret.encode(), b"some-id", hashlib.sha256).hexdigest()[:40]
        assert store.token_for("some-id") == expected
    finally:
        store.close()


def test_a_short_token_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSTER_TOKEN_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("ELSTER_TOKEN_SECRET", "x" * 32)
    assert Settings().token_secret == "x" * 32


def test_live_state_lock_file_is_owner_only(tmp_path: Path, hd_graphs) -> None:
    from api.services.live_sync import LiveSync

    sync = LiveSync({"car": hd_graphs["car"]}, tmp_path / "live" / "hd.json", timezone="UTC")
    with sync.change() as live:
        live.add_closure(way_ids=[int(hd_graphs["car"].way_id[3])], closure_id="c1")
    for path in (tmp_path / "live").iterdir():
        assert mode(path) == 0o600, path
