"""The independent turn-restriction oracle (tests/support) on tiny hand-written OSM files.

Sketch of the cross used by most tests (right-hand traffic: from the west,
north is a left turn)::

                4
                |  way 12
    6 --- 2 --- 1 --- 3
      way 10    |  way 11
                5  way 13

Way 10 runs 6-2-1 (so it can be driven in part or split into several edges).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.support.restrictions_oracle import (
    Restriction,
    edges_from_nodes,
    load_restrictions,
    segment_ways,
    summarize,
    violations,
)

CROSS_NODES = {
    1: (49.4000, 8.7000),
    2: (49.4000, 8.6990),
    6: (49.4000, 8.6980),
    3: (49.4000, 8.7010),
    4: (49.4010, 8.7000),
    5: (49.3990, 8.7000),
}
CROSS_WAYS = {10: [6, 2, 1], 11: [1, 3], 12: [1, 4], 13: [1, 5]}

WEST_TO_NORTH = [(10, 2, 1), (12, 1, 4)]  # a left turn
WEST_TO_EAST = [(10, 2, 1), (11, 1, 3)]  # straight on
WEST_TO_SOUTH = [(10, 2, 1), (13, 1, 5)]  # a right turn
SOUTH_TO_NORTH = [(13, 5, 1), (12, 1, 4)]


def osm_xml(
    nodes: dict[int, tuple[float, float]],
    ways: dict[int, list[int]],
    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]],
) -> str:
    """An OSM XML document: relations are (id, tags, [(type, ref, role), ...])."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in nodes.items():
        lines.append(f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs in ways.items():
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        lines.append('    <tag k="highway" v="residential"/>')
        lines.append("  </way>")
    for rid, tags, members in relations:
        lines.append(f'  <relation id="{rid}" version="1">')
        for kind, ref, role in members:
            lines.append(f'    <member type="{kind}" ref="{ref}" role="{role}"/>')
        for k, v in {"type": "restriction", **tags}.items():
            lines.append(f'    <tag k="{k}" v="{v}"/>')
        lines.append("  </relation>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


def via_node(from_way: int, node: int, to_way: int) -> list[tuple[str, int, str]]:
    return [("way", from_way, "from"), ("node", node, "via"), ("way", to_way, "to")]


def load_cross(tmp_path: Path, *relations) -> list[Restriction]:
    path = tmp_path / "cross.osm"
    path.write_text(osm_xml(CROSS_NODES, CROSS_WAYS, list(relations)), encoding="utf-8")
    return load_restrictions(path)


def test_no_left_turn_via_node(tmp_path: Path) -> None:
    rs = load_cross(tmp_path, (1, {"restriction": "no_left_turn"}, via_node(10, 1, 12)))
    (r,) = rs
    assert (r.kind, r.from_ways, r.via_node, r.to_ways, r.via) == (
        "no_left_turn", (10,), 1, (12,), "node",
    )  # fmt: skip
    assert r.usable and r.prohibitive and r.modes == {"car", "shuttle", "bike"}

    (v,) = violations(rs, WEST_TO_NORTH, "car")
    assert (v.restriction, v.edge_index, v.node, v.from_way, v.to_way) == (r, 1, 1, 10, 12)
    assert not v.conditional
    assert violations(rs, WEST_TO_NORTH, "bike")  # a plain restriction binds bikes too
    assert violations(rs, WEST_TO_EAST, "car") == []
    assert violations(rs, WEST_TO_SOUTH, "car") == []
    assert violations(rs, SOUTH_TO_NORTH, "car") == []  # another from way
    assert violations(rs, [(10, 2, 1)], "car") == []  # ends at the via node: no turn
    assert violations(rs, [(12, 1, 4)], "car") == []  # starts there


def test_from_way_split_or_spanned_by_edges(tmp_path: Path) -> None:
    rs = load_cross(tmp_path, (1, {"restriction": "no_left_turn"}, via_node(10, 1, 12)))
    split = [(10, 6, 2), (10, 2, 1), (12, 1, 4)]
    spanning = [(10, 6, 1), (12, 1, 4)]  # one edge over the whole way
    assert [v.edge_index for v in violations(rs, split, "car")] == [2]
    assert [v.edge_index for v in violations(rs, spanning, "car")] == [1]


def test_edges_that_do_not_meet_are_refused(tmp_path: Path) -> None:
    rs = load_cross(tmp_path, (1, {"restriction": "no_left_turn"}, via_node(10, 1, 12)))
    with pytest.raises(ValueError, match="do not meet"):
        violations(rs, [(10, 2, 1), (12, 4, 1)], "car")
    with pytest.raises(ValueError, match="unknown mode"):
        violations(rs, WEST_TO_NORTH, "tram")


def test_only_straight_on(tmp_path: Path) -> None:
    rs = load_cross(tmp_path, (1, {"restriction": "only_straight_on"}, via_node(10, 1, 11)))
    assert rs[0].mandatory
    assert violations(rs, WEST_TO_EAST, "car") == []
    assert [v.to_way for v in violations(rs, WEST_TO_NORTH, "car")] == [12]
    assert [v.to_way for v in violations(rs, WEST_TO_SOUTH, "car")] == [13]
    u_turn = [(10, 2, 1), (10, 1, 2)]
    assert [v.to_way for v in violations(rs, u_turn, "car")] == [10]
    assert violations(rs, SOUTH_TO_NORTH, "car") == []  # not coming from the from way


def test_no_u_turn_via_node_inside_a_way(tmp_path: Path) -> None:
    """A U-turn at node 2, inside way 10: leaving 2 back along 10 the way the route came."""
    rs = load_cross(tmp_path, (1, {"restriction": "no_u_turn"}, via_node(10, 2, 10)))
    assert violations(rs, [(10, 6, 2), (10, 2, 6)], "car")
    assert violations(rs, [(10, 6, 1), (11, 1, 3)], "car") == []  # passes 2 going on
    assert violations(rs, [(10, 6, 2), (10, 2, 1)], "car") == []
    # A U-turn at 1 is not at the via node.
    assert violations(rs, [(10, 2, 1), (10, 1, 2)], "car") == []


def test_except_psv_spares_the_shuttle(tmp_path: Path) -> None:
    rs = load_cross(
        tmp_path, (1, {"restriction": "no_left_turn", "except": "psv;bicycle"}, via_node(10, 1, 12))
    )
    assert rs[0].exceptions == {"psv", "bicycle"}
    assert rs[0].modes == {"car"}
    assert violations(rs, WEST_TO_NORTH, "car")
    assert violations(rs, WEST_TO_NORTH, "shuttle") == []
    assert violations(rs, WEST_TO_NORTH, "bike") == []


def test_mode_specific_keys(tmp_path: Path) -> None:
    rs = load_cross(
        tmp_path,
        (1, {"restriction:bus": "no_left_turn"}, via_node(10, 1, 12)),
        (2, {"restriction:motorcar": "no_right_turn"}, via_node(10, 1, 13)),
        (3, {"restriction:hgv": "no_straight_on"}, via_node(10, 1, 11)),
        (4, {"restriction:bicycle": "no_right_turn"}, via_node(10, 1, 13)),
    )
    assert [r.key for r in rs] == [
        "restriction:bus", "restriction:motorcar", "restriction:hgv", "restriction:bicycle",
    ]  # fmt: skip
    assert violations(rs, WEST_TO_NORTH, "shuttle")
    assert violations(rs, WEST_TO_NORTH, "car") == []
    assert violations(rs, WEST_TO_NORTH, "bike") == []
    assert [v.restriction.relation_id for v in violations(rs, WEST_TO_SOUTH, "car")] == [2]
    assert [v.restriction.relation_id for v in violations(rs, WEST_TO_SOUTH, "bike")] == [4]
    assert violations(rs, WEST_TO_SOUTH, "shuttle") == []
    for mode in ("car", "shuttle", "bike"):  # an hgv-only rule binds none of them
        assert violations(rs, WEST_TO_EAST, mode) == []


def test_specific_key_overrides_plain_one(tmp_path: Path) -> None:
    """``restriction=no_left_turn`` with ``restriction:bus=only_left_turn``: buses must turn."""
    rs = load_cross(
        tmp_path,
        (1, {"restriction": "no_left_turn", "restriction:bus": "only_left_turn"},
         via_node(10, 1, 12)),
    )  # fmt: skip
    by_key = {r.key: r for r in rs}
    assert by_key["restriction"].modes == {"car", "bike"}
    assert by_key["restriction:bus"].modes == {"shuttle"}
    assert violations(rs, WEST_TO_NORTH, "car")
    assert violations(rs, WEST_TO_NORTH, "shuttle") == []
    assert violations(rs, WEST_TO_EAST, "shuttle")
    assert violations(rs, WEST_TO_EAST, "car") == []


def test_type_restriction_mode_old_form(tmp_path: Path) -> None:
    rs = load_cross(
        tmp_path,
        (1, {"type": "restriction:bus", "restriction": "no_left_turn"}, via_node(10, 1, 12)),
    )
    assert rs[0].key == "restriction:bus"
    assert violations(rs, WEST_TO_NORTH, "shuttle")
    assert violations(rs, WEST_TO_NORTH, "car") == []


def test_conditional_restrictions_are_reported_apart(tmp_path: Path) -> None:
    rs = load_cross(
        tmp_path,
        (1, {"restriction:conditional": "no_left_turn @ (Mo-Fr 07:00-09:00); none @ (Sa,Su)"},
         via_node(10, 1, 12)),
    )  # fmt: skip
    rules = {r.kind: r for r in rs}
    assert rules["no_left_turn"].condition == "Mo-Fr 07:00-09:00"
    assert rules["none"].condition == "Sa,Su" and not rules["none"].modes
    assert violations(rs, WEST_TO_NORTH, "car") == []  # ignored by default
    (v,) = violations(rs, WEST_TO_NORTH, "car", conditional=True)
    assert v.conditional
    assert summarize(rs)["conditional"] == 2


def test_broken_relations_are_reported_not_raised(tmp_path: Path) -> None:
    rs = load_cross(
        tmp_path,
        (1, {"restriction": "no_left_turn"}, via_node(10, 1, 999)),  # to way not in the file
        (2, {"restriction": "no_left_turn"}, [("way", 10, "from"), ("way", 12, "to")]),  # no via
        (3, {"restriction": "no_left_turn"}, via_node(11, 2, 12)),  # via node not on from way
        (4, {"restriction": "no_left_turn"}, [("node", 1, "via"), ("way", 12, "to")]),  # no from
        (5, {"restriction": "turn_left_please"}, via_node(10, 1, 12)),
        (6, {"highway": "residential"}, via_node(10, 1, 12)),  # no restriction tag
    )
    problems = {r.relation_id: r.problem for r in rs}
    assert problems == {
        1: "to way 999 is not in the file",
        2: "no via member",
        3: "via node 2 is not on from way 11",
        4: "no from way",
        5: "unknown restriction value 'turn_left_please'",
        6: "no restriction tag",
    }
    assert not any(r.usable or r.modes for r in rs)
    for mode in ("car", "shuttle", "bike"):
        assert violations(rs, WEST_TO_NORTH, mode) == []
    assert summarize(rs)["broken_relations"] == 6


def test_contradictory_only_restrictions_are_broken(tmp_path: Path) -> None:
    rs = load_cross(
        tmp_path,
        (1, {"restriction": "only_straight_on"}, via_node(10, 1, 11)),
        (2, {"restriction": "only_left_turn"}, via_node(10, 1, 12)),
        (3, {"restriction": "only_straight_on"}, via_node(10, 1, 11)),  # a duplicate of 1
        (4, {"restriction:bus": "only_right_turn"}, via_node(13, 1, 11)),
        (5, {"restriction:motorcar": "only_left_turn"}, via_node(13, 1, 12)),  # other modes
    )
    problems = {r.relation_id: r.problem for r in rs}
    assert problems[1] == "contradicts only_* relation 2"
    assert problems[2] == "contradicts only_* relation 1"
    assert problems[3] == "contradicts only_* relation 2"
    assert problems[4] is None and problems[5] is None
    assert violations(rs, WEST_TO_SOUTH, "car") == []  # no rule left from way 10 at node 1
    assert violations(rs, SOUTH_TO_NORTH, "shuttle")


# Dual carriageway with a U-turn connector (via way 30)::
#
#    21 ---- way 20 (eastbound) ----> 22 ----> 23
#                                     | way 30
#    34 <--- way 31 (westbound) ----- 32 <---- 33
#                                     | way 35
#                                     36
DUAL_NODES = {
    21: (49.4010, 8.6990), 22: (49.4010, 8.7000), 23: (49.4010, 8.7010),
    32: (49.4000, 8.7000), 33: (49.4000, 8.7010), 34: (49.4000, 8.6990), 36: (49.3990, 8.7000),
}  # fmt: skip
DUAL_WAYS = {20: [21, 22, 23], 30: [22, 32], 31: [33, 32, 34], 35: [32, 36]}
VIA_WAY = [("way", 20, "from"), ("way", 30, "via"), ("way", 31, "to")]


def load_dual(tmp_path: Path, tags: dict[str, str]) -> list[Restriction]:
    path = tmp_path / "dual.osm"
    path.write_text(osm_xml(DUAL_NODES, DUAL_WAYS, [(7, tags, VIA_WAY)]), encoding="utf-8")
    return load_restrictions(path)


def test_via_way_no_u_turn(tmp_path: Path) -> None:
    rs = load_dual(tmp_path, {"restriction": "no_u_turn"})
    (r,) = rs
    assert r.usable and r.via == "way" and r.via_ways == (30,) and r.via_node is None
    u_turn = [(20, 21, 22), (30, 22, 32), (31, 32, 34)]
    (v,) = violations(rs, u_turn, "car")
    assert (v.edge_index, v.node, v.from_way, v.to_way) == (2, 32, 20, 31)
    assert violations(rs, [(20, 21, 22), (30, 22, 32), (35, 32, 36)], "car") == []
    assert violations(rs, [(20, 21, 22), (30, 22, 32)], "car") == []  # ends on the connector
    assert violations(rs, [(20, 21, 22), (20, 22, 23)], "car") == []
    # Entering the connector from elsewhere (way 31 westbound is not the from way).
    assert violations(rs, [(31, 33, 32), (30, 32, 22), (20, 22, 21)], "car") == []


def test_via_way_only(tmp_path: Path) -> None:
    rs = load_dual(tmp_path, {"restriction": "only_left_turn"})
    assert violations(rs, [(20, 21, 22), (30, 22, 32), (31, 32, 34)], "car") == []
    (v,) = violations(rs, [(20, 21, 22), (30, 22, 32), (35, 32, 36)], "car")
    assert (v.node, v.to_way) == (32, 35)
    # Back up the connector at its end: a U-turn is not the allowed move either.
    assert violations(rs, [(20, 21, 22), (30, 22, 32), (30, 32, 22)], "car")


def test_via_ways_that_do_not_connect_are_broken(tmp_path: Path) -> None:
    path = tmp_path / "gap.osm"
    relation = (8, {"restriction": "no_u_turn"}, [
        ("way", 20, "from"), ("way", 35, "via"), ("way", 31, "to"),
    ])  # fmt: skip
    path.write_text(osm_xml(DUAL_NODES, DUAL_WAYS, [relation]), encoding="utf-8")
    (r,) = load_restrictions(path)
    assert r.problem == "via ways do not form a chain from the from way"


def test_heidelberg_counts_and_self_consistency(mirror_dir: Path) -> None:
    # The mirror's extract, never skipped: a missing mirror fails (conftest's mirror_dir).
    rs = load_restrictions(mirror_dir / "heidelberg" / "heidelberg.osm.pbf")
    counts = summarize(rs)
    # The extract's 476 type=restriction relations: all via node, plain key, unconditional.
    assert counts["relations"] == 476
    assert counts["rules"] == 476
    assert counts["broken_relations"] == 6  # a from or to way outside the extract
    assert all(p.endswith("is not in the file") for p in (r.problem for r in rs if not r.usable))
    assert (counts["via_node"], counts["via_way"]) == (470, 0)
    assert (counts["no"], counts["only"]) == (164, 306)
    assert (counts["mode_specific"], counts["conditional"]) == (0, 0)
    assert counts["with_except"] == 13
    assert (counts["binding_car"], counts["binding_shuttle"], counts["binding_bike"]) == (
        470, 460, 467,
    )  # fmt: skip

    # Every usable restriction, driven as it names: arrive at the via node on the from
    # way from a neighbouring node, leave on the to way towards a neighbouring node.
    checked = 0
    for r in rs:
        if not r.applies_to("car"):
            continue
        f, t, n = r.way_nodes[r.from_ways[0]], r.way_nodes[r.to_ways[0]], r.via_node
        i, j = f.index(n), t.index(n)
        before = f[i - 1] if i > 0 else f[i + 1]
        if r.from_ways == r.to_ways:  # e.g. no_u_turn: back the way it came
            after = before if r.kind.endswith("u_turn") else None
        else:
            after = t[j + 1] if j + 1 < len(t) else t[j - 1]
        if after is None:
            continue
        route = [(r.from_ways[0], before, n), (r.to_ways[0], n, after)]
        hits = [v for v in violations(rs, route, "car") if v.restriction is r]
        assert bool(hits) == r.prohibitive, (r.relation_id, r.kind, route)
        checked += 1
    assert checked >= 450


def test_edges_from_nodes(tmp_path: Path) -> None:
    path = tmp_path / "cross.osm"
    path.write_text(osm_xml(CROSS_NODES, CROSS_WAYS, []), encoding="utf-8")
    segments = segment_ways(path)
    assert segments[(2, 1)] == (10,) and segments[(1, 2)] == (10,)
    assert edges_from_nodes([6, 2, 1, 4], segments) == [(10, 6, 2), (10, 2, 1), (12, 1, 4)]
    with pytest.raises(ValueError, match="no way joins nodes 2 and 4"):
        edges_from_nodes([6, 2, 4], segments)
