"""K2 on the CPU: exact partitions against a plain union-find, canonical label order."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.cuda.components import connected_components_cpu


def union_find(n: int, edges: np.ndarray) -> list[frozenset[int]]:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges.T:
        parent[find(int(a))] = find(int(b))
    groups: dict[int, set[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), set()).add(i)
    return sorted((frozenset(g) for g in groups.values()), key=min)


@pytest.mark.parametrize(("n", "e", "seed"), [(50, 30, 0), (1000, 800, 1), (3000, 5000, 2)])
def test_random_graphs_give_the_union_find_partition(n, e, seed):
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, (2, e))
    labels = connected_components_cpu(n, edges)
    expected = union_find(n, edges)
    # canonical: component c is the c-th by smallest member
    got = [frozenset(np.flatnonzero(labels == c).tolist()) for c in range(labels.max() + 1)]
    assert got == expected


def test_canonical_labels_and_min_size():
    edges = np.array([[5, 0, 3], [6, 1, 4]])
    np.testing.assert_array_equal(connected_components_cpu(7, edges), [0, 0, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(
        connected_components_cpu(7, edges, min_size=2), [0, 0, -1, 1, 1, 2, 2]
    )
    assert connected_components_cpu(0, np.zeros((2, 0))).shape == (0,)
    np.testing.assert_array_equal(connected_components_cpu(3, np.zeros((2, 0))), [0, 1, 2])
