"""The one device resolver: the option, else ACTS_GNN_DEVICE, else CUDA when present."""

from __future__ import annotations

import pytest

from acts_gnn.cuda.device import resolve_device
from acts_gnn.errors import ConfigError


def test_a_wrong_name_says_where_it_came_from(monkeypatch):
    monkeypatch.setenv("ACTS_GNN_DEVICE", "tpu")
    with pytest.raises(ConfigError) as raised:
        resolve_device()
    assert str(raised.value) == (
        "unknown device 'tpu' (from ACTS_GNN_DEVICE); use cpu, cuda, cuda:N or auto"
    )
    assert resolve_device("cpu") == "cpu"  # the option wins over the environment
    with pytest.raises(ConfigError, match=r"^unknown device 'gpu'; use cpu"):
        resolve_device("gpu")
    monkeypatch.setenv("ACTS_GNN_DEVICE", "cpu")
    assert resolve_device() == "cpu"
