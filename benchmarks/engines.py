"""PyTorch or ONNX Runtime for the per-edge networks? Measured side by side on a real event.

Usage: ``python benchmarks/engines.py [EVENT_DIR] [--out benchmarks/results/engines.md]``
(needs ``pip install onnxruntime``; not a dependency of acts-gnn).

The per-edge networks are where the filter and the GNN spend their time: the filter's MLP on
[edges, 19] inputs, and the GNN's edge networks on [edges, 3·hidden]. This script takes the
shipped bundle and the first μ = 200 event of ``EVENT_DIR``, builds the filter's real inputs for
its K1 edges (after the pre-selection) in the pipeline's 65,536-edge chunks, and runs the same
chunks through

- PyTorch (``inference_mode``, as the pipeline does), and
- ONNX Runtime (the network exported with ``torch.onnx.export``, a ``CPUExecutionProvider``
  session with all graph optimisations and no spinning threads),

alternating the two engines chunk by chunk so that both see the same machine load, at 1 and 2
intra-op threads. It reports the median milliseconds per chunk, the ratio, and the largest
difference between the engines' outputs.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acts_gnn.gnn.bundle import ModelBundle
from acts_gnn.gnn.geometry import edge_inputs, inverse_pt, node_inputs, point_eta
from acts_gnn.io.source import open_events

CHUNK = 65_536
MAX_CHUNKS = 24


def _filter_inputs(bundle: ModelBundle, features: np.ndarray) -> list[np.ndarray]:
    """The filter MLP's input rows for the event's K1 edges (pre-selected), chunk by chunk."""
    from acts_gnn.cuda.dispatch import radius_graph

    cfg = bundle.pipeline
    x = torch.from_numpy(features)
    with torch.inference_mode():
        latent = bundle.embedding(x)
        edges = radius_graph(latent, x[:, 0], cfg.radius, cfg.max_neighbours)
        if cfg.filter_max_inverse_pt is not None:
            edges = edges[:, inverse_pt(x, edges).abs() <= cfg.filter_max_inverse_pt]
        nodes, eta = node_inputs(x), point_eta(x)
        chunks = []
        for start in range(0, min(edges.shape[1], CHUNK * MAX_CHUNKS), CHUNK):
            e = edges[:, start : start + CHUNK]
            distance = (latent[e[0]] - latent[e[1]]).norm(dim=1)
            rows = torch.cat(
                [nodes[e[0]], nodes[e[1]], edge_inputs(x, e, eta), distance.unsqueeze(1)], dim=1
            )
            chunks.append(rows.numpy().copy())
    return chunks


def _session(net: torch.nn.Module, width: int, threads: int, path: Path):
    import onnxruntime as ort

    torch.onnx.export(
        net,
        (torch.zeros(8, width),),
        str(path),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "edges"}, "y": {0: "edges"}},
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ORT's threads spin after a run by default; here that would take the cores from PyTorch's
    # threads in the other half of each alternation (and from the rest of a pipeline)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _compare(name: str, net: torch.nn.Module, chunks: list[np.ndarray], threads: int) -> dict:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        session = _session(net, chunks[0].shape[1], threads, Path(scratch) / f"{name}.onnx")
        torch_ms, ort_ms, worst = [], [], 0.0
        with torch.inference_mode():
            for rep in range(2):  # the first pass warms both engines up and is not counted
                for chunk in chunks:
                    t0 = time.perf_counter()
                    ours = net(torch.from_numpy(chunk)).numpy()
                    t1 = time.perf_counter()
                    theirs = session.run(["y"], {"x": chunk})[0]
                    t2 = time.perf_counter()
                    if rep:
                        torch_ms.append(1000 * (t1 - t0))
                        ort_ms.append(1000 * (t2 - t1))
                        worst = max(worst, float(np.abs(ours - theirs).max()))
    t, o = float(np.median(torch_ms)), float(np.median(ort_ms))
    return {
        "network": name,
        "threads": threads,
        "rows": chunks[0].shape[0],
        "width": chunks[0].shape[1],
        "torch_ms": t,
        "ort_ms": o,
        "ratio": o / t,
        "max_abs_diff": worst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", default=".bench/mu200-seed3000")
    parser.add_argument("--out", default="benchmarks/results/engines.md")
    args = parser.parse_args()
    import onnxruntime as ort

    bundle = ModelBundle.load()
    event = next(iter(open_events([args.events])))
    chunks = _filter_inputs(bundle, np.ascontiguousarray(event.features(), dtype=np.float32))
    gnn = bundle.gnn
    rng = np.random.default_rng(0)
    width = 3 * gnn.config.hidden
    # the GNN's edge networks see [edges, 3·hidden] activations; their values do not change
    # the cost of a dense network, so random ones of the real shape stand in
    gnn_chunks = [rng.standard_normal((CHUNK, width)).astype(np.float32) for _ in chunks[:8]]
    rows = []
    for threads in (1, 2):
        rows.append(_compare("filter MLP", bundle.filter.net, chunks, threads))
        rows.append(_compare("GNN edge update MLP", gnn.edge_update, gnn_chunks, threads))
    lines = [
        "# PyTorch or ONNX Runtime for the per-edge networks",
        "",
        f"`python benchmarks/engines.py {args.events}` on {platform.processor() or 'x86_64'} "
        f"({torch.get_num_threads()} threads available), torch {torch.__version__}, "
        f"onnxruntime {ort.__version__}, event {event.event_id} ({len(event):,} space points), "
        f"{len(chunks)} filter chunks of {CHUNK:,} edges; engines alternate chunk by chunk.",
        "",
        "| network | threads | rows × width | PyTorch ms / chunk | ONNX Runtime ms / chunk "
        "| ORT / PyTorch | max abs diff |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['network']} | {r['threads']} | {r['rows']:,} × {r['width']} "
            f"| {r['torch_ms']:.2f} | {r['ort_ms']:.2f} | {r['ratio']:.2f} "
            f"| {r['max_abs_diff']:.1e} |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
