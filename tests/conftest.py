"""Shared fixtures: the read-only reference data, hand-made events, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from acts_gnn.event import Event, Particles, SpacePoints, Truth, count_spacepoints

REPO = Path(__file__).resolve().parent.parent

# Property tests: `make test` runs the derandomised "ci" profile (the same examples on every run and
# every clone, no example database); `make fuzz` runs "fuzz", which explores with new random
# examples each time. HYPOTHESIS_PROFILE picks one.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2500")),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# an internal error (a bug) of a command raises here, traceback and all, not as its one line
os.environ.setdefault("ACTS_GNN_TRACEBACK", "1")
# Ctrl-C as in a terminal: a shell without job control starts a background job (`make test &`
# in a script) with SIGINT ignored, which Python keeps, and the tests of Ctrl-C would see none
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (read-only); tests that need it skip with the reason when it is absent."""
    if not (SHARED_DATA / "trackml").is_dir() or not (SHARED_DATA / "acts_reference").is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture
def acts_reference_copy(shared_data: Path, tmp_path: Path) -> Path:
    """A writable copy of the ACTS reference event."""
    target = tmp_path / "acts_reference"
    shutil.copytree(shared_data / "acts_reference", target)
    return target


def make_event(
    particle_of_sp: list[int],
    pt: dict[int, float],
    *,
    eta: dict[int, float] | None = None,
    event_id: int = 0,
    weight: list[float] | None = None,
) -> Event:
    """A hand-made event: one space point per entry of ``particle_of_sp`` (0 = noise).

    Space points are spread along z so their order is defined; particles get the given pT (GeV),
    η (default 0), a vertex at the origin.
    """
    n = len(particle_of_sp)
    sp = SpacePoints(
        x=np.linspace(30, 1000, n),
        y=np.zeros(n),
        z=np.arange(n, dtype=np.float32),
        measurement_id=np.arange(100, 100 + n),
    )
    ids = np.array(sorted(pt), dtype=np.uint64)
    spp = np.array(particle_of_sp, dtype=np.uint64)
    particles = Particles(
        particle_id=ids,
        pt=[pt[int(i)] for i in ids],
        eta=[(eta or {}).get(int(i), 0.0) for i in ids],
        phi=np.zeros(len(ids)),
        charge=np.ones(len(ids)),
        pdg_id=np.full(len(ids), 211),
        vx=np.zeros(len(ids)),
        vy=np.zeros(len(ids)),
        vz=np.zeros(len(ids)),
        primary=np.ones(len(ids), bool),
        n_spacepoints=count_spacepoints(ids, spp),
    )
    truth = Truth(particle_id=spp, particles=particles, weight=weight)
    return Event(event_id=event_id, spacepoints=sp, truth=truth, source="hand-made")


@pytest.fixture
def event_factory() -> Callable[..., Event]:
    """:func:`make_event` as a fixture."""
    return make_event


@dataclass
class CliResult:
    """Exit code and captured streams of one CLI call."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Call ``acts-gnn`` in-process with a list of arguments."""
    from acts_gnn.cli.main import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
