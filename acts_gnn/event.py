"""The in-memory event: space points, optional truth, and the model features.

Layer: bottom (``errors`` → **event** → io → …). Pure numpy; no I/O here.

Units are mm for lengths and GeV for momenta. Arrays are struct-of-arrays, one entry per space
point (or per particle), and every object is frozen: stages never mutate an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from acts_gnn.errors import EventDataError

__all__ = [
    "MAX_FEATURE",
    "MAX_POSITION_MM",
    "NOISE_PARTICLE_ID",
    "NO_MEASUREMENT",
    "Event",
    "Particles",
    "SpacePoints",
    "Truth",
    "count_spacepoints",
    "find_sorted",
    "model_features",
]

#: particle id given to space points that no particle made
NOISE_PARTICLE_ID = 0

#: ``measurement_id_2`` of a space point without a second measurement (a pixel point), as ACTS
#: writes it
NO_MEASUREMENT = np.uint64(2**64 - 1)

#: scale applied to r and z (mm) to make the model features of DESIGN.md
FEATURE_LENGTH_SCALE_MM = 1000.0

#: the farthest a space point may lie from the origin in x, y or z (mm): a kilometre, beyond any
#: detector. Far beyond it the models' float32 arithmetic overflows (at 10³⁰ mm an event's K1
#: grid failed), so readers, the pipeline and the server refuse such points
MAX_POSITION_MM = 1e6
#: the largest magnitude of a model feature that :data:`MAX_POSITION_MM` allows (φ/π is ≤ 1)
MAX_FEATURE = MAX_POSITION_MM / FEATURE_LENGTH_SCALE_MM


def model_features(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The model input of the Triton contract: ``[N, 3]`` float32 of ``(r/1000, φ/π, z/1000)``.

    ``x``, ``y``, ``z`` are in mm. This is the only place in the project where features are made.
    """
    x64 = np.asarray(x, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    out = np.empty((x64.shape[0], 3), dtype=np.float32)
    out[:, 0] = np.hypot(x64, y64) / FEATURE_LENGTH_SCALE_MM
    out[:, 1] = np.arctan2(y64, x64) / np.pi
    out[:, 2] = np.asarray(z, dtype=np.float64) / FEATURE_LENGTH_SCALE_MM
    return out


def find_sorted(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each query in ``sorted_keys`` and whether it is there.

    Returns:
        ``(index, found)``: int64 positions (valid only where ``found``) and a bool mask.
    """
    keys = np.asarray(sorted_keys)
    q = np.asarray(queries, dtype=keys.dtype)
    if keys.shape[0] == 0:
        return np.zeros(q.shape, np.int64), np.zeros(q.shape, bool)
    pos = np.minimum(np.searchsorted(keys, q), keys.shape[0] - 1).astype(np.int64)
    return pos, keys[pos] == q


def _column(values: object, dtype: np.dtype | type, name: str, n: int | None) -> np.ndarray:
    """``values`` as a one-dimensional array of ``dtype`` (of ``n`` entries when given), refused
    where numpy would convert it with a loss: text or None, complex numbers, fractions or
    negative numbers for ids."""
    try:
        given = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise EventDataError(f"{name} must be an array of numbers ({exc})") from exc
    if given.ndim == 0:  # None, one number
        raise EventDataError(f"{name} must be an array of numbers, got {values!r}")
    if given.dtype.kind == "O":  # Python integers beyond int64 (2⁶⁴ − 1), or not numbers
        try:
            given = np.asarray(values, dtype=dtype)
        except OverflowError as exc:
            raise EventDataError(f"{name} holds a number beyond {np.dtype(dtype)} ({exc})") from exc
        except (TypeError, ValueError) as exc:  # None, text among numbers
            raise EventDataError(f"{name} must be numbers ({exc})") from exc
    if given.dtype.kind == "c":  # numpy would drop the imaginary part with a warning
        raise EventDataError(f"{name} must be real numbers, got {given.dtype}")
    kind = np.dtype(dtype).kind
    if given.dtype.kind not in ("biuf" if kind == "b" else "iuf"):  # text, None, objects
        raise EventDataError(f"{name} must be numbers, got {given.dtype} ({_sample(given)})")
    if kind in "iu" and given.dtype.kind == "f" and given.size:
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(given).all() and (given == np.floor(given)).all()
        if not integral:  # numpy would cut 0.7 to 0, and NaN to anything, with a warning
            raise EventDataError(f"{name} must be whole numbers, got {given.dtype} with fractions")
    if kind == "u" and given.dtype.kind in "if" and given.size and given.min() < 0:
        raise EventDataError(f"{name} must not be negative, got {given.min()}")  # would wrap
    if given.ndim != 1:
        raise EventDataError(f"{name} must be one-dimensional, got shape {given.shape}")
    if n is not None and given.shape[0] != n:
        raise EventDataError(f"{name} has {given.shape[0]} entries, expected {n}")
    try:  # from ``values`` itself: a list's Python integers convert exactly (2⁶⁴ − 1 too)
        return np.ascontiguousarray(values, dtype=dtype)
    except OverflowError as exc:
        raise EventDataError(f"{name} holds a number beyond {np.dtype(dtype)} ({exc})") from exc


def _sample(array: np.ndarray) -> str:
    """The first entry of ``array``, for a message."""
    return repr(array.flat[0]) if array.size else "empty"


@dataclass(frozen=True)
class SpacePoints:
    """Space points of one event.

    Attributes:
        x, y, z: float32 [N], global position in mm.
        measurement_id: uint64 [N], the id of the (first) measurement in the input file, so tracks
            can be mapped back (ACTS measurement index, TrackML ``hit_id``).
        measurement_id_2: uint64 [N] or None, the second measurement of a strip space point
            (``2**64 - 1`` where there is none), as ACTS writes it.
        volume_id, layer_id, module_id: int32 [N] or None, detector element ids when known.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    measurement_id: np.ndarray
    measurement_id_2: np.ndarray | None = None
    volume_id: np.ndarray | None = None
    layer_id: np.ndarray | None = None
    module_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _column(self.x, np.float32, "x", None))
        n = self.x.shape[0]
        for name in ("y", "z"):
            object.__setattr__(self, name, _column(getattr(self, name), np.float32, name, n))
        object.__setattr__(
            self, "measurement_id", _column(self.measurement_id, np.uint64, "measurement_id", n)
        )
        if self.measurement_id_2 is not None:
            object.__setattr__(
                self,
                "measurement_id_2",
                _column(self.measurement_id_2, np.uint64, "measurement_id_2", n),
            )
        for name in ("volume_id", "layer_id", "module_id"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _column(value, np.int32, name, n))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def r(self) -> np.ndarray:
        """Transverse radius in mm (float32 [N])."""
        return np.hypot(self.x, self.y)

    def features(self) -> np.ndarray:
        """Model features ``[N, 3]`` float32 (see :func:`model_features`)."""
        return model_features(self.x, self.y, self.z)


@dataclass(frozen=True)
class Particles:
    """Truth particles of one event (one entry per particle).

    Attributes:
        particle_id: uint64 [P], never 0 (0 marks noise).
        pt, eta, phi: float32 [P], at production; pT in GeV.
        charge: float32 [P], in units of e.
        pdg_id: int32 [P] (0 when the input does not say).
        vx, vy, vz: float32 [P], production vertex in mm.
        primary: bool [P], made at the primary interaction (not a secondary).
        n_spacepoints: int32 [P], space points of this event made by the particle.
    """

    particle_id: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    charge: np.ndarray
    pdg_id: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray
    primary: np.ndarray
    n_spacepoints: np.ndarray

    def __post_init__(self) -> None:
        n = np.asarray(self.particle_id).shape[0]
        types = {
            "particle_id": np.uint64,
            "pt": np.float32,
            "eta": np.float32,
            "phi": np.float32,
            "charge": np.float32,
            "pdg_id": np.int32,
            "vx": np.float32,
            "vy": np.float32,
            "vz": np.float32,
            "primary": np.bool_,
            "n_spacepoints": np.int32,
        }
        for name, dtype in types.items():
            object.__setattr__(self, name, _column(getattr(self, name), dtype, name, n))

    def __len__(self) -> int:
        return int(self.particle_id.shape[0])

    @property
    def kinematics_unknown(self) -> bool:
        """Whether the input carried particle ids but no particle table (:meth:`unknown`): every
        pT is NaN, so no particle can be a target. False for a table with no particles."""
        return bool(self.pt.size and np.isnan(self.pt).all())

    @property
    def vertex_r(self) -> np.ndarray:
        """Transverse distance of the production vertex from the beam line, mm."""
        return np.hypot(self.vx, self.vy)

    @classmethod
    def from_momentum(
        cls,
        particle_id: np.ndarray,
        px: np.ndarray,
        py: np.ndarray,
        pz: np.ndarray,
        *,
        charge: np.ndarray,
        pdg_id: np.ndarray,
        vx: np.ndarray,
        vy: np.ndarray,
        vz: np.ndarray,
        primary: np.ndarray,
        n_spacepoints: np.ndarray,
    ) -> Particles:
        """Build the table from momentum components (GeV) instead of pT, η, φ."""
        px64, py64, pz64 = (np.asarray(v, dtype=np.float64) for v in (px, py, pz))
        pt = np.hypot(px64, py64)
        # no floating-point exception on any row (inside an ACTS job one ends it): nothing
        # divided by 0, and no 0 · ∞ for a particle at rest along z
        moving = pt > 0
        eta = np.where(
            moving, np.arcsinh(pz64 / np.where(moving, pt, 1.0)), np.copysign(np.inf, pz64)
        )
        return cls(
            particle_id=particle_id,
            pt=pt,
            eta=eta,
            phi=np.arctan2(py64, px64),
            charge=charge,
            pdg_id=pdg_id,
            vx=vx,
            vy=vy,
            vz=vz,
            primary=primary,
            n_spacepoints=n_spacepoints,
        )

    @classmethod
    def unknown(cls, spacepoint_particle: np.ndarray) -> Particles:
        """A table of the particles seen in ``spacepoint_particle`` whose kinematics are unknown.

        Used when the input carries particle ids but no particle table; such particles are never
        targets (their pT is NaN) but still count in matching.
        """
        sp = np.asarray(spacepoint_particle, dtype=np.uint64)
        ids = np.unique(sp[sp != NOISE_PARTICLE_ID])
        nan = np.full(ids.size, np.nan)
        return cls(
            particle_id=ids,
            pt=nan,
            eta=nan,
            phi=nan,
            charge=nan,
            pdg_id=np.zeros(ids.size),
            vx=nan,
            vy=nan,
            vz=nan,
            primary=np.zeros(ids.size, bool),
            n_spacepoints=count_spacepoints(ids, sp),
        )

    def index_of(self, particle_ids: np.ndarray) -> np.ndarray:
        """Row of each id in this table, -1 where the id is not in it (int64)."""
        order = np.argsort(self.particle_id, kind="stable")
        pos, found = find_sorted(self.particle_id[order], np.asarray(particle_ids, np.uint64))
        out = np.full(found.shape, -1, dtype=np.int64)
        out[found] = order[pos[found]]
        return out


@dataclass(frozen=True)
class Truth:
    """What made each space point.

    Attributes:
        particle_id: uint64 [N], the particle of each space point, 0 for noise.
        particles: the particle table.
        weight: float64 [N] or None, TrackML score weight of each space point when the input
            carries it (TrackML ``truth.csv``); recomputed by the metrics otherwise.
    """

    particle_id: np.ndarray
    particles: Particles
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "particle_id", _column(self.particle_id, np.uint64, "particle_id", None)
        )
        if self.weight is not None:
            object.__setattr__(
                self,
                "weight",
                _column(self.weight, np.float64, "weight", self.particle_id.shape[0]),
            )


