"""The one device resolver: argument → ``ACTS_GNN_DEVICE`` environment variable → CUDA if present.

Layer: cuda.
"""

from __future__ import annotations

import os
import re

from acts_gnn.errors import ConfigError

__all__ = ["resolve_device", "service_device"]


def resolve_device(device: str | None = None) -> str:
    """The torch device string to run on (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Raises:
        ConfigError: a CUDA device was asked for but none (or not that one) is available, or
            the name is unknown.
    """
    import torch

    if device is not None and not isinstance(device, str):  # an index: re would raise TypeError
        raise ConfigError(f"device must be a name (cpu, cuda, cuda:N or auto), got {device!r}")
    name = device or os.environ.get("ACTS_GNN_DEVICE") or ""
    # where a wrong name came from, when it was not the option
    origin = "" if device else " (from ACTS_GNN_DEVICE)"
    if not name or name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    cuda = re.fullmatch(r"cuda(?::(\d+))?", name)
    if cuda is None:
        raise ConfigError(f"unknown device {name!r}{origin}; use cpu, cuda, cuda:N or auto")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}{origin} requested but torch sees no CUDA device")
    count = torch.cuda.device_count()
    if cuda[1] is not None and int(cuda[1]) >= count:
        raise ConfigError(
            f"device {name!r}{origin} requested but torch sees {count} CUDA device(s): "
            f"cuda:0 to cuda:{count - 1}"
        )
    return name


def service_device(device: str | None = None, uses_device: bool = True) -> str:
    """The device of a server or a benchmark: ``device`` as given (resolved where it is used),
    else ``ACTS_GNN_DEVICE`` resolved (a bad one refused, naming the variable), else the CPU —
    unlike :func:`resolve_device`, a service takes a GPU only when asked. ``uses_device``
    False (no GNN model among those served): the CPU, whatever the variable says, as
    ``reconstruct`` ignores it for such a finder.

    Raises:
        ConfigError: a bad ``ACTS_GNN_DEVICE``, as :func:`resolve_device`.
    """
    if device:
        return device
    if not uses_device or not os.environ.get("ACTS_GNN_DEVICE"):
        return "cpu"
    return resolve_device(None)
