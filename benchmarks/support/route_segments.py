"""A road route as the OSM segments it drives, for checks against the map itself."""

from __future__ import annotations


def route_segments(network, a, b) -> list[tuple[int, int, int]]:
    """The route's road segments as (way, from OSM node, to OSM node), in driving order."""
    g = network.graph
    sa, sb = network.snap(*a), network.snap(*b)
    route = network.route(a, b)
    ids, tails = g.osm_node_id, g.tail()
    edges = route.edges.tolist()
    if edges:
        first = sa.edge if int(tails[edges[0]]) == sa.head else sa.reverse_edge
        last = sb.edge if int(g.head[edges[-1]]) in sb.in_tails else sb.reverse_edge
    else:
        meet = next(
            (
                (f, t)
                for f, f_head in ((sa.edge, sa.head), (sa.reverse_edge, sa.reverse_head))
                for t, t_tails in ((sb.edge, sb.in_tails), (sb.reverse_edge, sb.reverse_in_tails))
                if f >= 0 and t >= 0 and f_head in t_tails
            ),
            None,
        )
        if meet is None:  # both points on one segment: driven along it, no turn at all
            forward = sb.edge == sa.edge and sb.fraction >= sa.fraction
            arc = sa.edge if forward or sa.reverse_edge < 0 else sa.reverse_edge
            return [(int(g.way_id[arc]), int(ids[tails[arc]]), int(ids[g.head[arc]]))]
        first, last = meet
    out: list[tuple[int, int, int]] = []
    for arc in (first, *edges, last):
        seg = (int(g.way_id[arc]), int(ids[tails[arc]]), int(ids[g.head[arc]]))
        if not out or out[-1] != seg:
            out.append(seg)
    return out
