"""benchmarks/gpu_train.py: the training mix simulated on the GPU machine, and its commands."""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

from benchmarks.gpu_train import MIX, simulate_command, train_command

REPO = Path(__file__).resolve().parents[2]


def _makefile_seeds() -> dict[str, int]:
    """Sample folder → seed of every ``acts-gnn simulate -o $(DATA)/NAME … --seed N`` recipe."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    return {
        name: int(seed)
        for name, seed in re.findall(r"simulate -o \$\(DATA\)/(\w+)\b[^\n]*?--seed (\d+)", text)
    }


def test_the_mix_never_trains_or_tunes_on_held_out_seeds_and_tests_on_make_train_s():
    seeds = _makefile_seeds()
    held_out = {seeds[name] for name in ("test", "dense", "displaced", "bjets", "tables")}
    assert seeds["test"] == 3000 and len(held_out) == 5
    fitted = [s.seed for s in MIX if s.role != "test"]
    assert len(set(fitted)) == len(fitted)
    assert not set(fitted) & held_out
    # the training samples are new events; validation and tuning those of the CPU recipes
    train = {s.seed for s in MIX if s.role == "train"}
    assert not train & set(seeds.values())
    assert {s.name: s.seed for s in MIX if s.role in ("val", "tune")} == {
        name: seeds[name] for name in ("val", "sel", "seldense", "selregions", "seldisp")
    }
    assert [s.seed for s in MIX if s.role == "test"] == [seeds["test"]]
    assert sum(s.count(64) for s in MIX if s.role == "train") == 64


def test_the_commands_simulate_each_sample_and_train_on_all_of_them(tmp_path):
    jets = next(s for s in MIX if s.name == "bjets")
    command = simulate_command(jets, tmp_path / "bjets", 8, smoke=False)
    assert command[1:] == [
        "-m", "acts_gnn.cli.main", "simulate", "-o", str(tmp_path / "bjets"), "--events", "8",
        "--seed", "11300", "--pileup", "200", "--jets", "4", "--jet-particles", "30",
        "--jet-decays", "1.0", "--hard-vertices", "16",
    ]  # fmt: skip
    lower = next(s for s in MIX if s.name == "pileup150")
    assert simulate_command(lower, tmp_path, 8, smoke=False)[-2:] == ["--pileup", "150"]
    assert simulate_command(lower, tmp_path, 1, smoke=True)[-2:] == ["--pileup", "10"]
    args = argparse.Namespace(
        outdir=tmp_path / "out", device="cuda", embedding_epochs=5, filter_epochs=3,
        gnn_epochs=8, train_events=64, smoke=False,
    )  # fmt: skip
    folders = {s.name: tmp_path / s.name for s in MIX}
    train = train_command(args, folders)
    pairs = list(itertools.pairwise(train))
    assert [b for a, b in pairs if a == "--train"] == [
        str(tmp_path / n) for n in ("pileup", "pileup150", "jets", "bjets", "regions", "displaced")
    ]
    assert [b for a, b in pairs if a == "--tune"] == [
        str(tmp_path / n) for n in ("sel", "seldense", "selregions", "seldisp")
    ]
    assert ("--test", str(tmp_path / "test")) in pairs and ("--device", "cuda") in pairs
    description = dict(pairs)["--data-description"]
    assert "train 8 events seed 11300 --jets 4 --jet-particles 30 --jet-decays 1.0" in description
    assert "test 10 events seed 3000" in description
