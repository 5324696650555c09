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


def test_a_device_that_is_no_name_is_one_clear_refusal():
    with pytest.raises(ConfigError) as raised:  # was re's TypeError
        resolve_device(3)
    assert str(raised.value) == "device must be a name (cpu, cuda, cuda:N or auto), got 3"


def test_a_cuda_name_is_cuda_or_cuda_and_an_index_torch_sees(monkeypatch):
    import torch

    for name in ("cuda:abc", "cuda:", "cuda1", "cuda:-1", "cuda:0:1"):
        with pytest.raises(ConfigError) as raised:
            resolve_device(name)
        assert str(raised.value) == f"unknown device {name!r}; use cpu, cuda, cuda:N or auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as raised:
        resolve_device("cuda:0")
    assert str(raised.value) == "device 'cuda:0' requested but torch sees no CUDA device"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [resolve_device(n) for n in ("cuda", "cuda:0", "cuda:1")] == ["cuda", "cuda:0", "cuda:1"]
    with pytest.raises(ConfigError) as raised:
        resolve_device("cuda:2")
    assert str(raised.value) == (
        "device 'cuda:2' requested but torch sees 2 CUDA device(s): cuda:0 to cuda:1"
    )


def test_a_service_takes_the_environment_s_device_else_the_cpu(monkeypatch):
    from acts_gnn.cuda.device import service_device

    monkeypatch.delenv("ACTS_GNN_DEVICE", raising=False)
    assert service_device() == "cpu" and service_device("cpu") == "cpu"
    monkeypatch.setenv("ACTS_GNN_DEVICE", "tpu")  # benchmark ignored it: a CPU run
    with pytest.raises(ConfigError, match=r"^unknown device 'tpu' \(from ACTS_GNN_DEVICE\)"):
        service_device()
    assert service_device("cpu") == "cpu"  # the option wins
    # models that use no device run on the CPU whatever it says (a site-wide cuda broke
    # serve and benchmark of null_tracking on CPU nodes, which reconstruct ignored)
    assert service_device(None, uses_device=False) == "cpu"
