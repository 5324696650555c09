"""Candidate-quality selection: a small network that drops candidates that look like fakes.

Layer: gnn.

Most fakes of the GNN pipeline are **fragments**: more than half of their points are one
particle's, but not more than half of that particle's points — pieces of particles just below the
target pT that the edge classifiers, trained to neither keep nor drop such edges, follow for a
while and then lose (``benchmarks/loss_breakdown.py``). A fragment looks different from a whole
track: it ends where its particle goes on (edges above chance leave it), it spans few layers, its
curvature is that of a soft particle. :class:`QualityMLP` scores each candidate from
:data:`CANDIDATE_INPUTS`, computed by :func:`candidate_inputs` from the space points and the
scored graph; :func:`drop_candidates` unassigns the candidates scoring above the bundle's
``quality_cut`` (the probability of being a fake).

Shapes: ``labels`` int [N] (negative: unassigned), ``features`` float32 [N, 3] (contract),
``edges`` int [2, E] with GNN ``scores`` float [E].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from acts_gnn.gnn import geometry
from acts_gnn.gnn.models import mlp
from acts_gnn.result import canonical_labels

__all__ = [
    "CANDIDATE_INPUTS",
    "OPEN_ENDS_INPUT",
    "QualityConfig",
    "QualityMLP",
    "candidate_inputs",
    "drop_candidates",
    "train_quality",
]

#: what the network sees of a candidate (one row per candidate, in this order)
CANDIDATE_INPUTS = (
    "log number of points",
    "innermost r [m]",
    "outermost r [m]",
    "|η| / 4",
    "|q/pT| of the circle through the beam line [1/GeV, ≤ 5]",
    "log10 rms distance to that circle [mm]",
    "log10 rms distance to the (r, z) line [mm]",
    "tanh(z0 of the (r, z) line / 300 mm)",
    "mean GNN score of the edges inside",
    "fraction of the edges inside above the cut",
    "best GNN score of an edge leaving the candidate",
    "log(1 + edges leaving it above 0.5)",
)
#: the input a network with ``QualityConfig.open_ends`` sees after :data:`CANDIDATE_INPUTS`
OPEN_ENDS_INPUT = "fraction of the points whose region beyond is not read (geometry.open_ends)"

#: 2 T field: pT [GeV] = 0.3 · B [T] · R [m]
_PT_PER_METRE = 0.3 * 2.0


def candidate_inputs(
    labels: np.ndarray,
    features: np.ndarray,
    edges: np.ndarray,
    scores: np.ndarray,
    cut: float,
    min_size: int,
    open_ends: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of every candidate with at least ``min_size`` points.

    Returns:
        ``(ids, inputs)``: the candidates' labels, ascending, int64 [C]; float32 [C, F] rows
        of :data:`CANDIDATE_INPUTS`, then with ``open_ends`` :data:`OPEN_ENDS_INPUT`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    ids, dense, sizes = np.unique(labels[labels >= 0], return_inverse=True, return_counts=True)
    keep = sizes >= min_size
    rank = np.full(ids.size, -1, np.int64)
    rank[keep] = np.arange(int(keep.sum()))
    c = np.full(labels.shape, -1, np.int64)
    c[labels >= 0] = rank[dense]
    n_c = int(keep.sum())
    out = np.zeros((n_c, len(CANDIDATE_INPUTS) + int(open_ends)), np.float64)
    if n_c == 0:
        return ids[keep], out.astype(np.float32)

    member = np.flatnonzero(c >= 0)
    k = c[member]
    f = features[member].astype(np.float64)
    r_m, z_m = f[:, 0], f[:, 2]  # contract r/1000 and z/1000: metres
    phi = f[:, 1] * np.pi
    x, y = r_m * np.cos(phi), r_m * np.sin(phi)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(k, weights=values, minlength=n_c)

    n = total(np.ones_like(x))
    out[:, 0] = np.log(n)
    r_min = np.full(n_c, np.inf)
    r_max = np.zeros(n_c)
    np.minimum.at(r_min, k, r_m)
    np.maximum.at(r_max, k, r_m)
    out[:, 1], out[:, 2] = r_min, r_max
    mean_r, mean_z = total(r_m) / n, total(z_m) / n
    out[:, 3] = np.abs(np.arcsinh(mean_z / np.maximum(mean_r, 1e-9))) / 4.0

    # circle through the beam line: x² + y² = 2ax + 2by, least squares in (a, b)
    w = x * x + y * y
    sxx, sxy, syy = total(x * x), total(x * y), total(y * y)
    sxw, syw = total(x * w), total(y * w)
    det = sxx * syy - sxy * sxy
    # points on one line through the beam line: an infinite circle (zero curvature)
    curved = det > 1e-9 * sxx * syy
    # divisions only where defined (`where=`): ACTS's sequencer counts any floating-point
    # exception, even one in a lane np.where would discard
    a = np.divide(sxw * syy - syw * sxy, 2 * det, out=np.zeros(n_c), where=curved)
    b = np.divide(syw * sxx - sxw * sxy, 2 * det, out=np.zeros(n_c), where=curved)
    radius = np.hypot(a, b)
    curvature = np.where(curved, 1.0 / np.maximum(radius, 1e-12), 0.0)
    out[:, 4] = np.clip(curvature / _PT_PER_METRE, 0, 5)
    # distance to the circle, or to the line through the beam line when straight
    to_circle = np.hypot(x - a[k], y - b[k]) - radius[k]
    direction = np.arctan2(total(y), total(x))[k]
    to_line = x * np.sin(direction) - y * np.cos(direction)
    d_circle = np.where(curved[k], to_circle, to_line)
    out[:, 5] = np.log10(np.sqrt(total(d_circle**2) / n) * 1e3 + 1e-3)

    # (r, z) line: z = z0 + t r
    srr, srz = total(r_m * r_m), total(r_m * z_m)
    var_r = srr / n - mean_r**2
    t = np.divide(srz / n - mean_r * mean_z, var_r, out=np.zeros(n_c), where=var_r > 1e-12)
    z0 = mean_z - t * mean_r
    d_line = z_m - (z0[k] + t[k] * r_m)
    out[:, 6] = np.log10(np.sqrt(total(d_line**2) / n) * 1e3 + 1e-3)
    out[:, 7] = np.tanh(z0 / 0.3)

    edges = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    scores = np.asarray(scores, dtype=np.float64)
    ca, cb = c[edges[0]], c[edges[1]]
    inside = (ca >= 0) & (ca == cb)
    n_inside = np.bincount(ca[inside], minlength=n_c)
    score_inside = np.bincount(ca[inside], weights=scores[inside], minlength=n_c)
    above = np.bincount(ca[inside], weights=scores[inside] > cut, minlength=n_c)
    out[:, 8] = score_inside / np.maximum(n_inside, 1)
    out[:, 9] = above / np.maximum(n_inside, 1)
    best_out = np.zeros(n_c)
    many_out = np.zeros(n_c)
    for side, other in ((ca, cb), (cb, ca)):
        leaving = (side >= 0) & (other != side)
        np.maximum.at(best_out, side[leaving], scores[leaving])
        many_out += np.bincount(side[leaving], weights=scores[leaving] > 0.5, minlength=n_c)
    out[:, 10] = best_out
    out[:, 11] = np.log1p(many_out)
    if open_ends:
        unread = geometry.open_ends(torch.from_numpy(np.ascontiguousarray(features))).numpy()
        out[:, 12] = total(unread[member].astype(np.float64)) / n
    return ids[keep], np.nan_to_num(out).astype(np.float32)


def drop_candidates(labels: np.ndarray, ids: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """``labels`` with the candidates ``ids[drop]`` unassigned, renumbered canonically."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    labels[np.isin(labels, ids[drop])] = -1
    return canonical_labels(labels)


