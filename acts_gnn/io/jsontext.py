"""JSON text as every report of acts-gnn writes it: strict JSON, non-finite numbers as null.

Layer: io (standard library only).
"""

from __future__ import annotations

import json
import math

__all__ = ["json_ready", "json_text"]


def json_ready(value: object) -> object:
    """``value`` with every NaN and ±inf float replaced by None (tuples become lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def json_text(value: object) -> str:
    """Indented JSON text ending in a newline; non-finite numbers written as null."""
    return json.dumps(json_ready(value), indent=2, allow_nan=False) + "\n"
