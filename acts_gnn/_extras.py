"""Import optional dependencies with an error that says how to install them.

Layer: bottom (next to ``errors``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from acts_gnn.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the ``extra`` to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
