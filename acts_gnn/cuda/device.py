"""The one device resolver: argument → ``ACTS_GNN_DEVICE`` environment variable → CUDA if present.

Layer: cuda.
"""

from __future__ import annotations

import os

from acts_gnn.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(device: str | None = None) -> str:
    """The torch device string to run on (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Raises:
        ConfigError: a CUDA device was asked for but none is available, or the name is unknown.
    """
    import torch

    name = device or os.environ.get("ACTS_GNN_DEVICE") or ""
    # where a wrong name came from, when it was not the option
    origin = "" if device else " (from ACTS_GNN_DEVICE)"
    if not name or name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}{origin} requested but torch sees no CUDA device")
        return name
    raise ConfigError(f"unknown device {name!r}{origin}; use cpu, cuda, cuda:N or auto")
