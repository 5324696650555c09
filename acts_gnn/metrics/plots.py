"""Performance plots: efficiency vs pT and η, fake rate vs η (PNG, matplotlib Agg).

Layer: metrics.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acts_gnn.io.atomic import stage_file

if TYPE_CHECKING:
    from acts_gnn.metrics.performance import PerformanceReport

__all__ = ["PLOT_FILES", "binned_rate", "stage_plots"]

PT_BINS_GEV = np.array([1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0])
ETA_BINS = np.linspace(-4.0, 4.0, 17)
#: the files :func:`stage_plots` writes in its directory
PLOT_FILES = ("efficiency_vs_pt.png", "efficiency_vs_eta.png", "fake_rate_vs_eta.png")


def binned_rate(
    values: np.ndarray, passed: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate of ``passed`` per bin of ``values``: ``(rate, binomial error, entries)`` (NaN if empty).

    Values outside the edges are ignored.
    """
    index = np.digitize(values, edges) - 1
    inside = (index >= 0) & (index < edges.size - 1)
    total = np.bincount(index[inside], minlength=edges.size - 1).astype(np.float64)
    good = np.bincount(
        index[inside], weights=passed[inside].astype(np.float64), minlength=edges.size - 1
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = good / total
        error = np.sqrt(rate * (1 - rate) / total)
    return rate, error, total


def stage_plots(
    report: PerformanceReport, directory: Path, staged: contextlib.ExitStack
) -> list[Path]:
    """Draw :data:`PLOT_FILES` (efficiency vs pT and η, fake rate vs η) for ``directory``.

    Each plot is saved under a temporary name beside its final one, through an
    :func:`~acts_gnn.io.atomic.stage_file` in ``staged``: closing ``staged`` puts them
    all in place; leaving it with an exception removes them, and the directories made for them.
    Returns the final paths.

    Raises:
        OutputError: a plot could not be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matches = report.matches
    pt = np.concatenate([m.target_pt for m in matches]) if matches else np.zeros(0)
    eta = np.concatenate([m.target_eta for m in matches]) if matches else np.zeros(0)
    ok = np.concatenate([m.target_matched for m in matches]) if matches else np.zeros(0, bool)
    track_eta = np.concatenate([m.track_eta for m in matches]) if matches else np.zeros(0)
    fake = ~np.concatenate([m.track_matched for m in matches]) if matches else np.zeros(0, bool)
    n = report.selections[0].min_track_spacepoints

    written = []
    for name, (values, passed, edges, xlabel, ylabel, log) in zip(
        PLOT_FILES,
        (
            (pt, ok, PT_BINS_GEV, "particle pT [GeV]", "efficiency", True),
            (eta, ok, ETA_BINS, "particle η", "efficiency", False),
            (track_eta, fake, ETA_BINS, "candidate η", "fake rate", False),
        ),
        strict=True,
    ):
        rate, error, _ = binned_rate(values, passed, edges)
        centres = 0.5 * (edges[1:] + edges[:-1])
        fig, ax = plt.subplots(figsize=(6, 4))
        try:
            ax.errorbar(centres, rate, yerr=error, xerr=0.5 * np.diff(edges), fmt="o", ms=4)
            if log:
                ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_ylim(0, 1.05)
            ax.grid(alpha=0.3)
            ax.set_title(f"{ylabel} — {report.n_events} event(s), candidates ≥ {n} space points")
            fig.tight_layout()
            save = functools.partial(fig.savefig, format="png", dpi=110)
            written.append(stage_file(staged, directory / name, save))
        finally:
            plt.close(fig)
    return written