@dataclass(frozen=True)
class QualityConfig:
    """The quality network: ``layers`` hidden layers of ``hidden`` units; with ``open_ends`` it
    also sees :data:`OPEN_ENDS_INPUT`."""

    hidden: int = 32
    layers: int = 2
    open_ends: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        """For the bundle."""
        return asdict(self)


class QualityMLP(nn.Module):
    """Candidate inputs → logit of being a fake.

    The inputs are standardised with the training sample's mean and spread, kept as buffers (so
    they travel in the state dict). Shapes: ``inputs`` float32 [C, F] → logits float32 [C].
    """

    def __init__(self, config: QualityConfig = QualityConfig()) -> None:
        super().__init__()
        self.config = config
        width = len(CANDIDATE_INPUTS) + int(config.open_ends)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("spread", torch.ones(width))
        self.net = mlp([width] + [config.hidden] * config.layers + [1])

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.net((inputs - self.mean) / self.spread).squeeze(1)

    def fake_probability(self, inputs: np.ndarray) -> np.ndarray:
        """P(fake) of each candidate row (inference)."""
        rows = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        with torch.inference_mode():
            logits = self(rows.to(self.mean.device))
            return torch.sigmoid(logits).cpu().numpy()


def train_quality(
    inputs: np.ndarray,
    fake: np.ndarray,
    config: QualityConfig = QualityConfig(),
    seed: int = 0,
    epochs: int = 200,
) -> QualityMLP:
    """Fit :class:`QualityMLP` on candidate rows ``inputs`` [C, F] and their truth ``fake`` [C].

    Full-batch Adam with a cross-entropy weighted so fakes and non-fakes count alike.
    """
    torch.manual_seed(seed)
    model = QualityMLP(config)
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    y = torch.from_numpy(np.asarray(fake, dtype=np.float32))
    if x.shape[0] == 0:
        raise ValueError("no candidates to train the quality selection on")
    model.mean.copy_(x.mean(dim=0))
    model.spread.copy_(x.std(dim=0).clamp_min(1e-6))
    positive = float(y.mean().clamp(1e-6, 1 - 1e-6))
    weight = torch.where(y > 0.5, 0.5 / positive, 0.5 / (1 - positive))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y, weight=weight)
        loss.backward()
        optimiser.step()
    return model.eval()
