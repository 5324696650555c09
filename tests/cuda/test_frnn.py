"""K1 on the CPU against a brute-force reference: exact edge sets, ties and direction.

Every case runs both paths, forced with ``compiled``: the k-d tree query with numpy choosing and
sorting the pairs (small events), and the grid query with compiled loops (large ones).
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.cuda import frnn


@pytest.fixture(params=[False, True], ids=["numpy", "compiled"])
def radius_graph_cpu(request):
    """:func:`frnn.radius_graph_cpu` with the pairs chosen by numpy or by the compiled loops."""

    def run(*args, **kwargs):
        return frnn.radius_graph_cpu(*args, compiled=request.param, **kwargs)

    return run


def brute_force(latent: np.ndarray, r: np.ndarray, radius: float, k: int) -> np.ndarray:
    """The documented rule, written the slow obvious way."""
    x = latent.astype(np.float64)
    n = len(x)
    pairs = set()
    for i in range(n):
        d = np.sqrt(((x - x[i]) ** 2).sum(axis=1))
        candidates = [j for j in range(n) if j != i and d[j] < radius]
        candidates.sort(key=lambda j: (d[j], j))
        for j in candidates[:k]:
            a, b = (i, j) if (r[i], i) < (r[j], j) else (j, i)
            pairs.add((a, b))
    edges = sorted(pairs)
    return np.array(edges, dtype=np.int64).T.reshape(2, -1)


@pytest.mark.parametrize(
    ("n", "dim", "radius", "k", "seed"),
    [
        (300, 8, 0.9, 5, 0),
        (500, 3, 0.3, 64, 1),
        (200, 8, 2.0, 1, 2),
        (400, 2, 0.15, 3, 3),
    ],
)
def test_random_points_equal_brute_force(n, dim, radius, k, seed, radius_graph_cpu):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, dim)).astype(np.float32)
    r = rng.uniform(30, 1000, n).astype(np.float32)
    expected = brute_force(latent, r, radius, k)
    got = radius_graph_cpu(latent, r, radius, k)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_ties_go_to_the_smaller_index_and_direction_is_inner_to_outer(radius_graph_cpu):
    # point 0 at the origin; points 1..4 all at distance 1 (a tie); k = 2 keeps 1 and 2
    latent = np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.float32)
    r = np.array([500, 100, 600, 700, 800], dtype=np.float32)
    edges = radius_graph_cpu(latent, r, radius=1.5, max_neighbours=2)
    np.testing.assert_array_equal(edges, brute_force(latent, r, 1.5, 2))
    assert (1, 0) in set(map(tuple, edges.T))  # r 100 → r 500: point 1 is the source
    assert (0, 2) in set(map(tuple, edges.T))
    assert all(r[a] <= r[b] for a, b in edges.T)


def test_duplicates_and_edge_cases(radius_graph_cpu):
    latent = np.zeros((6, 4), dtype=np.float32)  # every pair at distance 0
    r = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(
        radius_graph_cpu(latent, r, 0.5, 2), brute_force(latent, r, 0.5, 2)
    )
    assert radius_graph_cpu(np.zeros((0, 8), np.float32), np.zeros(0, np.float32), 1, 4).shape == (
        2,
        0,
    )
    assert radius_graph_cpu(np.zeros((1, 8), np.float32), np.zeros(1, np.float32), 1, 4).shape == (
        2,
        0,
    )
    # the radius is strict: a pair at exactly the radius is not an edge
    two = np.array([[0, 0], [1, 0]], dtype=np.float32)
    assert radius_graph_cpu(two, np.array([1, 2], np.float32), 1.0, 4).shape == (2, 0)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_points_on_a_lattice_equal_brute_force(k, radius_graph_cpu):
    # a 2-D lattice: every point has 4 neighbours at one distance, 4 at the next (ties that
    # decide which pairs each point keeps, and whether a pair is kept from one side or both)
    rng = np.random.default_rng(k)
    latent = (rng.integers(0, 12, size=(150, 2)) * 0.5).astype(np.float32)
    r = rng.integers(1, 5, 150).astype(np.float32)  # equal radii too
    np.testing.assert_array_equal(
        radius_graph_cpu(latent, r, 1.2, k), brute_force(latent, r, 1.2, k)
    )


def _kept_pairs_by_rows(latent: np.ndarray, r: np.ndarray, radius: float, k: int) -> np.ndarray:
    """:func:`brute_force`'s rule, a block of rows at a time (for 20,000 points)."""
    x = latent.astype(np.float64)
    n = len(x)
    pairs = []
    for start in range(0, n, 200):
        rows = np.arange(start, min(n, start + 200))
        d = np.sqrt(((x[None, :, :] - x[rows, None, :]) ** 2).sum(axis=2))
        d[np.arange(len(rows)), rows] = np.inf
        for row, i in enumerate(rows):
            candidates = np.flatnonzero(d[row] < radius)
            kept = candidates[np.lexsort((candidates, d[row, candidates]))][:k]
            pairs.append(np.stack([np.full(len(kept), i), kept]))
    a, b = np.concatenate(pairs, axis=1)
    first = (r[a] < r[b]) | ((r[a] == r[b]) & (a < b))
    key = np.unique(np.where(first, a, b) * n + np.where(first, b, a))
    return np.stack([key // n, key % n])


def test_a_crowded_graph_full_of_ties_at_the_cap():
    # 20,000 points in 4-D with the k cap hit almost everywhere, and a quantised copy full of
    # exact ties at the cap (the cases where one end keeps the pair and the other does not).
    # The compiled path (its grid query) follows the rule exactly; the numpy path's k-d tree
    # rows hold k + 9 entries, so where more points tie at the cap it may keep others (the
    # documented limit of small events), and on the quantised copy it does
    rng = np.random.default_rng(7)
    smooth = rng.normal(size=(20_000, 4)).astype(np.float32)
    quantised = np.round(smooth * 4) / 4
    for latent in (smooth, quantised):
        r = rng.integers(1, 50, len(latent)).astype(np.float32)
        numpy_edges = frnn.radius_graph_cpu(latent, r, 0.6, 12, compiled=False)
        compiled_edges = frnn.radius_graph_cpu(latent, r, 0.6, 12, compiled=True)
        assert compiled_edges.shape[1] > 100_000
        if latent is smooth:
            np.testing.assert_array_equal(numpy_edges, compiled_edges)
        else:
            np.testing.assert_array_equal(compiled_edges, _kept_pairs_by_rows(latent, r, 0.6, 12))
            assert not np.array_equal(numpy_edges, compiled_edges)


@pytest.mark.parametrize("most_targets", [3, 40, 300])
def test_sorted_unique_sorts_short_and_long_rows_and_drops_doubles(most_targets):
    """Each source's targets are sorted by insertion while few, by NumPy's sort beyond 64."""
    from acts_gnn.cuda._frnn_select import sorted_unique

    rng = np.random.default_rng(most_targets)
    n = 500
    source = rng.integers(0, n, 20_000)
    source[:most_targets] = 7  # one source with many targets (a hub)
    target = rng.integers(0, most_targets, source.size) * 3 % n
    expected = np.unique(np.stack([source, target]), axis=1)
    got = sorted_unique(source.astype(np.int64), target.astype(np.int64), n)
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(got[0] == 7) == np.unique(target[source == 7]).size
