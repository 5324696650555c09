"""``acts-gnn export-repo``: a Triton model repository for a standard Triton server.

Layer: triton.

For clusters that run NVIDIA's Triton container (HPC, Kubernetes) rather than ``acts-gnn serve``:
each model gets ``<model>/config.pbtxt`` (written from Triton's own protobuf definitions, so it is
what Triton parses), ``<model>/1/model.py`` (:mod:`acts_gnn.triton.triton_python_model`) and, for
the GNN backends, ``<model>/1/bundle/`` (the model bundle). The contract is the one
``acts-gnn serve`` honours: ``FEATURES`` FP32 [-1, 3] → ``LABELS`` INT64 [-1], optional
``STAGE_SECONDS`` and ``EDGE_COUNTS``, one event per request. The repository is written whole or
not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from acts_gnn._extras import require
from acts_gnn.errors import ConfigError, OutputError
from acts_gnn.finders import finder_entry, refuse_gnn_settings
from acts_gnn.io.atomic import check_output_directory, make_parents, new_dir_mode
from acts_gnn.result import STAGES
from acts_gnn.triton.contract import (
    DEFAULT_MAX_SPACEPOINTS,
    EDGE_COUNTS,
    FEATURES,
    LABELS,
    STAGE_SECONDS,
)

__all__ = ["export_repository", "is_model_repository", "model_config"]
_MODEL_FILE = Path(__file__).with_name("triton_python_model.py")
#: the parameter of every exported config.pbtxt that names the acts-gnn backend it serves
_BACKEND_KEY = "acts_gnn_backend"


def model_config(
    name: str,
    backend: str,
    *,
    device: str = "cpu",
    instances: int = 1,
    max_spacepoints: int = DEFAULT_MAX_SPACEPOINTS,
    max_neighbours: int | None = None,
) -> str:
    """The ``config.pbtxt`` text of one served model (protobuf text format)."""
    pb = require("tritonclient.grpc.model_config_pb2", "server")
    text_format = require("google.protobuf.text_format", "server")
    config = pb.ModelConfig(name=name, backend="python", max_batch_size=0)
    features = config.input.add(name=FEATURES, data_type=pb.TYPE_FP32)
    features.dims.extend([-1, 3])
    for tensor, data_type, dims in (
        (LABELS, pb.TYPE_INT64, [-1]),
        (STAGE_SECONDS, pb.TYPE_FP64, [len(STAGES)]),
        (EDGE_COUNTS, pb.TYPE_INT64, [2]),
    ):
        config.output.add(name=tensor, data_type=data_type).dims.extend(dims)
    kind = (
        pb.ModelInstanceGroup.KIND_GPU
        if device.startswith("cuda")
        else pb.ModelInstanceGroup.KIND_CPU
    )
    config.instance_group.add(count=instances, kind=kind)
    settings = [
        (_BACKEND_KEY, backend),
        ("device", device),
        ("max_spacepoints", str(max_spacepoints)),
    ]
    if max_neighbours is not None:
        settings.append(("max_neighbours", str(max_neighbours)))
    for key, value in settings:
        config.parameters[key].string_value = value
    return text_format.MessageToString(config)


def is_model_repository(directory: Path) -> bool:
    """Whether ``directory`` holds a repository this command wrote and nothing else: model
    directories whose ``config.pbtxt`` names an acts-gnn backend, and wheels (kept when it is
    replaced). Another repository (a site's own ONNX or TensorRT models) is not one."""
    return all(_exported_model(entry) or _is_wheel(entry) for entry in directory.iterdir())


def _exported_model(entry: Path) -> bool:
    config = entry / "config.pbtxt"
    return (
        entry.is_dir() and config.is_file() and _BACKEND_KEY in config.read_text(errors="replace")
    )


def _is_wheel(entry: Path) -> bool:
    return entry.is_file() and entry.suffix == ".whl" and not entry.name.startswith(".")


def export_repository(
    directory: str | Path,
    models: Sequence[str] = ("gnn_tracking", "gnn_tracking_walk", "unrolling_tracking"),
    *,
    bundle: Path | None = None,
    device: str = "cpu",
    instances: int = 1,
    max_spacepoints: int = DEFAULT_MAX_SPACEPOINTS,
    max_neighbours: int | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a Triton model repository to ``directory``; the files written.

    Raises:
        ConfigError: unknown model, instances or max_neighbours below one, a device that is
            not cpu/cuda, a bundle or max_neighbours for models none of which is a GNN's.
        BundleError: the bundle is missing or unusable.
        OutputError: ``directory`` is a repository (and ``overwrite`` is off), holds anything
            but a repository (never replaced: see :func:`is_model_repository`), or cannot be
            written. A replaced repository's wheels are kept.
    """
    from acts_gnn.gnn.bundle import ModelBundle, default_bundle_dir

    models = tuple(dict.fromkeys(models))  # a model given twice is exported once
    entries = {m: finder_entry(m, served=True) for m in models}
    if not models:
        raise ConfigError("give at least one model to export")
    if instances < 1:
        raise ConfigError(f"--instances must be at least 1, got {instances}")
    if max_spacepoints < 1:
        raise ConfigError(f"--max-spacepoints must be at least 1, got {max_spacepoints}")
    if max_neighbours is not None and max_neighbours < 1:
        raise ConfigError(f"--max-neighbours must be at least 1, got {max_neighbours}")
    if device not in ("cpu", "cuda"):  # Triton places the instances on the GPUs it sees
        raise ConfigError(
            f"device must be cpu or cuda (the instances go on every GPU the server sees; "
            f"choose them with CUDA_VISIBLE_DEVICES), got {device!r}"
        )
    refuse_gnn_settings({"--bundle": bundle, "--max-neighbours": max_neighbours}, models)
    directory = Path(directory)
    present = sorted(directory.iterdir()) if directory.is_dir() else []
    wheels = [entry for entry in present if _is_wheel(entry)]
    only_wheels = len(wheels) == len(present)
    check_output_directory(
        directory,
        overwrite=overwrite or only_wheels,  # a wheel put there first: no repository to replace
        kind="a model repository",
        is_kind=is_model_repository,
    )
    bundle_dir = Path(bundle) if bundle is not None else default_bundle_dir()
    if any(e.uses_bundle for e in entries.values()):
        ModelBundle.load(bundle_dir)  # refuse a broken bundle before writing anything
    try:
        make_parents(directory)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        os.chmod(staging, new_dir_mode())  # mkdtemp makes it 0700, private to its owner
    except OSError as exc:
        raise OutputError(f"{directory}: cannot write ({exc.strerror})") from exc
    try:
        for name in models:
            version = staging / name / "1"
            version.mkdir(parents=True)
            (staging / name / "config.pbtxt").write_text(
                model_config(
                    name,
                    name,
                    device=device,
                    instances=instances,
                    max_spacepoints=max_spacepoints,
                    max_neighbours=max_neighbours,
                )
            )
            shutil.copyfile(_MODEL_FILE, version / "model.py")
            if entries[name].uses_bundle:  # the bundle travels beside its model.py
                shutil.copytree(bundle_dir, version / "bundle")
        for wheel in wheels:  # acts-gnn's wheel, put there for the container to install
            shutil.copy2(wheel, staging / wheel.name)
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"{directory}: cannot write ({exc})") from exc
    return sorted(p for p in directory.rglob("*") if p.is_file())
