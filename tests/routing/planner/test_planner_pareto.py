"""Pareto filter against a brute-force definition of dominance."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.planner.pareto import dominates, pareto_front

vectors = st.lists(st.tuples(*(st.integers(0, 6) for _ in range(4))), max_size=40)


def brute_force(items):
    out, seen = [], set()
    for i, a in enumerate(items):
        if a in seen:
            continue
        if any(all(x <= y for x, y in zip(b, a, strict=True)) and b != a for b in items):
            continue
        seen.add(a)
        out.append(i)
    return out


@settings(max_examples=300, deadline=None)
@given(vectors)
def test_front_equals_brute_force(items):
    front = pareto_front(list(range(len(items))), key=lambda i: items[i])
    assert front == brute_force(items)
    # nothing in the front is dominated, everything outside is dominated or a duplicate
    kept = [items[i] for i in front]
    assert not any(dominates(a, b) for a in kept for b in kept)
    for i, v in enumerate(items):
        if i not in front:
            assert any(dominates(k, v) or k == v for k in kept)


def test_dominance_is_strict():
    assert dominates((1, 0, 0, 0), (2, 0, 0, 0))
    assert not dominates((1, 0, 0, 0), (1, 0, 0, 0))
    assert not dominates((1, 1, 0, 0), (2, 0, 0, 0))


def test_large_random_sets():
    rng = random.Random(3)
    items = [tuple(rng.randint(0, 50) for _ in range(4)) for _ in range(400)]
    assert pareto_front(list(range(400)), key=lambda i: items[i]) == brute_force(items)
