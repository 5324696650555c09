"""The compiled CPU engine: the same logits as the torch modules, and the same labels."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from acts_gnn.errors import ConfigError
from acts_gnn.gnn.compiled import (
    TILE,
    EdgeNetwork,
    edges_by_node,
    embed,
    filter_inputs,
    filter_scores,
    gnn_logits,
    kernels_cached,
    silu,
)
from acts_gnn.gnn.geometry import edge_inputs, point_eta
from acts_gnn.gnn.models import (
    EmbeddingConfig,
    EmbeddingMLP,
    FilterConfig,
    FilterMLP,
    GNNConfig,
    InteractionGNN,
    mlp,
)
from acts_gnn.gnn.pipeline import Pipeline
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events
from tests.gnn.features import random_features


def _randomised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter drawn at random (LayerNorms too, which start at exactly 1 and 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return module.eval()


def _silu_reference(t: np.ndarray) -> np.ndarray:
    """SiLU in float64 without an overflow or invalid operation anywhere on the line (torch's
    own, on ±1e30, raised one in an OpenMP worker that an ACTS test had left trapping them)."""
    t = t.astype(np.float64)
    with np.errstate(under="ignore"):
        small = np.exp(-np.abs(t))  # in (0, 1]
    return t * np.where(t >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def test_silu_matches_the_definition_on_the_whole_line():
    t = np.concatenate([np.linspace(-40, 40, 200_001), [-1e30, -1e4, 0.0, 1e4, 1e30]])
    t = t.astype(np.float32)
    middle = np.linspace(-8, 8, 1001, dtype=np.float32)
    np.testing.assert_allclose(
        _silu_reference(middle), torch.nn.functional.silu(torch.from_numpy(middle).double())
    )
    expected = _silu_reference(t)
    error = np.abs(silu(t) - expected) / np.maximum(1.0, np.abs(expected))
    assert error.max() < 3e-6  # float32: 2.0e-6 measured


@pytest.mark.parametrize("n_edges", [0, 1, 3, 4, TILE - 1, TILE + 5, 1000])
@pytest.mark.parametrize(
    "sizes", [[16 + 2 * 5, 16, 16], [2 * 5 + 7, 12, 12, 12, 1], [22, 8, 1], [13, 40, 40, 3]]
)
def test_an_edge_network_equals_its_module(n_edges, sizes):
    head = sizes[-1] != sizes[-2]
    net = _randomised(mlp(sizes, output_activation=not head), seed=n_edges)
    g = torch.Generator().manual_seed(1)
    nodes = torch.randn(40, 5, generator=g)
    edges = torch.randint(0, 40, (2, n_edges), generator=g)
    rest = torch.randn(n_edges, sizes[0] - 10, generator=g)
    expected = net(torch.cat([nodes[edges[0]], nodes[edges[1]], rest], dim=1)).detach()
    got = EdgeNetwork.of(net, 5).run(nodes, edges[0].numpy(), edges[1].numpy(), rest.numpy())
    if sizes[-1] == 1:
        expected = expected.squeeze(1)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("n_edges", [0, 1, 5000])
def test_edges_by_node_are_a_stable_sort(n_edges):
    index = np.random.default_rng(n_edges).integers(0, 40, n_edges)
    order, offsets = edges_by_node(index, 50)  # nodes 40 … 49 have no edge
    np.testing.assert_array_equal(order, np.argsort(index, kind="stable"))
    np.testing.assert_array_equal(offsets, np.r_[0, np.cumsum(np.bincount(index, minlength=50))])


def test_a_residual_network_updates_its_input_in_place():
    net = _randomised(mlp([3 * 8, 8, 8], output_activation=True), seed=3)
    g = torch.Generator().manual_seed(2)
    nodes, state = torch.randn(10, 8, generator=g), torch.randn(50, 8, generator=g)
    edges = torch.randint(0, 10, (2, 50), generator=g)
    expected = state + net(torch.cat([nodes[edges[0]], nodes[edges[1]], state], dim=1)).detach()
    e = state.numpy().copy()
    out = EdgeNetwork.of(net, 8).run(nodes, edges[0].numpy(), edges[1].numpy(), e, e, True)
    assert out is e
    np.testing.assert_allclose(e, expected.numpy(), rtol=1e-5, atol=2e-5)


def test_other_network_shapes_are_refused():
    with pytest.raises(ValueError, match="compiled inference needs"):
        EdgeNetwork.of(mlp([20, 1]), 5)  # no hidden layer
    with pytest.raises(ValueError, match="one hidden width"):
        EdgeNetwork.of(mlp([20, 8, 4], output_activation=True), 5)
    with pytest.raises(ValueError, match="compiled inference needs"):
        EdgeNetwork.of(torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.ReLU()), 5)


@pytest.mark.parametrize(
    "config",
    # 48: the shipped width (AVX-512: eight-row blocks, node sums three vectors at a time);
    # 32: whole vectors, summed one at a time; 12: no whole vector
    [GNNConfig(16, 2, 2), GNNConfig(12, 3, 3), GNNConfig(48, 2, 2), GNNConfig(32, 1, 3)],
)
def test_the_gnn_logits_equal_the_modules(config):
    torch.manual_seed(0)
    gnn = _randomised(InteractionGNN(config), seed=config.hidden)
    x = random_features(300)
    edges = torch.randint(0, 300, (2, 2000))
    edges = edges[:, torch.argsort(edges[0] * 300 + edges[1])]  # as K1 gives them
    with torch.inference_mode():
        expected = gnn(x, edges)
        got = gnn_logits(gnn, x, edges)
        assert gnn_logits(gnn, x, torch.zeros((2, 0), dtype=torch.long)).shape == (0,)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("config", [EmbeddingConfig(24, 2, 5), EmbeddingConfig(128, 3, 8)])
def test_the_embedding_equals_its_module(config):
    net = _randomised(EmbeddingMLP(config), seed=config.hidden)
    x = random_features(3001, seed=2)  # not a whole number of tiles
    with torch.inference_mode():
        expected = net(x)
        got = embed(net, x)
        assert embed(net, x[:0]).shape == (0, config.latent_dim)
    assert got.shape == (3001, config.latent_dim)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


def test_the_gnn_logits_do_not_depend_on_the_thread_count():
    gnn = _randomised(InteractionGNN(GNNConfig(16, 2, 2)), seed=5)
    x, edges = random_features(500), torch.randint(0, 500, (2, 5000))
    threads = torch.get_num_threads()
    try:
        with torch.inference_mode():
            torch.set_num_threads(1)
            one = gnn_logits(gnn, x, edges)
            torch.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
            two = gnn_logits(gnn, x, edges)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_the_filter_inputs_equal_the_geometry_module():
    x = random_features(300)
    x[:20, 0] = x[20:40, 0]  # Δr = 0 on some edges: the ±1 mm guard
    x[:10, 1], x[20:30, 1] = 0.999, -0.999  # φ across ±π
    latent = torch.randn(300, 4)
    edges = torch.cat([torch.stack([torch.arange(20), torch.arange(20, 40)])] * 2, dim=1)
    edges = torch.cat([edges, torch.randint(0, 300, (2, 2000))], dim=1)
    src, dst = edges[0].numpy(), edges[1].numpy()
    rest = np.full((edges.shape[1], 7), np.nan, np.float32)
    filter_inputs(x.numpy(), point_eta(x).numpy(), latent.numpy(), src, dst, True, rest)
    distance = (latent[edges[0]] - latent[edges[1]]).norm(dim=1, keepdim=True)
    expected = torch.cat([edge_inputs(x, edges), distance], dim=1).numpy()
    np.testing.assert_allclose(rest, expected, rtol=1e-5, atol=1e-6)
    gnn_rest = np.full((edges.shape[1], 6), np.nan, np.float32)  # the GNN's: no distance
    filter_inputs(x.numpy(), point_eta(x).numpy(), latent.numpy(), src, dst, False, gnn_rest)
    assert np.array_equal(gnn_rest, rest[:, :6])


@pytest.mark.parametrize("max_inverse_pt", [None, 1.0])
@pytest.mark.parametrize("latent_distance", [True, False])
def test_the_filter_scores_equal_the_modules(max_inverse_pt, latent_distance):
    net = _randomised(FilterMLP(FilterConfig(hidden=16, use_latent_distance=latent_distance)), 7)
    x = random_features(400)
    latent = torch.randn(400, 4)
    edges = torch.randint(0, 400, (2, 3000))
    with torch.inference_mode():
        expected = net.scores_in_chunks(x, edges, latent, 1000, max_inverse_pt)
        got = filter_scores(net, x, edges, latent, max_inverse_pt)
    if max_inverse_pt is not None:
        assert 0 < int((expected == 0).sum()) < 3000  # the pre-selection did drop some
        assert torch.equal(got == 0, expected == 0)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_both_engines_give_the_example_event_the_same_labels():
    (event,) = list(open_events([example_dir()]))
    features = event.features()
    compiled, modules = Pipeline(device="cpu"), Pipeline(device="cpu", engine="torch")
    assert (compiled.engine, modules.engine) == ("compiled", "torch")
    a, b = compiled.run_scores(features), modules.run_scores(features)
    assert np.array_equal(a.edges, b.edges)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    assert np.array_equal(a.labels_at(), b.labels_at())
    # the kernels have run, so Numba's cache holds them: no compiling next time
    assert kernels_cached() and not compiled.compiles_first and not modules.compiles_first


def test_an_empty_numba_cache_is_seen(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "from acts_gnn.gnn.compiled import kernels_cached; "
        "from acts_gnn.gnn.pipeline import Pipeline; "
        "print(kernels_cached(), Pipeline(device='cpu').compiles_first, "
        "Pipeline(device='cpu', engine='torch').compiles_first)"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "empty")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True", "False"]


def test_an_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="engine must be 'compiled' or 'torch', got 'onnx'"):
        Pipeline(device="cpu", engine="onnx")


def _bf16(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bf16 (ties to even), as float32."""
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("h_in", [7, 48, 64, 144])  # odd: float by float; else vector pairs
@pytest.mark.parametrize("h_out", [48, 64, 80])  # 8 rows × 3 vectors; 4 × 2; 4 × 2 and 4 × 1
def test_bf16_products_are_float32_sums_of_exact_bf16_products(h_in, h_out):
    """Each output: the bias, then per pair of inputs + x₁w₁, + x₀w₀, each rounded to float32 —
    AVX-512's vdpbf16ps, or the same operations where the CPU has not got it."""
    from acts_gnn.gnn.compiled import _pair_columns, _pairs, _times_bf16, bf16_pairs
    from acts_gnn.simd import LANES

    if LANES != 16:
        pytest.skip("the bf16 products run on AVX-512 CPUs only")
    rng = np.random.default_rng(h_in * h_out)
    rows = 16
    x = rng.normal(size=(rows, h_in)).astype(np.float32)  # far from denormals, which it flushes
    w = (rng.normal(size=(h_in, h_out)) / 5).astype(np.float32)
    b = rng.normal(size=(1, h_out)).astype(np.float32)
    wp = bf16_pairs(w)
    assert wp.shape == (-(-h_in // 2), h_out) and wp.dtype == np.uint32
    xb = np.zeros((rows, _pair_columns(wp, np.zeros((0, 0, 0), np.uint32))), np.uint32)
    _pairs(x, rows, xb, wp.shape[0])
    y = np.full((rows, h_out), np.nan, np.float32)
    _times_bf16(xb, rows, wp, b, y)
    xs = np.concatenate([_bf16(x), np.zeros((rows, h_in % 2), np.float32)], axis=1)
    ws = np.concatenate([_bf16(w), np.zeros((h_in % 2, h_out), np.float32)])
    expected = np.repeat(b, rows, axis=0)
    for j in range(0, xs.shape[1], 2):
        expected = expected + xs[:, j + 1 : j + 2] * ws[j + 1]  # float32 throughout
        expected = expected + xs[:, j : j + 1] * ws[j]
    np.testing.assert_array_equal(y, expected)
    assert np.abs(y - (b + x @ w)).max() < 0.05  # and near the float32 product


def _with_bf16():
    from acts_gnn.simd import HAS_BF16

    if not HAS_BF16:
        pytest.skip("this CPU has no AVX-512 BF16 (avx512_bf16)")


def test_bf16_networks_are_near_their_modules():
    _with_bf16()
    torch.manual_seed(0)
    gnn = _randomised(InteractionGNN(GNNConfig(48, 2, 2)), seed=48)
    net = _randomised(FilterMLP(FilterConfig(hidden=64)), 7)
    x = random_features(300)
    edges = torch.randint(0, 300, (2, 2000))
    edges = edges[:, torch.argsort(edges[0] * 300 + edges[1])]
    latent = torch.randn(300, 4)
    with torch.inference_mode():
        fp32, bf16 = gnn_logits(gnn, x, edges), gnn_logits(gnn, x, edges, bf16=True)
        f32, fb16 = (filter_scores(net, x, edges, latent, bf16=b) for b in (False, True))
    assert not torch.equal(fp32, bf16)  # rounded: not the float32 logits …
    assert (fp32 - bf16).abs().max() < 0.1 * fp32.abs().max()  # … but near them
    assert 0 < (f32 - fb16).abs().max() < 0.02


def test_bf16_on_the_cpu_finds_the_example_events_tracks():
    _with_bf16()
    (event,) = list(open_events([example_dir()]))
    fp32, bf16 = Pipeline(device="cpu"), Pipeline(device="cpu", precision="bf16")
    a, b = fp32.run_scores(event.features()), bf16.run_scores(event.features())
    # a few of the filter's decisions near its cut move (15 of 14,645 edges when written) …
    moved = {*map(tuple, a.edges.T)} ^ {*map(tuple, b.edges.T)}
    assert 0 < len(moved) < 0.002 * a.edges.shape[1]

    def candidates(labels: np.ndarray) -> set[tuple[int, ...]]:
        return {tuple(np.flatnonzero(labels == c)) for c in np.unique(labels[labels >= 0])}

    # … and nearly every candidate is the same set of points (171 of 176 when written)
    ours, theirs = candidates(a.labels_at()), candidates(b.labels_at())
    assert len(ours & theirs) >= 0.95 * len(ours) and abs(len(ours) - len(theirs)) <= 2


def test_reduced_precision_the_cpu_cannot_run_is_refused(monkeypatch):
    import acts_gnn.simd

    for precision, engine, message in (
        ("tf32", None, "precision 'tf32' needs a GPU (on the CPU: fp32, or bf16)"),
        ("bf16", "torch", "precision 'bf16' on the CPU runs in the compiled engine only"),
    ):
        with pytest.raises(ConfigError) as refused:
            Pipeline(device="cpu", engine=engine, precision=precision)
        assert str(refused.value) == message
    monkeypatch.setattr(acts_gnn.simd, "HAS_BF16", False)
    monkeypatch.setattr(acts_gnn.simd, "BF16_MISSING", "this CPU has no AVX-512 BF16 (avx512_bf16)")
    with pytest.raises(ConfigError) as refused:
        Pipeline(device="cpu", precision="bf16")
    assert str(refused.value) == (
        "precision 'bf16' does not run on this CPU: this CPU has no AVX-512 BF16 (avx512_bf16)"
    )


def test_bf16_rounding_keeps_a_nan_and_a_rest_of_another_width_is_refused():
    from acts_gnn.gnn.compiled import bf16_pairs

    nans = np.array([[np.nan], [1.0]], np.float32)
    nans[0, 0] = np.frombuffer(np.uint32(0x7FFFFFFF).tobytes(), np.float32)[0]  # its payload
    assert hex(int(bf16_pairs(nans)[0, 0])) == "0x3f807fc0"  # not 0x3f808000: −0 beside 1.0
    net = EdgeNetwork.of(_randomised(mlp([3 * 8, 8, 8], output_activation=True), seed=3), 8)
    with pytest.raises(ValueError, match=r"^rest has 9 columns, the network takes 8$"):
        net.run(torch.zeros(4, 8), np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros((2, 9)))
