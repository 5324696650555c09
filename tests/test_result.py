"""canonical_labels: candidates numbered by their first space point, small ones dropped."""

import numpy as np
import pytest

from acts_gnn.result import canonical_labels


def reference(labels, min_size):
    """The documented rule, written the slow obvious way."""
    labels = [int(v) for v in labels]
    size = {v: labels.count(v) for v in set(labels) if v >= 0}
    order = []
    for v in labels:
        if v >= 0 and size[v] >= min_size and v not in order:
            order.append(v)
    return np.array([order.index(v) if v in order else -1 for v in labels], dtype=np.int64)


@pytest.mark.parametrize("largest", [3, 50, 10**12], ids=["few", "dense", "sparse values"])
@pytest.mark.parametrize("min_size", [1, 2, 3])
def test_random_labels_follow_the_rule(largest, min_size):
    rng = np.random.default_rng(largest + min_size)
    for _ in range(20):
        n = int(rng.integers(1, 300))
        labels = rng.integers(-1, min(largest, 3 * n), n)
        if largest > 10**6:  # a few huge values among small ones: the sorting path
            labels[rng.random(n) < 0.3] = rng.integers(10**9, largest, 1)
        got = canonical_labels(labels, min_size)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, reference(labels, min_size))


def test_the_values_a_finder_picked_do_not_matter():
    labels = np.array([7, -1, 7, 2, 10**15, 2, 10**15, -5])
    np.testing.assert_array_equal(canonical_labels(labels), [0, -1, 0, 1, 2, 1, 2, -1])
    same_partition = np.array([3, -1, 3, 9, 1, 9, 1, -2])
    np.testing.assert_array_equal(canonical_labels(same_partition), canonical_labels(labels))
    assert canonical_labels(np.full(4, -1)).tolist() == [-1, -1, -1, -1]
    assert canonical_labels(np.zeros(0, np.int64)).shape == (0,)


def test_a_run_record_reads_back_what_it_wrote_and_nothing_else():
    import json

    from acts_gnn.result import RunRecord

    record = RunRecord({"finder": "gnn"}, "a machine", "2026-12-05T00:00:00+00:00", "0.1.0", 2)
    text = json.dumps(record.to_json())
    assert list(record.to_json()) == ["acts_gnn", "started", "machine", "threads", "finder"]
    assert RunRecord.from_json(json.loads(text)) == record
    for other in ([], "run", {"finder": "gnn"}, {"finder": {}, "machine": "m"}):
        assert RunRecord.from_json(other) is None
