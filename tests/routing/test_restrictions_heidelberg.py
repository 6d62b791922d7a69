"""Zero forbidden turns: random Heidelberg routes checked against the PBF's restriction relations.

The restrictions are read by ``benchmarks/support/restrictions_oracle.py`` straight from
the PBF with pyosmium, sharing no code with the importer.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.support.restrictions_oracle import load_restrictions, violations
from benchmarks.support.route_segments import route_segments
from routing.errors import NoRouteError


@pytest.fixture(scope="module")
def restrictions(hd_region, hd_data_dir):
    return load_restrictions(hd_region.source_file("osm", hd_data_dir))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("profile", "mode"), [("car", "car"), ("shuttle", "shuttle"), ("bike", "bike")]
)
def test_random_routes_take_no_forbidden_turn(hd_networks, restrictions, profile, mode) -> None:
    network = hd_networks[profile]
    g = network.graph
    rng = np.random.default_rng({"car": 1, "shuttle": 2, "bike": 3}[profile])
    # Start and end at junctions with restrictions often: half the points near via nodes.
    via_nodes = {r.via_node for r in restrictions if getattr(r, "via_node", None)}
    near = np.flatnonzero(np.isin(g.osm_node_id, list(via_nodes)))
    checked = turns_at_restricted_nodes = 0
    for _ in range(300):
        i = (
            int(rng.choice(near))
            if rng.random() < 0.5 and near.size
            else int(rng.integers(g.n_nodes))
        )
        j = int(rng.integers(g.n_nodes))
        a = (float(g.lat[i]) + 2e-5, float(g.lon[i]) - 2e-5)
        b = (float(g.lat[j]) - 2e-5, float(g.lon[j]) + 2e-5)
        try:
            segments = route_segments(network, a, b)
        except NoRouteError:
            continue
        broken = violations(restrictions, segments, mode)
        assert not broken, (profile, a, b, broken[:3])
        checked += 1
        turns_at_restricted_nodes += sum(1 for s in segments[1:] if s[1] in via_nodes)
    assert checked >= 250
    assert turns_at_restricted_nodes > 100  # the routes really pass restricted junctions
