"""Model shapes, the training loss going down, bundles loading with weights_only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from acts_gnn.errors import BundleError
from acts_gnn.gnn.bundle import ModelBundle, PipelineConfig
from acts_gnn.gnn.geometry import open_ends
from acts_gnn.gnn.models import (
    EmbeddingConfig,
    EmbeddingMLP,
    FilterConfig,
    FilterMLP,
    GNNConfig,
    InteractionGNN,
    edge_inputs,
    node_inputs,
)
from acts_gnn.gnn.records import TrainingRecord
from tests.gnn.features import random_features


def test_shapes():
    x = random_features(50)
    edges = torch.randint(0, 50, (2, 120))
    assert EmbeddingMLP(EmbeddingConfig(latent_dim=8)).forward(x).shape == (50, 8)
    assert FilterMLP().forward(x, edges, torch.rand(120)).shape == (120,)
    assert FilterMLP(FilterConfig(use_latent_distance=False)).forward(x, edges).shape == (120,)
    gnn = InteractionGNN(GNNConfig(hidden=16, iterations=3))
    out = gnn(x, edges)
    assert out.shape == (120,) and out.dtype == torch.float32
    assert gnn(x, torch.zeros((2, 0), dtype=torch.long)).shape == (0,)


def test_one_training_step_lowers_the_loss():
    torch.manual_seed(0)
    x = random_features(200)
    edges = torch.randint(0, 200, (2, 600))
    truth = (x[edges[0], 1] - x[edges[1], 1]).abs() < 0.3  # a learnable rule
    model = InteractionGNN(GNNConfig(hidden=16, iterations=2))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    before = loss_fn(model(x, edges), truth.float()).item()
    for _ in range(5):
        loss = loss_fn(model(x, edges), truth.float())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = loss_fn(model(x, edges), truth.float()).item()
    assert after < before


def test_bundle_round_trip_and_weights_only(tmp_path, monkeypatch):
    bundle = ModelBundle(
        embedding=EmbeddingMLP(EmbeddingConfig(hidden=8)),
        filter=FilterMLP(FilterConfig(hidden=8)),
        gnn=InteractionGNN(GNNConfig(hidden=8, iterations=2)),
        pipeline=PipelineConfig(radius=0.7, gnn_cut=0.6),
        training=TrainingRecord(config={"seed": 3}),
    )
    bundle.save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert meta["schema_version"] == 1
    assert meta["pipeline"]["radius"] == 0.7
    assert meta["models"]["gnn"] == {"hidden": 8, "iterations": 2, "mlp_layers": 2}
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = ModelBundle.load(tmp_path / "b")
    assert calls == [True, True, True]
    x = random_features(20)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded.embedding(x).numpy(), bundle.embedding(x).numpy())
    assert loaded.pipeline == bundle.pipeline


def test_bundle_errors(tmp_path):
    with pytest.raises(BundleError, match="not a model bundle"):
        ModelBundle.load(tmp_path)
    (tmp_path / "bundle.json").write_text('{"schema_version": 99}')
    with pytest.raises(BundleError, match="schema version 99"):
        ModelBundle.load(tmp_path)
    with pytest.raises(BundleError, match="track_builder must be"):
        PipelineConfig(track_builder="magic")
    # a weights file that is not one: the file, and what it is not
    import shutil

    from acts_gnn.gnn.bundle import default_bundle_dir

    broken = tmp_path / "broken"
    shutil.copytree(default_bundle_dir(), broken)
    (broken / "gnn.pt").write_text("garbage\n")
    with pytest.raises(BundleError) as info:
        ModelBundle.load(broken)
    assert str(info.value) == (  # torch's own advice (load it with weights_only=False) left out
        f"{broken / 'gnn.pt'}: cannot load weights: not a file of tensors alone, which is all "
        "acts-gnn loads (Unsupported operand 103)"
    )
    torch.save({"weight": _NotATensor()}, broken / "gnn.pt")  # a pickle that would run code
    with pytest.raises(BundleError) as info:
        ModelBundle.load(broken)
    assert str(info.value) == (
        f"{broken / 'gnn.pt'}: cannot load weights: not a file of tensors alone, which is all "
        f"acts-gnn loads (Unsupported global: GLOBAL {__name__}._NotATensor)"
    )
    torch.save({"weight": torch.zeros(3)}, broken / "gnn.pt")  # tensors, of another model
    with pytest.raises(BundleError) as info:
        ModelBundle.load(broken)
    assert str(info.value).startswith(
        f"{broken / 'gnn.pt'}: cannot load weights: not a PyTorch state dict of this model ("
    )


class _NotATensor:
    """What a weights file must not hold: an object of a class (unpickling it runs code)."""


def _broken_copy(tmp_path, edit=None):
    """A copy of the shipped bundle, its ``bundle.json`` changed by ``edit(meta)``."""
    import json
    import shutil

    from acts_gnn.gnn.bundle import default_bundle_dir

    copy = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), copy)
    if edit is not None:
        meta = json.loads((copy / "bundle.json").read_text())
        edit(meta)
        (copy / "bundle.json").write_text(json.dumps(meta))
    return copy


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda m: m["pipeline"].update(radius="abc"),
            "radius must be a number in (0, ∞), got 'abc'",
        ),
        (lambda m: m["pipeline"].update(radius=-1), "radius must be a number in (0, ∞), got -1"),
        (
            lambda m: m["pipeline"].update(gnn_cut="high"),
            "gnn_cut must be a number in [0, 1], got 'high'",
        ),
        (
            lambda m: m["pipeline"].update(filter_cut=2),
            "filter_cut must be a number in [0, 1], got 2",
        ),
        (
            lambda m: m["pipeline"].update(walk_cut=None),
            "walk_cut must be a number in [0, 1], got None",
        ),
        (
            lambda m: m["pipeline"].update(max_neighbours=12.5),
            "max_neighbours must be an integer of at least 1, got 12.5",
        ),
        (
            lambda m: m["models"]["embedding"].update(hidden=-1),
            "models.embedding.hidden must be an integer of at least 1, got -1",
        ),
        (  # read as written, these would scale the features otherwise than the code does
            lambda m: m["feature_scales"].update(z=3000.0),
            'feature_scales {"r": 1000.0, "phi": "pi", "z": 3000.0}, but this acts-gnn scales '
            'the features as {"r": 1000.0, "phi": "pi", "z": 1000.0}',
        ),
        (
            lambda m: m["weights"].update(gnn="gnn-v2.pt"),
            'weights {"embedding": "embedding.pt", "filter": "filter.pt", "gnn": "gnn-v2.pt", '
            '"quality": "quality.pt"}; this acts-gnn reads {"embedding": "embedding.pt", '
            '"filter": "filter.pt", "gnn": "gnn.pt", "quality": "quality.pt"}',
        ),
    ],
    ids=[
        "radius-text",
        "radius-negative",
        "cut-text",
        "cut-above-1",
        "cut-null",
        "k-fraction",
        "hidden",
        "feature-scales",
        "weights-names",
    ],
)
def test_bundle_settings_out_of_range_are_named(tmp_path, edit, expected):
    """Each was an internal error deep in the pipeline, or zero tracks without a word."""
    copy = _broken_copy(tmp_path, edit)
    with pytest.raises(BundleError) as info:
        ModelBundle.load(copy)
    assert str(info.value) == f"{copy / 'bundle.json'}: {expected}"


def test_bundle_files_that_are_no_bundle_are_named(tmp_path):
    copy = _broken_copy(tmp_path)
    (copy / "bundle.json").write_text("[1, 2]")
    with pytest.raises(BundleError, match=r"bundle.json: expected a JSON object, found list$"):
        ModelBundle.load(copy)
    (copy / "bundle.json").write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(BundleError, match=r"bundle.json: invalid JSON \("):
        ModelBundle.load(copy)
    copy = _broken_copy(tmp_path / "nan")
    state = torch.load(copy / "gnn.pt", weights_only=True)
    first = next(iter(state))
    state[first] = torch.full_like(state[first], float("nan"))
    torch.save(state, copy / "gnn.pt")
    with pytest.raises(BundleError) as info:
        ModelBundle.load(copy)
    assert str(info.value) == f"{copy / 'gnn.pt'}: holds weights that are NaN or infinite"
    state = torch.load(copy / "filter.pt", weights_only=True)
    state[next(iter(state))] = torch.zeros(3)
    torch.save(state, copy / "filter.pt")
    with pytest.raises(BundleError, match="size mismatch for"):  # torch's second line: which
        ModelBundle.load(copy)


def _gnn_by_concatenation(model: InteractionGNN, features, edges) -> torch.Tensor:
    """The interaction GNN as written in its docstring: each edge network on [x_src, x_dst, e]."""
    src, dst = edges
    x = model.node_encoder(node_inputs(features))
    e = model.edge_encoder(torch.cat([x[src], x[dst], edge_inputs(features, edges)], dim=1))
    for _ in range(model.config.iterations):
        e = e + model.edge_update(torch.cat([x[src], x[dst], e], dim=1))
        incoming = torch.zeros_like(x).index_add_(0, dst, e)
        outgoing = torch.zeros_like(x).index_add_(0, src, e)
        x = x + model.node_update(torch.cat([x, incoming, outgoing], dim=1))
    return model.decoder(torch.cat([x[src], x[dst], e], dim=1)).squeeze(1)


@pytest.mark.parametrize("chunk", [None, 7, 1000])
def test_gnn_equals_its_concatenated_form(chunk):
    torch.manual_seed(3)
    n, m = 60, 250
    features = random_features(n)
    edges = torch.randint(0, n, (2, m))
    for config in (
        GNNConfig(hidden=16, iterations=3),
        GNNConfig(hidden=8, iterations=1, mlp_layers=1),
    ):
        model = InteractionGNN(config).eval()
        with torch.no_grad():
            got = model(features, edges, chunk_edges=chunk)
            expected = _gnn_by_concatenation(model, features, edges)
        assert got.shape == (m,)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    empty = torch.zeros((2, 0), dtype=torch.long)
    with torch.no_grad():
        assert model(features, empty, chunk_edges=chunk).shape == (0,)


def test_the_models_load_and_run_without_torch_geometric_or_temporary_files(tmp_path):
    # torch_geometric's message passing wrote a generated module into the temporary directory in
    # every process that built the GNN and never removed it; the models are plain torch now
    script = (
        "import sys, torch\n"
        "from acts_gnn.gnn.bundle import ModelBundle\n"
        "b = ModelBundle.load()\n"
        "x = torch.rand(50, 3) * torch.tensor([1.0, 2.0, 2.0]) - torch.tensor([0.0, 1.0, 1.0])\n"
        "with torch.no_grad():\n"
        "    assert b.gnn(x, torch.randint(0, 50, (2, 200))).shape == (200,)\n"
        "print(sorted(m for m in sys.modules if m.startswith('torch_geometric')))\n"
    )
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert list(temporary.iterdir()) == []


def _points(*rz: tuple[float, float]) -> torch.Tensor:
    """Contract features of points at (r, z) [m], φ = 0."""
    return torch.tensor([[r, 0.0, z] for r, z in rz])


def test_open_ends_say_where_the_region_beyond_is_not_read():
    # pixel barrel |z| < 0.545 m, strip barrels |z| < 1.15 m; endcaps beyond, on either side
    barrel = [(0.1, 0.3), (0.1, -0.5), (0.5, 1.1), (0.9, -1.0)]
    forward, backward = [(0.1, 0.6), (0.5, 1.2)], [(0.1, -0.6), (0.9, -2.0)]
    whole = _points(*barrel, *forward, *backward)
    assert open_ends(whole).tolist() == [0.0] * 8
    # the barrel alone: every track ends at its edge
    assert open_ends(_points(*barrel)).tolist() == [1.0] * 4
    # the barrel and the endcaps at z > 0: barrel points at z < 0 lead nowhere read
    assert open_ends(_points(*barrel, *forward)).tolist() == [0, 1, 0, 1, 0, 0]
    # one side's endcaps alone: the barrel beyond them is not read
    assert open_ends(_points(*backward)).tolist() == [1.0, 1.0]
    # a region with under 1% of the points is not read: one stray point among 201, not three
    # among 203
    stray = _points(*barrel * 50, (0.1, 0.6))
    assert open_ends(stray).tolist() == [1.0] * 200 + [0.0]
    three = _points(*barrel * 50, *[(0.1, 0.6)] * 3)
    assert open_ends(three).tolist() == [0, 1, 0, 1] * 50 + [0, 0, 0]
