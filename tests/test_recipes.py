"""The deployment recipes in ``examples/``: Slurm scripts and the Kubernetes values file.

Here: the shell is valid, every acts-gnn option they use exists, and the values file is YAML
that fits SuperSONIC. The Slurm scripts also run for real on a single-node Slurm in
``tests/slurm`` (``make test-slurm``).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SLURM = sorted((EXAMPLES / "slurm").glob("*.sbatch"))


def _commands(script: str) -> list[list[str]]:
    """Every ``acts-gnn`` command line of a script (continuation lines joined)."""
    joined = script.replace("\\\n", " ")
    return [
        shlex.split(line.strip().split("&")[0].rstrip(), comments=True)
        for line in joined.splitlines()
        if line.strip().startswith("acts-gnn ")
    ]


@pytest.mark.parametrize("script", SLURM, ids=lambda p: p.name)
def test_slurm_script_is_valid_bash_with_real_options(script, run_cli):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert re.search(r"^#SBATCH --job-name=", text, re.M)
    commands = _commands(text)
    assert commands, "no acts-gnn command in the script"
    for words in commands:
        subcommand = words[1]
        help_text = run_cli(subcommand, "--help").stdout
        for option in (w for w in words[2:] if w.startswith("--")):
            assert option in help_text, f"{script.name}: acts-gnn {subcommand} has no {option}"


def test_kubernetes_values_fit_supersonic(run_cli):
    yaml = pytest.importorskip("yaml", reason="pyyaml is not installed (acts-gnn[dev])")
    values = yaml.safe_load((EXAMPLES / "kubernetes" / "values.yaml").read_text())
    supersonic_keys = {
        "nameOverride",
        "serverLoadMetric",
        "serverLoadThreshold",
        "serverLoadRateInterval",
        "serverAdmissionThreshold",
        "scaleFromZero",
        "triton",
        "envoy",
        "keda",
        "prometheus",
        "grafana",
        "metricsCollector",
    }
    assert set(values) <= supersonic_keys
    triton = values["triton"]
    script = triton["args"][0]
    assert "acts-gnn export-repo /tmp/models" in script
    assert "--model-repository=/tmp/models" in script
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {p["name"]: p["port"] for p in triton["service"]["ports"]} == {
        "http": 8000,
        "grpc": 8001,
        "metrics": 8002,
    }
    assert values["envoy"]["enabled"] is True
    assert values["keda"]["enabled"] is True and values["prometheus"]["enabled"] is True
    assert values["keda"]["minReplicaCount"] <= values["keda"]["maxReplicaCount"]
    # the export-repo options in the container command exist
    words = shlex.split(script.replace("\\\n", " ").split("&&")[1])
    assert words[:2] == ["acts-gnn", "export-repo"]
    help_text = run_cli("export-repo", "--help").stdout
    for option in (w for w in words[2:] if w.startswith("--")):
        assert option in help_text
