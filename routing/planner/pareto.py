"""Pareto filtering of itineraries over arrival time, transfers, effort and cost.

Criteria (all minimised): arrival (whole seconds), number of transfers,
effort = seconds spent walking or cycling, and cost in euro cents. An
itinerary *dominates* another when it is no worse in every criterion and
better in one; equal criteria vectors keep only the first (the caller orders
candidates so the simpler one comes first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
Criteria = tuple[int, int, int, int]


def dominates(a: Criteria, b: Criteria) -> bool:
    """Whether ``a`` is no worse than ``b`` everywhere and better somewhere."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def pareto_front(items: Sequence[T], key: Callable[[T], Criteria]) -> list[T]:
    """Items not dominated by any other item, in input order (duplicates of a vector kept once).

    Sort-based: after ordering by the criteria vector, an item can only be
    dominated by one placed before it, so each item is checked against the
    front kept so far (the front is small: O(n * front)).
    """
    keyed = sorted(((key(it), i, it) for i, it in enumerate(items)), key=lambda t: (t[0], t[1]))
    front: list[tuple[Criteria, int, T]] = []
    for k, i, it in keyed:
        if any(f[0] == k or dominates(f[0], k) for f in front):
            continue
        front.append((k, i, it))
    front.sort(key=lambda t: t[1])
    return [it for _, _, it in front]
