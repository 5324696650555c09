"""Efficiency on whole events and on the same events cut to the barrel volumes, by |η|.

    python benchmarks/barrel_subset.py data/test [--events 3] [--bundle DIR] [--out FILE.md]

TrackML's ``subset_barrel`` (../shared/data/trackml) keeps only the barrel volumes (8, 13, 17):
a particle beyond |η| ≈ 1 leaves the barrel for an endcap, so its track there ends early. This
script makes the same cut on simulated events (the GenericDetector has TrackML's volume ids),
so that what the cut costs can be told apart from what real data costs. Targets and matching as
``acts-gnn evaluate`` (pT > 1 GeV, ≥ 3 space points in the event as given, double majority).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.acts.simulate import BARREL_VOLUMES  # noqa: E402
from acts_gnn.cpus import machine  # noqa: E402
from acts_gnn.event import Event, count_spacepoints  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.metrics.matching import match_event  # noqa: E402

ETA_BINS = ((0, 1), (1, 2), (2, 3), (3, 4))


def only(event: Event, keep: np.ndarray) -> Event:
    """``event`` with the space points ``keep`` only (truth recounted; TrackML weights dropped)."""
    sp = event.spacepoints
    columns = {}
    for f in dataclasses.fields(sp):
        value = getattr(sp, f.name)
        columns[f.name] = None if value is None else value[keep]
    truth = event.truth
    particle = truth.particle_id[keep]
    counts = count_spacepoints(truth.particles.particle_id, particle).astype(np.int32)
    particles = dataclasses.replace(truth.particles, n_spacepoints=counts)
    truth = dataclasses.replace(truth, particle_id=particle, particles=particles, weight=None)
    return dataclasses.replace(event, spacepoints=type(sp)(**columns), truth=truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--events", dest="n_events", type=int, default=3)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    finder = make_finder("gnn", args.bundle)
    found: dict[str, list] = {"whole events": [], "barrel volumes only": []}
    fakes = dict.fromkeys(found, 0)
    candidates = dict.fromkeys(found, 0)
    for event in itertools.islice(open_events([args.events]), args.n_events):
        volume = event.spacepoints.volume_id
        for name, keep in zip(
            found, (np.ones(len(event), bool), np.isin(volume, BARREL_VOLUMES)), strict=True
        ):
            cut = only(event, keep)
            match = match_event(
                cut.event_id, cut.spacepoints, cut.truth, finder.reconstruct(cut).labels
            )
            found[name].append((np.abs(match.target_eta), match.target_matched))
            fakes[name] += int((~match.track_matched).sum())  # as `evaluate`: 1 − matched / all
            candidates[name] += int(match.track_matched.size)

    lines = [
        "# Whole events and the barrel volumes alone",
        "",
        f"`python benchmarks/barrel_subset.py {args.events} --events {args.n_events}` on "
        f"{machine()}; bundle: {args.bundle or 'shipped default'}.",
        "",
        "| events | targets | efficiency | fake rate | "
        + " | ".join(f"\\|η\\| {lo}–{hi}" for lo, hi in ETA_BINS)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in ETA_BINS) + " |",
    ]
    for name, parts in found.items():
        eta = np.concatenate([p[0] for p in parts])
        matched = np.concatenate([p[1] for p in parts])
        cells = []
        for lo, hi in ETA_BINS:
            inside = (eta >= lo) & (eta < hi)
            cells.append(f"{matched[inside].mean():.1%} ({inside.sum()})" if inside.any() else "—")
        fake = fakes[name] / max(candidates[name], 1)
        lines.append(
            f"| {name} | {matched.size} | {matched.mean():.1%} | {fake:.2%} | "
            + " | ".join(cells)
            + " |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
