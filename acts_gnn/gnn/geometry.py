"""Derived inputs of the models, computed from the three contract features only.

Layer: gnn.

The contract gives each space point ``(r/1000, φ/π, z/1000)``. The models see φ through cos φ and
sin φ (no wrap-around at ±π) and the point's pseudorapidity seen from the origin; an edge adds the
differences between its ends, the curvature implied by the two points and the beam line (scaled,
see :data:`INVERSE_PT_SCALE`),
and where their (r, z) line meets the beam line (z0).

Per point, :func:`open_ends` says whether the event holds the detector region a track through
the point continues into: an event that holds only part of the detector (the barrel read alone,
one side's endcaps) ends its tracks at the region's edge, and such a track can be told from a
fragment that stops where its particle goes on only by knowing that the region beyond is not
there (the candidate-quality selection's input, :data:`acts_gnn.gnn.quality.OPEN_ENDS_INPUT`).
"""

from __future__ import annotations

import torch

__all__ = [
    "EDGE_INPUTS",
    "INVERSE_PT_SCALE",
    "NODE_INPUTS",
    "edge_inputs",
    "inverse_pt",
    "node_inputs",
    "open_ends",
    "point_eta",
]

NODE_INPUTS = 5
EDGE_INPUTS = 6
#: the models' curvature input is this × κ, κ = 2Δφ/Δr [1/m] the curvature of the circle through
#: the beam line and both points. At 2 T q/pT [1/GeV] = κ / 0.6, so the input is 0.36 · q/pT: a
#: scale the trained models carry (1 ↔ pT ≈ 0.36 GeV, 5 ↔ pT ≈ 0.07 GeV)
INVERSE_PT_SCALE = 0.6


#: the barrel's half-length in z [m], contract units: the pixel barrel (r < PIXEL_R) ends at
#: |z| = 0.49 m and its endcap disks start at 0.60 m; the strip barrels end at 1.08 m and their
#: endcaps start at 1.21 m (the generic detector and TrackML's)
PIXEL_BARREL_Z, STRIP_BARREL_Z, PIXEL_R = 0.545, 1.15, 0.2
#: a region holding less than this fraction of an event's points is taken as not read
REGION_READ_FRACTION = 0.01


def open_ends(features: torch.Tensor) -> torch.Tensor:
    """[N, 3] contract features → [N] 1.0 where the region beyond the point is not read, else 0.

    The regions are the barrel and the endcaps on either side (by r and z: :data:`PIXEL_R`,
    :data:`PIXEL_BARREL_Z`, :data:`STRIP_BARREL_Z`). Beyond a barrel point lie the endcaps on
    its side of z = 0, beyond an endcap point the barrel; a region is read when it holds at
    least :data:`REGION_READ_FRACTION` of the event's points. Whole events: all zeros.
    """
    r, z = features[:, 0], features[:, 2]
    half_length = torch.where(r < PIXEL_R, PIXEL_BARREL_Z, STRIP_BARREL_Z)
    barrel = z.abs() < half_length
    # the regions: 0 the barrel, 1 the endcaps at z ≥ 0, 2 those at z < 0
    side = torch.where(z >= 0, 1, 2)  # the endcaps on a point's side
    held = torch.bincount(torch.where(barrel, 0, side), minlength=3)
    unread = held < REGION_READ_FRACTION * features.shape[0]
    return unread[torch.where(barrel, side, 0)].to(features.dtype)  # the region beyond


def point_eta(features: torch.Tensor) -> torch.Tensor:
    """[N, 3] contract features → [N] pseudorapidity of each point seen from the origin."""
    return torch.asinh(features[:, 2] / features[:, 0].clamp_min(1e-4))


def node_inputs(features: torch.Tensor) -> torch.Tensor:
    """[N, 3] contract features → [N, 5]: r, cos φ, sin φ, z, η (r and z in metres)."""
    r, phi, z = features[:, 0], features[:, 1] * torch.pi, features[:, 2]
    return torch.stack([r, torch.cos(phi), torch.sin(phi), z, point_eta(features) / 4.0], dim=1)


def _differences(
    src: torch.Tensor, dst: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Δr, Δφ (radians, wrapped) and Δr kept away from 0 (±1 mm) between gathered features."""
    dr = dst[:, 0] - src[:, 0]
    dphi = (torch.remainder((dst[:, 1] - src[:, 1]) + 1.0, 2.0) - 1.0) * torch.pi
    safe_dr = torch.where(dr.abs() < 1e-3, torch.full_like(dr, 1e-3).copysign(dr), dr)
    return dr, dphi, safe_dr


def inverse_pt(features: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """[E] signed curvature of the circle through the beam line and both ends, in the models' scale.

    ``INVERSE_PT_SCALE · 2Δφ/Δr`` (r in metres; 0.36 · q/pT [1/GeV] at 2 T): the fourth column of
    :func:`edge_inputs` before its tanh.
    """
    _, dphi, safe_dr = _differences(features[edges[0]], features[edges[1]])
    return _scaled_curvature(dphi, safe_dr)


def _scaled_curvature(dphi: torch.Tensor, safe_dr: torch.Tensor) -> torch.Tensor:
    return INVERSE_PT_SCALE * 2.0 * dphi / safe_dr


def edge_inputs(
    features: torch.Tensor, edges: torch.Tensor, eta: torch.Tensor | None = None
) -> torch.Tensor:
    """Features of the edges [2, E] → [E, 6] (each scaled to order one).

    Δr, Δφ, Δη of the two ends; the signed curvature of the circle through the beam line and
    both points (:func:`inverse_pt`, ``0.6 · 2Δφ/Δr`` = 0.36 · q/pT [1/GeV] at 2 T); the z at
    which the straight line through both points in (r, z) crosses the beam line (z0, in units of
    0.3 m); and Δz. ``eta``: :func:`point_eta` of every point, when the caller has it already (the
    same values as computing it here).
    """
    src, dst = features[edges[0]], features[edges[1]]
    dr, dphi, safe_dr = _differences(src, dst)
    dz = dst[:, 2] - src[:, 2]
    if eta is None:
        eta_src, eta_dst = point_eta(src), point_eta(dst)
    else:
        eta_src, eta_dst = eta[edges[0]], eta[edges[1]]
    inverse_pt = _scaled_curvature(dphi, safe_dr)
    z0 = src[:, 2] - src[:, 0] * dz / safe_dr
    return torch.stack(
        [
            dr * 5.0,
            dphi * 5.0,
            eta_dst - eta_src,
            torch.tanh(inverse_pt),
            torch.tanh(z0 / 0.3),
            dz * 2.0,
        ],
        dim=1,
    )
