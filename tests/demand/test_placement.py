"""Placement (maximal covering location): exact vs brute force and greedy, coverage re-derived."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as sp_dijkstra

from demand.placement import (
    Demand,
    coverage,
    covered_weight,
    greedy_mclp,
    place,
    read_sites,
    request_demand,
    solve_mclp,
    stop_sites,
)
from routing.errors import DataError, RequestError
from tests.support.mclp_oracle import brute_force_mclp


def random_instance(rng, n_sites: int, n_demand: int, density: float):
    dense = rng.random((n_sites, n_demand)) < density
    weights = rng.integers(1, 50, size=n_demand).astype(float) * rng.choice([1.0, 0.37], n_demand)
    return csr_matrix(dense), weights


@pytest.mark.parametrize("seed", range(25))
def test_exact_equals_brute_force_and_beats_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    matrix, weights = random_instance(rng, int(rng.integers(4, 10)), int(rng.integers(5, 40)), 0.25)
    k = int(rng.integers(1, 4))
    exact = solve_mclp(matrix, weights, k, method="exact")
    greedy = solve_mclp(matrix, weights, k, method="greedy")
    assert exact.optimal
    assert exact.covered == pytest.approx(brute_force_mclp(matrix, weights, k))
    assert exact.covered >= greedy.covered - 1e-9
    assert exact.covered == pytest.approx(covered_weight(matrix, weights, exact.chosen))
    assert sum(exact.gains) == pytest.approx(exact.covered)
    assert len(exact.chosen) <= k
    assert all(a >= b - 1e-9 for a, b in zip(exact.gains, exact.gains[1:], strict=False))


def test_greedy_is_suboptimal_on_the_classic_trap() -> None:
    # site 0 covers the heavy middle (6), sites 1 and 2 each an end plus one middle point (5.5)
    matrix = csr_matrix(np.array([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool))
    weights = np.array([2.5, 3.0, 3.0, 2.5])
    assert greedy_mclp(matrix, weights, 2)[0] == 0
    exact = solve_mclp(matrix, weights, 2, method="exact")
    assert exact.covered == pytest.approx(11.0)
    assert exact.greedy_covered == pytest.approx(8.5)
    assert sorted(exact.chosen) == [1, 2]


def test_bad_parameters() -> None:
    matrix, weights = random_instance(np.random.default_rng(0), 3, 5, 0.5)
    with pytest.raises(RequestError, match="k must be"):
        solve_mclp(matrix, weights, 0)
    with pytest.raises(RequestError, match="unknown method"):
        solve_mclp(matrix, weights, 1, method="magic")


def test_site_and_request_files(tmp_path) -> None:
    csv = tmp_path / "sites.csv"
    csv.write_text("id;name;lat;lon\na;Market;49.41;8.69\nb;Bridge;49.40;8.68\n")
    sites = read_sites(csv)
    assert sites.ids == ["a", "b"] and sites.lat.tolist() == [49.41, 49.40]
    geo = tmp_path / "sites.geojson"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.69, 49.41]},
         "properties": {"id": "x", "name": "X"}}]}))  # fmt: skip
    assert read_sites(geo).ids == ["x"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lat,lon\n1,91,8\n")
    with pytest.raises(DataError, match="site 1"):
        read_sites(bad)
    with pytest.raises(DataError, match="does not exist"):
        read_sites(tmp_path / "none.csv")
    requests = tmp_path / "requests.csv"
    requests.write_text(
        "request_id,origin_lat,origin_lon,destination_lat,destination_lon,passengers\n"
        "1,49.41,8.69,49.40,8.68,2\n2,49.42,8.70,49.41,8.69,1\n"
    )
    demand = request_demand(requests)
    assert demand.total == 6.0 and demand.lat.size == 4
    requests.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="origin_lat"):
        request_demand(requests)


def test_heidelberg_coverage_recomputed_independently(hd_graphs, hd_region, hd_data_dir) -> None:
    graph = hd_graphs["walk"]
    sites = stop_sites(hd_region.source_file("gtfs", hd_data_dir), bbox=hd_region.bbox)
    rng = np.random.default_rng(1)
    pick = rng.choice(len(sites), size=min(60, len(sites)), replace=False)
    from demand.placement import Sites

    sites = Sites([sites.ids[i] for i in pick], [sites.names[i] for i in pick],
                  sites.lat[pick], sites.lon[pick], sites.source)  # fmt: skip
    nodes = rng.integers(0, graph.n_nodes, size=3000)
    demand = Demand(graph.lat[nodes] + 1e-5, graph.lon[nodes], rng.random(3000) * 10, "random")
    radius_min = 4.0
    result = place(graph, sites, demand, kind="eboxes", k=6, radius_min=radius_min)
    summary = result.summary()
    assert summary["method"] == "mip-scip" and summary["optimal"]
    assert summary["covered"] >= summary["greedy_covered"] - 1e-6

    # independent: scipy Dijkstra from the chosen sites on the transposed walk graph
    tails = graph.tail()
    transposed = csr_matrix(
        (np.asarray(graph.travel_time) + 1e-9, (np.asarray(graph.head), tails)),
        shape=(graph.n_nodes, graph.n_nodes),
    )
    site_nodes = result.coverage.site_nodes[result.solution.chosen]
    dist = sp_dijkstra(transposed, indices=site_nodes, min_only=True)
    from scipy.spatial import cKDTree

    from routing.geo import LocalPlane

    plane = LocalPlane(float(np.mean(graph.lat)))
    tree = cKDTree(np.column_stack(plane.to_xy(graph.lat, graph.lon)))
    _gap, nearest = tree.query(np.column_stack(plane.to_xy(demand.lat, demand.lon)))
    reached = dist[nearest] <= radius_min * 60.0
    expected = float(demand.weight[reached].sum())
    assert result.solution.covered == pytest.approx(expected, rel=1e-9)
    assert summary["covered"] == pytest.approx(expected, abs=1e-3)
    assert sum(result.solution.gains) == pytest.approx(expected, rel=1e-9)
    assert result.geojson()["features"][0]["properties"]["rank"] == 1


def test_plot_writes_a_png(tmp_path, hd_graphs) -> None:
    graph = hd_graphs["walk"]
    rng = np.random.default_rng(2)
    from demand.placement import Sites

    idx = rng.integers(0, graph.n_nodes, size=20)
    sites = Sites([str(i) for i in idx], [""] * 20, graph.lat[idx], graph.lon[idx])
    nodes = rng.integers(0, graph.n_nodes, size=500)
    demand = Demand(graph.lat[nodes], graph.lon[nodes], np.ones(500))
    result = place(graph, sites, demand, kind="chargers", k=3, radius_min=5)
    cov = coverage(graph, sites, demand, 300.0)
    assert cov.matrix.nnz == result.coverage.matrix.nnz
    path = result.plot(tmp_path / "map.png", graph)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_place_command(tmp_path, hd_data_dir, cache_dir) -> None:
    import typer
    from typer.testing import CliRunner

    from api.commands import operations

    app = typer.Typer()
    operations.register(app)

    @app.callback()
    def _root() -> None:  # a callback keeps `place` a sub-command
        pass

    out = tmp_path / "out"
    dirs = ["--data-dir", str(hd_data_dir), "--cache-dir", str(cache_dir)]
    args = ["place", "heidelberg", "--kind", "eboxes", "--k", "4", "--radius-min", "5",
            "--out", str(out), *dirs]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "eboxes sites cover" in result.output
    summary = json.loads((out / "placement-heidelberg-eboxes.json").read_text())
    assert len(summary["chosen"]) == 4
    assert summary["covered"] >= summary["greedy_covered"] - 1e-6
    assert (out / "placement-heidelberg-eboxes.png").stat().st_size > 10_000
    bad = CliRunner().invoke(app, ["place", "heidelberg", "--kind", "boats", "--data-dir",
                                   str(hd_data_dir)])  # fmt: skip
    assert bad.exit_code != 0
    assert "--kind must be one of" in str(bad.exception)
