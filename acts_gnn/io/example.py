"""The example event embedded in the package (made with real ACTS, see its README).

Layer: io.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_dir"]


def example_dir() -> Path:
    """Directory of the embedded example event (ACTS CSV, with truth)."""
    return Path(__file__).resolve().parent.parent / "data" / "example"