@dataclass(frozen=True)
class Event:
    """One collision event as read from a file.

    Attributes:
        event_id: the event number (from the file name, e.g. ``event000000042`` → 42).
        spacepoints: the space points.
        truth: truth information, or None when the input has none.
        source: where the event was read from (for messages).
    """

    event_id: int
    spacepoints: SpacePoints
    truth: Truth | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        number = self.event_id
        whole = not isinstance(number, bool) and isinstance(number, int | np.integer)
        if not whole or not 0 <= number < 2**64:  # the tracks files keep it as uint64
            raise EventDataError(
                f"event_id must be a whole number from 0 to 2^64 − 1, got {number!r}"
            )
        object.__setattr__(self, "event_id", int(number))
        if not isinstance(self.spacepoints, SpacePoints):
            raise EventDataError(
                f"spacepoints must be SpacePoints, got {type(self.spacepoints).__name__}"
            )
        if self.truth is not None and not isinstance(self.truth, Truth):
            raise EventDataError(f"truth must be Truth or None, got {type(self.truth).__name__}")
        if self.truth is not None and len(self.truth.particle_id) != len(self.spacepoints):
            raise EventDataError(
                f"truth has {len(self.truth.particle_id)} entries for "
                f"{len(self.spacepoints)} space points"
            )

    def __len__(self) -> int:
        return len(self.spacepoints)

    def features(self) -> np.ndarray:
        """Model features ``[N, 3]`` float32 of the space points."""
        return self.spacepoints.features()


def count_spacepoints(particle_ids: np.ndarray, spacepoint_particle: np.ndarray) -> np.ndarray:
    """Number of space points of each of ``particle_ids`` in ``spacepoint_particle`` (int32)."""
    ids, counts = np.unique(np.asarray(spacepoint_particle, dtype=np.uint64), return_counts=True)
    pos, found = find_sorted(ids, np.asarray(particle_ids, np.uint64))
    out = np.zeros(found.shape, dtype=np.int32)
    out[found] = counts[pos[found]]
    return out
