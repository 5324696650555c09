"""Random contract features for the model tests (shared by their modules)."""

from __future__ import annotations

import torch


def random_features(n: int, seed: int = 0) -> torch.Tensor:
    """[n, 3] (r/1000, φ/π, z/1000): r in [0.03, 1.03) m, φ anywhere, z in [-3, 3) m."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack(
        [
            torch.rand(n, generator=g) + 0.03,
            torch.rand(n, generator=g) * 2 - 1,
            torch.rand(n, generator=g) * 6 - 3,
        ],
        dim=1,
    )
