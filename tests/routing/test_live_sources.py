"""The ``[live.KEY]`` tables of a region file: defaults, and errors that name the fix."""

from __future__ import annotations

import pytest

from routing.errors import RegionError
from routing.regions import load_region

HEAD = """name = "t"
timezone = "Europe/Berlin"
bbox = [8.0, 49.0, 9.0, 50.0]
"""


def region(tmp_path, live: str):
    path = tmp_path / "t.toml"
    path.write_text(HEAD + live)
    return load_region(path)


def test_live_sources_with_defaults_and_options(tmp_path, monkeypatch) -> None:
    r = region(
        tmp_path,
        """
[live.tu]
kind = "gtfs_rt_trip_updates"
url = "https://example.org/tu.pb"
interval_s = 15
auth_header = "Authorization"
auth_env = "T_TOKEN"

[live.boxes]
kind = "parkapi"
url = "https://example.org/boxes.json"
source_uid = "kienzler"
""",
    )
    tu, boxes = r.live["tu"], r.live["boxes"]
    assert (tu.interval_s, tu.timeout_s, tu.max_age_s) == (15.0, 10.0, 60.0)
    assert (boxes.interval_s, boxes.max_age_s, boxes.options) == (
        30.0,
        90.0,
        {"source_uid": "kienzler"},
    )
    monkeypatch.setenv("T_TOKEN", "Bearer x")
    assert tu.headers() == {"Authorization": "Bearer x"}
    monkeypatch.delenv("T_TOKEN")
    with pytest.raises(RegionError, match=r"\[live.tu\].*T_TOKEN, which is not set"):
        tu.headers()
    assert boxes.headers() == {}


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (
            'kind = "gtfs"\nurl = "https://x/y"',
            ["[live.f] kind", "'gtfs' is not a live feed kind", "gtfs_rt_alerts"],
        ),
        ('kind = "gbfs"\nurl = "ftp://x/y"', ["[live.f] url", "must be an http(s)://"]),
        ('kind = "gbfs"\nurl = "https://x"\ninterval_s = 0', ["interval_s", "positive"]),
        ('kind = "gbfs"\nurl = "https://x"\ninterval_s = 60\nmax_age_s = 30', ["raise max_age_s"]),
        ('kind = "gbfs"\nurl = "https://x"\nintervall_s = 60', ["unknown key", "intervall_s"]),
        ('kind = "gbfs"\nurl = "https://x"\nauth_header = "X-Key"', ["auth_env"]),
        ('kind = "gbfs"\nurl = "https://x"\nauth_env = "K"', ["need auth_header"]),
    ],
)
def test_bad_live_tables_name_file_key_and_fix(tmp_path, table, words) -> None:
    with pytest.raises(RegionError) as info:
        region(tmp_path, "\n[live.f]\n" + table + "\n")
    message = str(info.value)
    assert "t.toml" in message
    for word in words:
        assert word in message, (word, message)


def test_default_region_has_no_live_feeds() -> None:
    assert load_region("heidelberg").live == {}
