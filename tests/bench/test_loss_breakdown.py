"""benchmarks/loss_breakdown.py: the Markdown it writes."""

from __future__ import annotations

import re

import numpy as np

from acts_gnn.metrics.breakdown import EventLosses
from benchmarks.loss_breakdown import render


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row (an escaped ``\\|`` stays inside its cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_every_row_has_its_header_s_cells_and_the_eta_bins_stay_one_cell():
    account = EventLosses(
        event_id=0,
        stages=("graph", "filter", "gnn_cut"),
        pt=np.array([1.5, 7.0, 12.0], np.float32),
        eta=np.array([0.5, -1.5, 3.0], np.float32),
        vertex_r_mm=np.array([0.0, 0.0, 20.0], np.float32),
        density=np.array([0, 2, 7]),
        lost_at=np.array(["found", "gnn_cut", "merged"]),
        rescued=np.array([False, False, False]),
        n_candidates=2,
        fake_cause=np.array([], "<U9"),
        fake_majority=np.array([], "<U40"),
    )
    text = render([account], np.array([10, 1, 0]), "shipped", "events")
    tables: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) == 2
    for table in tables:
        width = len(_cells(table[0]))
        assert [len(_cells(row)) for row in table] == [width] * len(table)
    rows = {_cells(row)[0]: _cells(row) for row in tables[0]}
    assert rows["\\|η\\| 0–1"][1:3] == ["1", "100.0%"]
    assert rows["\\|η\\| 1–2"][1:3] == ["1", "0.0%"]
    assert rows["all"][1] == "3"
