"""A Triton Python-backend model serving one acts-gnn backend (copied by ``acts-gnn export-repo``).

Layer: triton. This file is not imported by acts-gnn itself: ``export-repo`` copies it to
``<repository>/<model>/1/model.py``, where the Python backend of a standard Triton server loads
it. The server's Python needs acts-gnn installed (from its repository or a wheel built there).
What it serves is read from the model's ``config.pbtxt`` parameters: ``acts_gnn_backend`` (a
name or alias in the :mod:`acts_gnn.finders` registry, e.g. ``gnn_tracking``; a plug-in finder
needs ``$ACTS_GNN_FINDERS`` in the Triton server's environment), ``device`` (``cpu`` or
``cuda``; a GPU instance group picks its own device), ``max_spacepoints`` and optionally
``max_neighbours``; the model bundle, when the backend needs one, lies in ``bundle/`` beside
this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import triton_python_backend_utils as pb_utils

from acts_gnn.triton.backends import answer, make_backend
from acts_gnn.triton.contract import DEFAULT_MAX_SPACEPOINTS, FEATURES, ContractError


class TritonPythonModel:
    """The Python backend's model interface: ``initialize`` once per instance, then ``execute``."""

    def initialize(self, args: dict[str, str]) -> None:
        """Build this instance's backend from the model configuration."""
        config = json.loads(args["model_config"])
        parameters = {
            key: value["string_value"] for key, value in config.get("parameters", {}).items()
        }
        device = parameters.get("device", "cpu")
        if args.get("model_instance_kind") == "GPU":
            device = f"cuda:{args.get('model_instance_device_id', 0)}"
        bundle = Path(args["model_repository"]) / args["model_version"] / "bundle"
        settings = {}
        if "max_neighbours" in parameters:
            settings["max_neighbours"] = int(parameters["max_neighbours"])
        self.backend = make_backend(
            parameters["acts_gnn_backend"], bundle if bundle.is_dir() else None, device, **settings
        )
        self.max_spacepoints = int(parameters.get("max_spacepoints", DEFAULT_MAX_SPACEPOINTS))

    def execute(self, requests: list) -> list:
        """One response per request; a request that breaks the contract gets an error response."""
        responses = []
        for request in requests:
            features = pb_utils.get_input_tensor_by_name(request, FEATURES)
            try:
                if features is None:
                    raise ContractError(f"the request has no {FEATURES} input")
                tensors = answer(
                    self.backend,
                    features.as_numpy(),
                    set(request.requested_output_names()),
                    self.max_spacepoints,
                )
            except ContractError as exc:
                # INVALID_ARG since Triton 23.11 (attached to pb_utils only once the stub runs)
                code = getattr(pb_utils.TritonError, "INVALID_ARG", 0)
                error = pb_utils.TritonError(str(exc), code)
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[pb_utils.Tensor(name, array) for name, array in tensors.items()]
                )
            )
        return responses

    def finalize(self) -> None:
        """Release the backend."""
        self.backend = None
