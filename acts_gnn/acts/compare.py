"""Compare simulated events with the real TrackML data: particle tables and space-point counts.

Layer: acts (reads with ``io``; plots with matplotlib).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError
from acts_gnn.event import Particles
from acts_gnn.io.atomic import atomic_path
from acts_gnn.io.source import open_events
from acts_gnn.io.trackml import read_trackml_particles

__all__ = [
    "Comparison",
    "Sample",
    "compare_with_trackml",
    "read_trackml_sample",
    "trackml_tables",
]


@dataclass(frozen=True)
class Sample:
    """Per-event numbers of one data set."""

    name: str
    particles_per_event: np.ndarray
    fraction_pt_above_1: np.ndarray
    spacepoints_per_event: np.ndarray
    pt: np.ndarray
    eta: np.ndarray


@dataclass(frozen=True)
class Comparison:
    """Simulation against TrackML, side by side."""

    simulated: Sample
    trackml: Sample

    def rows(self) -> list[tuple[str, str, str]]:
        """(quantity, simulated, TrackML) as text."""

        def stat(values: np.ndarray, fmt: str) -> str:
            if values.size == 0:
                return "—"
            return f"{values.mean():{fmt}} ± {values.std():{fmt}} ({values.size} ev.)"

        s, t = self.simulated, self.trackml
        return [
            (
                "particles per event",
                stat(s.particles_per_event, ".0f"),
                stat(t.particles_per_event, ".0f"),
            ),
            (
                "fraction with pT > 1 GeV",
                stat(s.fraction_pt_above_1, ".3f"),
                stat(t.fraction_pt_above_1, ".3f"),
            ),
            ("mean pT [GeV]", f"{s.pt.mean():.3f}", f"{t.pt.mean():.3f}"),
            (
                "space points (hits) per event",
                stat(s.spacepoints_per_event, ".0f"),
                stat(t.spacepoints_per_event, ".0f"),
            ),
        ]

    def table(self):
        """The rows as a rich table (texts never read as markup: "[GeV]" stays)."""
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text("Simulation vs TrackML (ttbar + pile-up 200)"))
        for name in ("quantity", "simulated", "TrackML"):
            table.add_column(Text(name), justify="left" if name == "quantity" else "right")
        for row in self.rows():
            table.add_row(*(Text(cell) for cell in row))
        return table

    def plot(self, directory: Path) -> list[Path]:
        """pT and η histograms (normalised per particle), PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, attr, bins, log in (
            ("pt_simulated_vs_trackml.png", "pt", np.geomspace(0.05, 200, 50), True),
            ("eta_simulated_vs_trackml.png", "eta", np.linspace(-5, 5, 41), False),
        ):
            fig, ax = plt.subplots(figsize=(6, 4))
            for sample in (self.simulated, self.trackml):
                values = getattr(sample, attr)
                ax.hist(
                    values,
                    bins=bins,
                    histtype="step",
                    density=True,
                    lw=1.5,
                    label=f"{sample.name} ({values.size} particles)",
                )
            if log:
                ax.set_xscale("log")
                ax.set_yscale("log")
            ax.set_xlabel("particle pT [GeV]" if attr == "pt" else "particle η")
            ax.set_ylabel("density")
            ax.legend()
            fig.tight_layout()
            path = directory / name
            with atomic_path(path) as temporary:
                fig.savefig(temporary, format="png", dpi=110)
            plt.close(fig)
            written.append(path)
        return written


def _sample(name: str, tables: list[Particles], spacepoints: list[int]) -> Sample:
    return Sample(
        name=name,
        particles_per_event=np.array([len(t) for t in tables], dtype=np.float64),
        fraction_pt_above_1=np.array([float(np.mean(t.pt > 1.0)) for t in tables]),
        spacepoints_per_event=np.array(spacepoints, dtype=np.float64),
        pt=np.concatenate([t.pt for t in tables]) if tables else np.zeros(0),
        eta=np.concatenate([t.eta for t in tables]) if tables else np.zeros(0),
    )


def trackml_tables(trackml: str | Path) -> list[Path]:
    """The particle tables of the TrackML data folder ``trackml``, once its ``particles/`` and
    ``full_events/`` are found (nothing is read yet: a mistyped folder is refused at once).

    Raises:
        InputFormatError: no particle tables, or no full-event hit files.
    """
    trackml = Path(trackml)
    tables = sorted((trackml / "particles").glob("event*-particles.csv*"))
    if not tables:
        raise InputFormatError(trackml / "particles", "", "no TrackML particle tables found")
    open_events([trackml / "full_events"])  # finds the events, reads none
    return tables


def read_trackml_sample(trackml: str | Path) -> Sample:
    """The TrackML side of a comparison, read whole from the folder ``trackml`` (its
    ``particles/`` tables and ``full_events/`` hit files): read before a simulation, a malformed
    file stops the run before any event is written.

    Raises:
        InputFormatError: a folder is missing or holds no events, or a file is malformed.
    """
    tables = trackml_tables(trackml)
    real_particles = [read_trackml_particles(p) for p in tables]
    real_hits = [len(e) for e in open_events([Path(trackml) / "full_events"])]
    return _sample("TrackML", real_particles, real_hits)


def compare_with_trackml(simulated: str | Path, trackml: str | Path | Sample) -> Comparison:
    """Read simulated ACTS CSV events and compare them with TrackML's.

    Args:
        simulated: directory written by ``acts-gnn simulate``.
        trackml: the TrackML data folder, holding ``particles/`` and ``full_events/``, or its
            :func:`read_trackml_sample`.

    Raises:
        InputFormatError: a folder is missing or holds no events.
    """
    real = trackml if isinstance(trackml, Sample) else read_trackml_sample(trackml)
    sim_tables, sim_points = [], []
    for event in open_events([simulated]):
        if event.truth is None:
            raise InputFormatError(event.source, "", "simulated event without truth")
        sim_tables.append(event.truth.particles)
        sim_points.append(len(event))
    return Comparison(
        simulated=_sample("simulated (acts-gnn)", sim_tables, sim_points), trackml=real
    )
