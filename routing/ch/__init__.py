"""Contraction hierarchies: exact, fast shortest paths on road graphs.

The package follows the seams of the algorithm (RoutingKit keeps building and
querying apart the same way):

========================  ==================================================
:mod:`.contraction`       classic hierarchy by witness search (:func:`build_ch`)
:mod:`.customization`     CCH: metric-independent structure, then fast
                          customization per metric (:func:`customize`)
:mod:`.query`             the query graph, per-thread search state and the
                          query objects (:class:`ContractionHierarchy`,
                          :class:`CustomizedHierarchy`)
:mod:`.unpack`            shortcut unpacking, shared by both kinds
:mod:`.storage`           cache, save/load and consistency checks
========================  ==================================================

Road networks use the customizable kind (:func:`cch_structure` then
:func:`customize`); the classic builder is the reference for tests and small
graphs. Everything a caller needs is importable from ``routing.ch``.
"""

from __future__ import annotations

from routing.arrays import grow_array
from routing.ch.contraction import build_ch
from routing.ch.customization import (
    PARTIAL_MAX_ARCS,
    PARTIAL_MAX_SHARE,
    CCHStructure,
    MetricLayout,
    build_cch_structure,
    customize,
    metric_layout,
    structure_parent,
)
from routing.ch.query import ContractionHierarchy, CustomizedHierarchy, QueryGraph, QueryState
from routing.ch.storage import (
    CCH_FORMAT_VERSION,
    CH_FORMAT_VERSION,
    cch_structure,
    check_cch_structure,
    check_hierarchy,
    contraction_hierarchy,
    customized_hierarchy,
    graph_digest,
    load_cch_structure,
    load_ch,
    save_cch_structure,
    save_ch,
    structure_digest,
)

__all__ = [
    "CCH_FORMAT_VERSION",
    "CH_FORMAT_VERSION",
    "PARTIAL_MAX_ARCS",
    "PARTIAL_MAX_SHARE",
    "CCHStructure",
    "ContractionHierarchy",
    "CustomizedHierarchy",
    "MetricLayout",
    "QueryGraph",
    "QueryState",
    "build_cch_structure",
    "build_ch",
    "cch_structure",
    "check_cch_structure",
    "check_hierarchy",
    "contraction_hierarchy",
    "customize",
    "customized_hierarchy",
    "graph_digest",
    "grow_array",
    "load_cch_structure",
    "load_ch",
    "metric_layout",
    "save_cch_structure",
    "save_ch",
    "structure_digest",
    "structure_parent",
]
