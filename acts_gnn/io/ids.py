"""Identifier encodings of ACTS: particle barcodes and geometry identifiers.

Layer: io.

ACTS writes a particle's barcode as five columns (``particle_id_pv``, ``_sv``, ``_part``, ``_gen``,
``_subpart``) in CSV and as ``barcode_*`` branches in ROOT. acts-gnn packs them into one uint64 in
the classic ACTS layout — vertex primary 12 bits | vertex secondary 12 | particle 16 | generation 8
| sub-particle 16 — so a particle id is one number everywhere and never 0 for a real particle.
"""

from __future__ import annotations

import numpy as np

__all__ = ["geometry_volume_layer_module", "pack_barcode"]

# (field width in bits) from the most significant end
_BARCODE_BITS = (12, 12, 16, 8, 16)


def pack_barcode(
    vertex_primary: np.ndarray,
    vertex_secondary: np.ndarray,
    particle: np.ndarray,
    generation: np.ndarray,
    sub_particle: np.ndarray,
) -> np.ndarray:
    """Pack the five barcode fields into uint64 particle ids.

    Raises:
        ValueError: a field does not fit its bit width (the message names the field).
    """
    fields = (vertex_primary, vertex_secondary, particle, generation, sub_particle)
    names = ("vertex primary", "vertex secondary", "particle", "generation", "sub-particle")
    out = np.zeros(np.asarray(particle).shape, dtype=np.uint64)
    shift = 64
    for values, bits, name in zip(fields, _BARCODE_BITS, names, strict=True):
        shift -= bits
        v = np.asarray(values, dtype=np.uint64)
        if v.size and int(v.max()) >= (1 << bits):
            raise ValueError(f"barcode {name} {int(v.max())} does not fit in {bits} bits")
        out |= v << np.uint64(shift)
    return out


def geometry_volume_layer_module(geometry_id: np.ndarray) -> tuple[np.ndarray, ...]:
    """Volume, layer and sensitive-module ids (int32) of ACTS geometry identifiers.

    ACTS layout: volume 8 bits | boundary 8 | layer 12 | approach 8 | sensitive 20 | extra 8.
    """
    g = np.asarray(geometry_id, dtype=np.uint64)
    volume = (g >> np.uint64(56)) & np.uint64(0xFF)
    layer = (g >> np.uint64(36)) & np.uint64(0xFFF)
    module = (g >> np.uint64(8)) & np.uint64(0xFFFFF)
    return volume.astype(np.int32), layer.astype(np.int32), module.astype(np.int32)
