"""``acts-gnn export-repo``: the config Triton parses, the model.py its Python backend runs."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed")

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as pb

from acts_gnn.errors import ConfigError, OutputError
from acts_gnn.finders import make_finder
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events
from acts_gnn.triton.export import export_repository

MODELS = ("gnn_tracking", "unrolling_tracking")


@pytest.fixture(scope="module")
def event():
    (e,) = list(open_events([example_dir()]))
    return e


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    directory = tmp_path_factory.mktemp("export") / "repo"
    export_repository(directory, MODELS, instances=2, max_spacepoints=10_000)
    return directory


def _config(repository, name):
    return text_format.Parse((repository / name / "config.pbtxt").read_text(), pb.ModelConfig())


def test_layout(repository):
    files = sorted(str(p.relative_to(repository)) for p in repository.rglob("*") if p.is_file())
    assert files == [
        "gnn_tracking/1/bundle/bundle.json",
        "gnn_tracking/1/bundle/embedding.pt",
        "gnn_tracking/1/bundle/filter.pt",
        "gnn_tracking/1/bundle/gnn.pt",
        "gnn_tracking/1/bundle/quality.pt",
        "gnn_tracking/1/model.py",
        "gnn_tracking/config.pbtxt",
        "unrolling_tracking/1/model.py",
        "unrolling_tracking/config.pbtxt",
    ]


def test_config_follows_the_contract(repository):
    config = _config(repository, "gnn_tracking")
    assert (config.name, config.backend, config.max_batch_size) == ("gnn_tracking", "python", 0)
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
        ("FEATURES", pb.TYPE_FP32, [-1, 3])
    ]
    assert [(o.name, o.data_type, list(o.dims)) for o in config.output] == [
        ("LABELS", pb.TYPE_INT64, [-1]),
        ("STAGE_SECONDS", pb.TYPE_FP64, [5]),
        ("EDGE_COUNTS", pb.TYPE_INT64, [2]),
    ]
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (2, pb.ModelInstanceGroup.KIND_CPU)
    ]
    assert {k: v.string_value for k, v in config.parameters.items()} == {
        "acts_gnn_backend": "gnn_tracking",
        "device": "cpu",
        "max_spacepoints": "10000",
    }


def test_a_gpu_export_asks_for_gpu_instances(tmp_path):
    export_repository(tmp_path / "repo", ("unrolling_tracking",), device="cuda")
    (group,) = _config(tmp_path / "repo", "unrolling_tracking").instance_group
    assert group.kind == pb.ModelInstanceGroup.KIND_GPU


# -- model.py against a minimal stand-in of triton_python_backend_utils ---------------------


def _stand_in() -> ModuleType:
    utils = ModuleType("triton_python_backend_utils")

    class Tensor:
        def __init__(self, name, array):
            self._name, self._array = name, np.asarray(array)

        def name(self):
            return self._name

        def as_numpy(self):
            return self._array

    class TritonError:
        INVALID_ARG = 3

        def __init__(self, message, code=0):
            self.message, self.code = message, code

    class InferenceResponse:
        def __init__(self, output_tensors, error=None):
            self.output_tensors, self.error = output_tensors, error

    def get_input_tensor_by_name(request, name):
        return request.inputs.get(name)

    utils.Tensor, utils.TritonError, utils.InferenceResponse = (
        Tensor,
        TritonError,
        InferenceResponse,
    )
    utils.get_input_tensor_by_name = get_input_tensor_by_name
    return utils


class _Request:
    def __init__(self, utils, features, outputs=()):
        self.inputs = {} if features is None else {"FEATURES": utils.Tensor("FEATURES", features)}
        self._outputs = list(outputs)

    def requested_output_names(self):
        return self._outputs


@pytest.fixture
def served(repository, monkeypatch):
    """name → (stand-in utils, an initialised TritonPythonModel of that exported model)."""
    utils = _stand_in()
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)

    def load(name):
        path = repository / name / "1" / "model.py"
        spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.TritonPythonModel()
        config = json_format.MessageToDict(
            _config(repository, name), preserving_proto_field_name=True
        )
        model.initialize(
            {
                "model_config": json.dumps(config),
                "model_instance_kind": "CPU",
                "model_instance_device_id": "0",
                "model_repository": str(repository / name),
                "model_version": "1",
            }
        )
        return model

    return utils, load


@pytest.mark.parametrize(
    ("name", "backend"), [("gnn_tracking", "gnn"), ("unrolling_tracking", "unrolling")]
)
def test_model_py_labels_equal_the_local_finder(served, event, name, backend):
    utils, load = served
    model = load(name)
    (response,) = model.execute([_Request(utils, event.features())])
    assert response.error is None
    assert [t.name() for t in response.output_tensors] == ["LABELS"]
    labels = response.output_tensors[0].as_numpy()
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, make_finder(backend).reconstruct(event).labels)


def test_model_py_answers_optional_outputs_only_when_asked(served, event):
    utils, load = served
    model = load("gnn_tracking")
    (response,) = model.execute(
        [_Request(utils, event.features()[:500], ["LABELS", "STAGE_SECONDS", "EDGE_COUNTS"])]
    )
    tensors = {t.name(): t.as_numpy() for t in response.output_tensors}
    assert set(tensors) == {"LABELS", "STAGE_SECONDS", "EDGE_COUNTS"}
    assert tensors["STAGE_SECONDS"].shape == (5,) and tensors["EDGE_COUNTS"].shape == (2,)
    assert tensors["EDGE_COUNTS"][0] >= tensors["EDGE_COUNTS"][1]


def test_model_py_refuses_bad_requests_and_answers_the_next(served, event):
    utils, load = served
    model = load("unrolling_tracking")
    bad = [
        (np.ones((3, 3)), "FEATURES must be FP32, got float64"),
        (np.ones((3, 4), np.float32), "FEATURES must have shape [N, 3], got [3, 4]"),
        (np.zeros((0, 3), np.float32), "FEATURES has no rows; send at least one space point"),
        (np.array([[0.1, np.inf, 0.0]], np.float32), "FEATURES row 0 is not finite"),
        (np.full((10_001, 3), 0.1, np.float32), "more than this server's cap of 10000"),
        (None, "the request has no FEATURES input"),
    ]
    requests = [_Request(utils, array) for array, _ in bad] + [_Request(utils, event.features())]
    responses = model.execute(requests)
    for response, (_, message) in zip(responses, bad, strict=False):
        assert response.output_tensors == []
        assert message in response.error.message
        assert response.error.code == utils.TritonError.INVALID_ARG
    assert responses[-1].error is None
    assert responses[-1].output_tensors[0].as_numpy().shape == (len(event),)


# -- refusals ---------------------------------------------------------------------------------


def test_an_existing_repository_is_not_replaced_without_force(repository):
    before = sorted(repository.rglob("*"))
    with pytest.raises(OutputError, match="a model repository is there already \\(use --force"):
        export_repository(repository, ("unrolling_tracking",))
    assert sorted(repository.rglob("*")) == before


def test_force_replaces_a_repository_keeps_its_wheel_and_never_replaces_other_files(tmp_path):
    repo = tmp_path / "repo"
    export_repository(repo, ("unrolling_tracking", "null_tracking"))
    (repo / "acts_gnn-0.1.0-py3-none-any.whl").write_bytes(b"the wheel")  # as the README says
    export_repository(repo, ("null_tracking",), overwrite=True)
    assert sorted(p.name for p in repo.iterdir()) == [
        "acts_gnn-0.1.0-py3-none-any.whl",
        "null_tracking",
    ]
    assert (repo / "acts_gnn-0.1.0-py3-none-any.whl").read_bytes() == b"the wheel"
    # a directory of other files (events, notes, a home directory) is never replaced
    events = tmp_path / "events"
    events.mkdir()
    (events / "notes.txt").write_text("mine")
    message = f"{events}: holds files that are not a model repository; give a new or empty"
    with pytest.raises(OutputError, match=message):
        export_repository(events, ("null_tracking",), overwrite=True)
    (repo / "notes.txt").write_text("mine")  # nor a repository with something else in it
    with pytest.raises(OutputError, match="holds files that are not a model repository"):
        export_repository(repo, ("null_tracking",), overwrite=True)
    assert (events / "notes.txt").read_text() == (repo / "notes.txt").read_text() == "mine"
    # nor a Triton repository of other models (a site's own ONNX model)
    site = tmp_path / "site"
    (site / "onnx_model" / "1").mkdir(parents=True)
    (site / "onnx_model" / "config.pbtxt").write_text(
        'name: "onnx_model"\nbackend: "onnxruntime"\n'
    )
    with pytest.raises(OutputError, match="site: holds files that are not a model repository"):
        export_repository(site, ("null_tracking",), overwrite=True)
    assert (site / "onnx_model" / "config.pbtxt").exists()
    # a wheel copied in first (no repository yet) is kept, without --force
    first = tmp_path / "first"
    first.mkdir()
    (first / "acts_gnn-0.1.0-py3-none-any.whl").write_bytes(b"the wheel")
    export_repository(first, ("null_tracking",))
    assert sorted(p.name for p in first.iterdir()) == [
        "acts_gnn-0.1.0-py3-none-any.whl",
        "null_tracking",
    ]
    with pytest.raises(OutputError, match=f"{events / 'notes.txt'}: is a file, not a directory"):
        export_repository(events / "notes.txt", ("null_tracking",), overwrite=True)
    with pytest.raises(ConfigError, match="--max-spacepoints must be at least 1, got 0"):
        export_repository(tmp_path / "new", ("null_tracking",), max_spacepoints=0)


def test_unknown_model_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'nope'; choose from gnn_tracking"):
        export_repository(tmp_path / "repo", ("nope",))
    assert list(tmp_path.iterdir()) == []


def test_gnn_settings_for_models_without_a_bundle_are_refused(tmp_path):
    for models, options, message in (
        (("unrolling_tracking",), {"bundle": tmp_path}, "--bundle: settings of a GNN model; "
         "unrolling_tracking takes none"),
        (("null_tracking", "unrolling_tracking"), {"max_neighbours": 8},
         "--max-neighbours: settings of a GNN model; null_tracking, unrolling_tracking take none"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as refused:
            export_repository(tmp_path / "repo", models, **options)
        assert str(refused.value) == message
    assert not (tmp_path / "repo").exists()
    with pytest.raises(ConfigError) as refused:  # its ":1" was silently dropped
        export_repository(tmp_path / "repo", ("unrolling_tracking",), device="cuda:1")
    assert str(refused.value) == (
        "device must be cpu or cuda (the instances go on every GPU the server sees; choose them "
        "with CUDA_VISIBLE_DEVICES), got 'cuda:1'"
    )


def test_cli(run_cli, tmp_path):
    result = run_cli("export-repo", tmp_path / "repo", "--model", "unrolling_tracking")
    assert result.exit_code == 0, result.stderr
    assert "wrote 2 files" in result.stderr
    again = run_cli("export-repo", tmp_path / "repo", "--model", "unrolling_tracking")
    assert again.exit_code == 2  # an output refused before any work: a usage error
    assert again.stderr.startswith("acts-gnn: error: ") and "use --force" in again.stderr
    twice = ("--model", "unrolling_tracking") * 2  # exported once (it failed: File exists)
    result = run_cli("export-repo", tmp_path / "twice", *twice)
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "twice").iterdir()] == ["unrolling_tracking"]
    # a wheel kept there is not counted as written
    (tmp_path / "repo" / "acts_gnn-0.1.0-py3-none-any.whl").write_bytes(b"the wheel")
    replaced = run_cli("export-repo", tmp_path / "repo", "--model", "unrolling_tracking", "--force")
    assert replaced.stderr.endswith(
        f"wrote 2 files to {tmp_path / 'repo'}; kept 1 wheel(s) there\n"
    ), replaced.stderr
    # -o as every other command's output: "No such option: -o"
    result = run_cli("export-repo", "-o", tmp_path / "o", "--model", "unrolling_tracking")
    assert (result.exit_code, result.stderr) == (0, f"wrote 2 files to {tmp_path / 'o'}\n")
    for args, said in (
        ((tmp_path / "a", "-o", tmp_path / "b"), f"DIRECTORY {tmp_path / 'a'} and -o "),
        (("--model", "unrolling_tracking"), "no repository directory: give DIRECTORY or -o"),
    ):
        result = run_cli("export-repo", *args)
        assert result.exit_code == 2 and result.stderr.startswith(f"acts-gnn: error: {said}")


# -- the exported repository on a real Triton server ----------------------------------------


@pytest.mark.triton
def test_a_real_tritonserver_serves_the_exported_repository(repository, event, tmp_path):
    pytest.importorskip("pytriton", reason="needs PyTriton's bundled tritonserver")
    import tritonclient.grpc as grpc

    from tests.triton.serving import BundledTritonServer

    server = BundledTritonServer(repository, tmp_path).wait_ready()
    try:
        client = grpc.InferenceServerClient(server.grpc_url)
        for name, backend in (("gnn_tracking", "gnn"), ("unrolling_tracking", "unrolling")):
            tensor = grpc.InferInput("FEATURES", list(event.features().shape), "FP32")
            tensor.set_data_from_numpy(event.features())
            labels = client.infer(name, [tensor]).as_numpy("LABELS")
            np.testing.assert_array_equal(labels, make_finder(backend).reconstruct(event).labels)
        nan = grpc.InferInput("FEATURES", [1, 3], "FP32")
        nan.set_data_from_numpy(np.array([[np.nan, 0.0, 0.0]], np.float32))
        with pytest.raises(Exception, match=r"INVALID_ARGUMENT.*FEATURES row 0 is not finite"):
            client.infer("gnn_tracking", [nan])
    finally:
        server.stop()


def test_max_neighbours_travels_to_the_served_pipeline(tmp_path, monkeypatch, event):
    repository = tmp_path / "repo"
    export_repository(repository, ("gnn_tracking",), max_neighbours=8)
    config = _config(repository, "gnn_tracking")
    assert config.parameters["max_neighbours"].string_value == "8"
    utils = _stand_in()
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)
    spec = importlib.util.spec_from_file_location(
        "exported_k8", repository / "gnn_tracking/1/model.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.TritonPythonModel()
    model.initialize(
        {
            "model_config": json.dumps(
                json_format.MessageToDict(config, preserving_proto_field_name=True)
            ),
            "model_repository": str(repository / "gnn_tracking"),
            "model_version": "1",
        }
    )
    features = event.features()[:2000]
    (response,) = model.execute([_Request(utils, features, ["EDGE_COUNTS"])])
    edges = {t.name(): t.as_numpy() for t in response.output_tensors}["EDGE_COUNTS"]
    assert 0 < edges[0] <= 8 * len(features)
    with pytest.raises(ConfigError, match="--max-neighbours must be at least 1, got 0"):
        export_repository(tmp_path / "other", ("gnn_tracking",), max_neighbours=0)
