"""The Numba CUDA kernels equal their CPU twins exactly (CUDASIM here; real GPU with ``gpu``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip(
    "numba.cuda", reason="numba-cuda is not installed (pip install 'acts-gnn[cuda]')"
)

from numba import cuda  # tests/cuda/conftest.py has picked the target (simulator or GPU)

from acts_gnn.cuda.components import connected_components_cpu
from acts_gnn.cuda.components_cuda import connected_components_cuda
from acts_gnn.cuda.frnn import radius_graph_cpu
from acts_gnn.cuda.frnn_cuda import radius_graph_cuda
from acts_gnn.result import canonical_labels

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@pytest.mark.parametrize(
    ("n", "dim", "radius", "k", "seed"),
    [
        (400, 8, 2.5, 5, 0),
        (300, 3, 0.4, 64, 1),
        (250, 8, 10.0, 1, 2),
    ],
)
def test_k1_random_points_equal_cpu(n, dim, radius, k, seed):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, dim)).astype(np.float32)
    r = rng.uniform(30, 1000, n).astype(np.float32)
    np.testing.assert_array_equal(
        radius_graph_cuda(latent, r, radius, k), radius_graph_cpu(latent, r, radius, k)
    )


@pytest.mark.parametrize(
    ("case", "radius", "k"),
    [("clusters", 0.3, 6), ("spread", 0.05, 3), ("one_dimension", 0.2, 4), ("lattice", 1.0, 4)],
)
def test_k1_grid_equals_brute_force_and_cpu(case, radius, k):
    """Dense clusters (many points per cell), a spread that makes the cells grow, a 1-D latent,
    and a lattice of exact ties at the radius and at the k-th neighbour."""
    rng = np.random.default_rng(7)
    if case == "clusters":
        centres = rng.normal(scale=3.0, size=(6, 4))
        latent = centres[rng.integers(0, 6, 360)] + rng.normal(scale=0.15, size=(360, 4))
    elif case == "spread":
        latent = rng.uniform(-500, 500, size=(200, 3))
    elif case == "one_dimension":
        latent = rng.normal(size=(150, 1))
    else:
        latent = np.stack(np.meshgrid(np.arange(12), np.arange(12)), -1).reshape(-1, 2) * 1.0
    latent = latent.astype(np.float32)
    r = rng.uniform(30, 1000, latent.shape[0]).astype(np.float32)
    cpu = radius_graph_cpu(latent, r, radius, k)
    np.testing.assert_array_equal(radius_graph_cuda(latent, r, radius, k), cpu)
    np.testing.assert_array_equal(radius_graph_cuda(latent, r, radius, k, method="brute"), cpu)


def test_k1_ties_and_empty_inputs():
    latent = np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1], [0, 0]], dtype=np.float32)
    r = np.array([500, 100, 600, 700, 800, 50], dtype=np.float32)
    for k in (1, 2, 3, 8):
        np.testing.assert_array_equal(
            radius_graph_cuda(latent, r, 1.5, k), radius_graph_cpu(latent, r, 1.5, k)
        )
    assert radius_graph_cuda(np.zeros((0, 8), np.float32), np.zeros(0, np.float32), 1, 4).shape == (
        2,
        0,
    )
    assert radius_graph_cuda(np.zeros((1, 8), np.float32), np.zeros(1, np.float32), 1, 4).shape == (
        2,
        0,
    )


def test_k1_on_latents_of_the_default_model():
    import torch

    from acts_gnn.gnn.bundle import ModelBundle
    from acts_gnn.io.example import example_dir
    from acts_gnn.io.source import open_events

    (event,) = list(open_events([example_dir()]))
    features = event.features()
    # a slice in φ of the example event: dense enough to hit the neighbour cap
    chosen = np.flatnonzero(np.abs(features[:, 1] - 0.3) < 0.02)[:500]
    bundle = ModelBundle.load()
    with torch.no_grad():
        latent = bundle.embedding(torch.from_numpy(features[chosen])).numpy()
    r = features[chosen, 0]
    radius, k = bundle.pipeline.radius, 8
    cpu = radius_graph_cpu(latent, r, radius, k)
    assert cpu.shape[1] > 100
    np.testing.assert_array_equal(radius_graph_cuda(latent, r, radius, k), cpu)


@pytest.mark.parametrize(("n", "e", "seed"), [(500, 400, 0), (3000, 2500, 1), (2000, 6000, 2)])
def test_k2_random_graphs_equal_cpu(n, e, seed):
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, (2, e))
    for min_size in (1, 3):
        np.testing.assert_array_equal(
            connected_components_cuda(n, edges, min_size),
            connected_components_cpu(n, edges, min_size),
        )


def test_k2_chain_and_empty():
    n = 300
    chain = np.stack([np.arange(n - 1)[::-1], np.arange(1, n)[::-1]])  # worst case for hooking
    np.testing.assert_array_equal(connected_components_cuda(n, chain), np.zeros(n, np.int64))
    np.testing.assert_array_equal(
        connected_components_cuda(4, np.zeros((2, 0), np.int64)), [0, 1, 2, 3]
    )
    assert connected_components_cuda(0, np.zeros((2, 0), np.int64)).shape == (0,)


@cuda.jit
def _one_union_per_launch(parent, src, dst):
    """A hooking kernel that joins at most one pair of components per launch (thread 0)."""
    if cuda.grid(1) != 0:
        return
    for e in range(src.shape[0]):
        a, b = src[e], dst[e]
        while parent[a] != a:
            a = parent[a]
        while parent[b] != b:
            b = parent[b]
        if a != b:
            parent[max(a, b)] = min(a, b)
            return


@cuda.jit
def _no_union(parent, src, dst):
    """A hooking kernel that joins nothing."""


def test_k2_repeats_hooking_until_every_edge_is_inside_one_component(monkeypatch):
    from acts_gnn.cuda import _components_kernels

    monkeypatch.setattr(_components_kernels, "hook", _one_union_per_launch)
    edges = np.array([[5, 4, 3, 2, 7], [6, 5, 4, 3, 8]])  # 5 unions needed: 5 passes
    np.testing.assert_array_equal(
        connected_components_cuda(10, edges), [0, 1, 2, 2, 2, 2, 2, 3, 3, 4]
    )


def test_k2_gives_up_with_a_kernel_error_when_hooking_makes_no_progress(monkeypatch):
    from acts_gnn.cuda import _components_kernels, components_cuda
    from acts_gnn.errors import KernelError

    monkeypatch.setattr(_components_kernels, "hook", _no_union)
    with pytest.raises(KernelError, match=f"after {components_cuda.MAX_ROUNDS} passes"):
        connected_components_cuda(3, np.array([[0], [1]]))


@pytest.mark.gpu
@pytest.mark.skipif(
    SIMULATED, reason="needs a real CUDA GPU (ACTS_GNN_REAL_CUDA=1, make gpu-check)"
)
@pytest.mark.parametrize("n", [10_000, 100_000, 300_000])
def test_real_gpu_sizes_equal_cpu(n):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    rng = np.random.default_rng(n)
    latent = rng.normal(size=(n, 8)).astype(np.float32)
    r = rng.uniform(30, 1000, n).astype(np.float32)
    cpu = radius_graph_cpu(latent, r, 0.5, 32)
    gpu = radius_graph_cuda(torch.from_numpy(latent).cuda(), torch.from_numpy(r).cuda(), 0.5, 32)
    np.testing.assert_array_equal(gpu.cpu().numpy(), cpu)
    edges = rng.integers(0, n, (2, n))
    gpu_labels = connected_components_cuda(n, torch.from_numpy(edges).cuda(), 3)
    np.testing.assert_array_equal(gpu_labels.cpu().numpy(), connected_components_cpu(n, edges, 3))


def _find_in(snapshot: np.ndarray, a: int) -> int:
    while snapshot[a] != a:
        a = snapshot[a]
    return a


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k2_passes_are_right_when_every_thread_sees_only_the_start_of_its_launch(seed):
    """The kernels' protocol, emulated with the stalest view CUDA allows: within a launch every
    thread reads ``parent`` as it was when the launch began (no other thread's write), and writes
    with atomic min. The passes still end, on the CPU's partition."""
    rng = np.random.default_rng(seed)
    n = 400
    edges = rng.integers(0, n, (2, 300))
    edges = np.concatenate([edges, np.stack([np.arange(n - 1)[::-7], np.arange(1, n)[::-7]])], 1)
    parent, passes, settled = np.arange(n), 0, False
    while not settled and passes < 200:
        passes += 1
        snapshot = parent.copy()  # hook: roots as of the launch start
        for u, v in edges.T:
            a, b = _find_in(snapshot, u), _find_in(snapshot, v)
            if a != b:
                parent[max(a, b)] = min(parent[max(a, b)], min(a, b))
        snapshot = parent.copy()  # compress
        parent = np.minimum(parent, [_find_in(snapshot, i) for i in range(n)])
        settled = bool((parent[edges[0]] == parent[edges[1]]).all())  # check, after the launches
    assert settled and passes < 50
    np.testing.assert_array_equal(canonical_labels(parent), connected_components_cpu(n, edges, 1))
