"""Door-to-door walk + transit on Heidelberg: walk-graph footpaths, itineraries, JSON, CLI."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from routing.errors import NoRouteError, RequestError, SnapError
from routing.geo import haversine_m
from routing.polyline import decode_polyline, encode_polyline
from routing.search import dijkstra_bounded
from routing.transit.door_to_door import load_transit_network, plan_transit
from routing.transit.raptor import run_raptor
from tests.support import transit_oracle as oracle

AT = "2022-09-14T08:00"


@pytest.fixture(scope="module")
def net(hd_region, hd_data_dir, cache_dir):
    return load_transit_network(hd_region, "2022-09-14", data_dir=hd_data_dir, cache_dir=cache_dir)


def test_footpaths_follow_the_walk_graph(net):
    tt, fp, links = net.timetable, net.footpaths, net.links
    assert fp.n_paths > 500
    src = np.repeat(np.arange(tt.n_stops), np.diff(fp.first))
    linked = links.linked[src] & links.linked[fp.head]
    straight = haversine_m(
        tt.stop_lat[src], tt.stop_lon[src], tt.stop_lat[fp.head], tt.stop_lon[fp.head]
    )
    speed = straight[linked] / np.maximum(fp.duration[linked], 1)
    assert speed.max() <= 1.5  # never faster than a brisk walk in a straight line
    assert np.median(fp.duration[linked] / np.maximum(straight[linked] / 1.34, 1)) > 1.05  # detours
    assert fp.duration.max() <= 600
    # spot check against a fresh walk-graph search from one stop
    s = int(np.flatnonzero(links.linked & (np.diff(fp.first) > 3))[0])
    seeds = np.isfinite(links.src_costs[s])
    dist = dijkstra_bounded(
        net.graph, links.src_nodes[s][seeds], links.src_costs[s][seeds] + links.offroad_s[s], 600
    )
    for e in range(fp.first[s], fp.first[s + 1]):
        h = fp.head[e]
        if links.linked[h]:
            want = np.min(dist[links.tgt_nodes[h]] + links.tgt_costs[h]) + links.offroad_s[h]
            assert fp.duration[e] <= np.ceil(want) + 1


def test_earliest_arrival_with_walk_footpaths_matches_oracle(net):
    tt, fp = net.timetable, net.footpaths
    conns = oracle.connections(tt)
    for src, dst, t in oracle.random_pairs(tt, 60, seed=21):
        if src == dst:
            continue
        info, _ = run_raptor(
            tt,
            fp,
            np.array([src]),
            np.array([0]),
            np.array([dst]),
            np.array([0]),
            int(t),
            max_transfers=15,
            args=net.args,
        )
        got = int(info[:, 3].min()) if len(info) else float("inf")
        assert got == oracle.csa_earliest_arrival(
            tt, fp, {int(src): 0}, {int(dst): 0}, int(t), conns
        )


def check_itinerary(it, origin, destination):
    legs = it.legs
    assert legs[0].from_place.lat == origin[0] and legs[-1].to_place.lat == destination[0]
    for a, b in itertools.pairwise(legs):
        assert a.end <= b.start + dt.timedelta(seconds=1)
        assert a.to_place.name == b.from_place.name or a.mode == b.mode == "WALK"
    for leg in legs:
        assert leg.end >= leg.start and leg.start.utcoffset() == dt.timedelta(hours=2)
        assert len(leg.lats) >= 2
        if leg.transit:
            assert leg.trip_id and leg.route_short_name and leg.from_place.stop_id
    assert it.transfers == max(0, sum(leg.transit for leg in legs) - 1)


def test_sample_queries_give_pareto_itineraries(net, hd_region):
    for origin, destination in hd_region.sample_queries[:2]:
        its = plan_transit(net, origin, destination, AT, window_min=30)
        assert any(any(leg.transit for leg in it.legs) for it in its)
        for it in its:
            check_itinerary(it, origin, destination)
        transit = [it for it in its if any(leg.transit for leg in it.legs)]
        for a in transit:  # none dominates another (minute resolution)
            for b in transit:
                if a is not b:
                    assert not (
                        a.start >= b.start
                        and a.end <= b.end
                        and a.transfers <= b.transfers
                        and (a.start, a.end, a.transfers) != (b.start, b.end, b.transfers)
                        and a.end.minute != b.end.minute
                        and a.start.minute != b.start.minute
                    )


def test_walk_legs_follow_streets_and_json_shape(net, hd_region):
    origin, destination = hd_region.sample_queries[0]
    it = next(i for i in plan_transit(net, origin, destination, AT) if len(i.legs) > 1)
    walk = it.legs[0]
    assert walk.mode == "WALK" and len(walk.lats) > 2
    crow = haversine_m(walk.lats[0], walk.lons[0], walk.lats[-1], walk.lons[-1])
    assert walk.distance_m >= crow
    data = it.to_dict()
    leg = next(leg for leg in data["legs"] if leg["transitLeg"])
    assert {
        "mode",
        "from",
        "to",
        "startTime",
        "endTime",
        "duration",
        "distance",
        "routeId",
        "tripId",
        "headsign",
        "routeShortName",
        "legGeometry",
    } <= set(leg)
    assert leg["legGeometry"]["precision"] == 6 and "stopId" in leg["from"]
    lats, _lons = decode_polyline(leg["legGeometry"]["points"], 6)
    assert len(lats) == leg["legGeometry"]["length"] and abs(lats[0] - leg["from"]["lat"]) < 1e-6
    assert dt.datetime.fromisoformat(data["startTime"]).tzinfo is not None
    json.dumps(data)
    gj = it.to_geojson()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(it.legs)


def test_direct_walk_and_errors(net):
    near = plan_transit(net, (49.4094, 8.6937), (49.4110, 8.6950), AT)
    assert near[0].legs[0].mode == "WALK" and len(near[0].legs) == 1
    with pytest.raises(SnapError):
        plan_transit(net, (1.0, 2.0), (49.41, 8.69), AT)
    with pytest.raises(RequestError):
        plan_transit(net, (95.0, 8.69), (49.41, 8.69), AT)
    with pytest.raises(RequestError, match="not on the loaded timetable day"):
        plan_transit(net, (49.4094, 8.6937), (49.4183, 8.6758), "2022-10-01T08:00")
    with pytest.raises(NoRouteError, match="no stop within walking distance"):
        plan_transit(net, (49.4124, 8.7100), (49.3800, 8.6600), AT)


def test_polyline_encoder_reference():
    # Google's documented example (precision 5)
    assert (
        encode_polyline([38.5, 40.7, 43.252], [-120.2, -120.95, -126.453], 5)
        == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    )
    lats, lons = decode_polyline(encode_polyline([49.4094, -0.000001], [8.6937, 179.999999]))
    assert np.allclose(lats, [49.4094, -0.000001]) and np.allclose(lons, [8.6937, 179.999999])


def test_cli_plan(hd_data_dir, cache_dir):
    from api.cli import app

    runner = CliRunner()
    args = [
        "plan",
        "heidelberg",
        "--from",
        "49.4094,8.6937",
        "--to",
        "49.4183,8.6758",
        "--at",
        AT,
        "--data-dir",
        str(hd_data_dir),
        "--cache-dir",
        str(cache_dir),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "transfer(s)" in result.output and "RNV" in result.output
    result = runner.invoke(app, [*args, "--json", "--window", "30"])
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert data["itineraries"] and data["itineraries"][0]["legs"]
    bad = runner.invoke(app, ["plan", "heidelberg", "--from", "x", "--to", "1,2", "--at", AT])
    assert bad.exit_code != 0
