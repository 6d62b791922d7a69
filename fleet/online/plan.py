"""The dispatcher's route plan as data: what re-optimisation reads and hands back.

A :class:`RoutePlan` is a copy of the routes of the vehicles that accept work,
in the row layout of the static kernels (start node, passengers on board,
open stops, shared end), with the per-vehicle limits the kernels need. The
dispatcher builds one (:meth:`fleet.online.dispatcher.Dispatcher.route_plan`),
an improvement step returns a better one (:func:`fleet.online.reoptimise.improve`,
a pure function of the plan), and the dispatcher adopts it
(:meth:`fleet.online.dispatcher.Dispatcher.adopt`). Nothing in between reaches
into the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class RoutePlan:
    """Routes of the vehicles that accept work, and what may change in them.

    Row ``a`` belongs to vehicle ``vehicles[a]``. Its first ``committed[a]``
    nodes (the start and the passengers on board) must stay where they are;
    nodes from there up to ``lens[a] - 1`` are the open stops.

    Attributes
    ----------
    vehicles : ndarray of int64
        Dispatcher vehicle index per row.
    routes : ndarray of int64, shape (rows, width)
        Stop-pool node ids, padded beyond ``lens``.
    lens : ndarray of int64
        Used length of each row (the shared end node included).
    committed : ndarray of int64
        Leading nodes of each row that must not move.
    cap : ndarray of int64, shape (rows, 3)
        Seats, wheelchair places and stop-count capacity.
    shift_s, shift_e, maxdur : ndarray of float64
        Earliest start, end of service and longest route duration.
    energy_budget_m : ndarray of float64
        Metres each vehicle may still drive from its start (inf without battery).
    """

    vehicles: np.ndarray
    routes: np.ndarray
    lens: np.ndarray
    committed: np.ndarray
    cap: np.ndarray
    shift_s: np.ndarray
    shift_e: np.ndarray
    maxdur: np.ndarray
    energy_budget_m: np.ndarray

    @property
    def size(self) -> int:
        """Number of vehicles (rows)."""
        return int(self.vehicles.size)

    def open_nodes(self, a: int) -> np.ndarray:
        """Row ``a``'s stops that have not started (they may move).

        Parameters
        ----------
        a : int
            Row.

        Returns
        -------
        ndarray of int64
        """
        return self.routes[a, int(self.committed[a]) : int(self.lens[a]) - 1]

    def with_routes(self, routes: np.ndarray, lens: np.ndarray) -> RoutePlan:
        """The same vehicles and limits with other routes (``routes`` may be wider).

        Parameters
        ----------
        routes : ndarray of int64, shape (rows, any width)
        lens : ndarray of int64

        Returns
        -------
        RoutePlan
        """
        return replace(self, routes=routes, lens=lens)

    def changed_rows(self, other: RoutePlan) -> list[int]:
        """Rows whose route differs between ``self`` and ``other``.

        Parameters
        ----------
        other : RoutePlan
            A plan of the same vehicles.

        Returns
        -------
        list of int
        """
        out = []
        for a in range(self.size):
            n = int(other.lens[a])
            if n != int(self.lens[a]) or not np.array_equal(
                other.routes[a, :n], self.routes[a, :n]
            ):
                out.append(a)
        return out
