"""``make gpu-check``: the GPU tests, K1/K2 timings against references, the pipeline on μ = 200.

Run on a machine with a CUDA GPU (see ../.library/device/README.md for how it is lent):

    python benchmarks/gpu_check.py OUTDIR [--events DIR_OF_NPZ] [--max-events 3]
                                          [--sizes 10000,100000,300000]

Writes ``OUTDIR/gpu_check.json`` (everything measured, rewritten after every step: a run stopped
by its time limit still returns what it measured) and prints a short table last. With
``NUMBA_ENABLE_CUDASIM=1`` it runs in Numba's simulator on tiny sizes — a smoke test of the script
itself, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _timed(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls (the first call is a warm-up, not counted)."""
    import torch

    fn()
    best = float("inf")
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def _torch_all_pairs(latent, radius: float, k: int):
    """Reference K1: blockwise torch.cdist + topk on the GPU (no exact tie rule)."""
    import torch

    out = []
    for start in range(0, latent.shape[0], 4096):
        d = torch.cdist(latent[start : start + 4096], latent)
        values, index = d.topk(min(k + 1, latent.shape[0]), largest=False)
        out.append(index[values < radius])
    return out


def kernel_timings(sizes: list[int], radius: float, k: int, rows: list[dict], save) -> None:
    """K1 and K2 against their references per size, a row each into ``rows`` (``save()`` after
    each)."""
    import torch

    from acts_gnn.cuda.components import connected_components_cpu
    from acts_gnn.cuda.components_cuda import connected_components_cuda
    from acts_gnn.cuda.frnn import radius_graph_cpu
    from acts_gnn.cuda.frnn_cuda import radius_graph_cuda

    device = "cuda" if torch.cuda.is_available() else "cpu"
    for n in sizes:
        rng = np.random.default_rng(n)
        # clustered points, like an embedding: 8-D, tracks of ~10 points
        centres = rng.normal(size=(n // 10 + 1, 8)) * 3
        latent = (centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, 8)) * 0.2)
        latent = latent.astype(np.float32)
        r = rng.uniform(30, 1000, n).astype(np.float32)
        lt, rt = torch.from_numpy(latent).to(device), torch.from_numpy(r).to(device)
        row: dict = {"n": n}
        row["k1_cpu_s"] = _timed(lambda: radius_graph_cpu(latent, r, radius, k), repeat=1)
        row["k1_cuda_s"] = _timed(lambda: radius_graph_cuda(lt, rt, radius, k))
        if n <= 100_000:  # the all-pairs reference, O(N^2)
            row["k1_cuda_brute_s"] = _timed(
                lambda: radius_graph_cuda(lt, rt, radius, k, method="brute"), repeat=1
            )
        if device == "cuda":
            row["k1_torch_cdist_s"] = _timed(lambda: _torch_all_pairs(lt, radius, k))
            gpu = radius_graph_cuda(lt, rt, radius, k).cpu().numpy()
            row["k1_equal_cpu"] = bool(np.array_equal(gpu, radius_graph_cpu(latent, r, radius, k)))
        edges = radius_graph_cpu(latent, r, radius, k)
        et = torch.from_numpy(edges).to(device)
        row["edges"] = int(edges.shape[1])
        row["k2_cpu_s"] = _timed(lambda: connected_components_cpu(n, edges, 3), repeat=1)
        row["k2_cuda_s"] = _timed(lambda: connected_components_cuda(n, et, 3))
        try:
            import cupy
            import cupyx.scipy.sparse as cs
            import cupyx.scipy.sparse.csgraph as cg

            ce = cupy.asarray(edges)
            graph = cs.coo_matrix((cupy.ones(ce.shape[1]), (ce[0], ce[1])), shape=(n, n)).tocsr()
            row["k2_cupy_s"] = _timed(lambda: cg.connected_components(graph, directed=False))
        except Exception as exc:  # cupy missing or without csgraph
            row["k2_cupy_s"] = None
            row["k2_cupy_note"] = str(exc)[:120]
        rows.append(row)
        save()
        print(f"  {n:>7d} points: K1 cpu {row['k1_cpu_s']:.3f} s cuda {row['k1_cuda_s']:.4f} s; "
              f"K2 cpu {row['k2_cpu_s']:.4f} s cuda {row['k2_cuda_s']:.4f} s", flush=True)


def _scores(event, labels, prefix: str) -> dict:
    """``{prefix}efficiency`` and ``{prefix}fake_rate`` of ``labels`` (none without truth)."""
    from acts_gnn.metrics.matching import match_event

    if event.truth is None:
        return {}
    m = match_event(event.event_id, event.spacepoints, event.truth, labels)
    return {f"{prefix}efficiency": m.n_matched_targets / max(m.n_targets, 1),
            f"{prefix}fake_rate": (m.n_tracks - m.n_matched_tracks) / max(m.n_tracks, 1)}


def pipeline_timings(events: Path | None, max_events: int, rows: list[dict], save) -> None:
    """Each carried event through the pipeline on the GPU in every precision (fp32 as trained,
    TF32, bf16), timed after a warm-up, its tracks scored and compared with the CPU's (the
    compiled engine): the GPU path may use a reduced precision only where efficiency and fake
    rate stay within 0.1 point of fp32. A row each into ``rows`` (``save()`` after each).
    Equal labels are not guaranteed even in fp32: the CPU works on the points in locality order
    (``locality_order``), where K1's index tie rule and the GNN's sums run in another order than
    on the GPU, so a score that lies on a cut may fall the other way (none did on the CPU's own
    13 events with and without the order)."""
    import torch

    from acts_gnn.gnn.pipeline import PRECISIONS, Pipeline
    from acts_gnn.io.cache import load_event_npz

    if events is None or not torch.cuda.is_available():
        return
    cpu = Pipeline(device="cpu")
    on_gpu = {precision: Pipeline(device="cuda", precision=precision) for precision in PRECISIONS}
    for path in sorted(events.glob("event*.npz"))[:max_events]:
        event = load_event_npz(path)
        cpu_labels = cpu.reconstruct(event).labels
        cpu_scores = _scores(event, cpu_labels, "cpu_")
        for precision, pipeline in on_gpu.items():
            pipeline.reconstruct(event)  # warm-up: compiles the kernels
            result = pipeline.reconstruct(event)
            row = {"event": path.name, "precision": precision, "n_spacepoints": len(event),
                   "total_s": result.timing.total_s, **result.timing.stages_s,
                   "n_edges_graph": result.timing.n_edges_graph,
                   "n_edges_filtered": result.timing.n_edges_filtered,
                   "labels_equal_cpu": bool(np.array_equal(result.labels, cpu_labels))}
            row.update(_scores(event, result.labels, ""), **cpu_scores)
            rows.append(row)
            save()
            print(f"  {path.name} {precision}: {1e3 * row['total_s']:.1f} ms, labels "
                  f"{'equal to' if row['labels_equal_cpu'] else 'differ from'} the CPU's",
                  flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--events", type=Path, default=None, help="folder of μ = 200 .npz events")
    parser.add_argument("--max-events", type=int, default=3, help="events timed (the first ones)")
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--radius", type=float, default=0.5)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    import torch

    from acts_gnn.io.atomic import write_text_atomic

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "simulator": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"}
    print(f"device: {info['device']}", flush=True)
    result: dict = {"info": info, "gpu_tests": None, "kernels": [], "pipeline": []}

    def save() -> None:
        """Rewrite the results file: a run stopped by its time limit returns what it measured."""
        write_text_atomic(args.outdir / "gpu_check.json", json.dumps(result, indent=2) + "\n")

    save()
    env = {**os.environ, "ACTS_GNN_REAL_CUDA": "0" if info["simulator"] else "1"}
    # every kernel test on the real CUDA target (the CPU CI runs them in the simulator), and the
    # gpu-marked tests; warnings are shown, not errors (numba warns of small grids on tiny tests)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-W", "default",
                            "-p", "no:cacheprovider", "tests/cuda", "tests/gnn/test_train.py",
                            "-m", "gpu or not slow"], cwd=REPO, env=env,
                           capture_output=True, text=True)
    summary_line = (tests.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"gpu tests: {summary_line}", flush=True)
    result["gpu_tests"] = {"returncode": tests.returncode, "summary": summary_line,
                           "output": tests.stdout[-4000:]}
    save()
    sizes = [int(s) for s in args.sizes.split(",")]
    kernels, pipeline = result["kernels"], result["pipeline"]
    kernel_timings(sizes, args.radius, args.k, kernels, save)
    pipeline_timings(args.events, args.max_events, pipeline, save)

    print(f"\n{'points':>8} {'K1 cpu':>9} {'K1 cuda':>9} {'×':>6} {'K2 cpu':>9} {'K2 cuda':>9} {'×':>6}")
    for row in kernels:
        print(f"{row['n']:>8d} {row['k1_cpu_s']:>9.4f} {row['k1_cuda_s']:>9.4f} "
              f"{row['k1_cpu_s'] / row['k1_cuda_s']:>6.1f} {row['k2_cpu_s']:>9.4f} "
              f"{row['k2_cuda_s']:>9.4f} {row['k2_cpu_s'] / row['k2_cuda_s']:>6.1f}")
    for row in pipeline:
        print(f"pipeline {row['event']} {row['precision']}: {row['n_spacepoints']} sp, "
              f"{1e3 * row['total_s']:.1f} ms, efficiency {row.get('efficiency', float('nan')):.4f} "
              f"(CPU {row.get('cpu_efficiency', float('nan')):.4f}), fakes "
              f"{row.get('fake_rate', float('nan')):.4f} (CPU {row.get('cpu_fake_rate', float('nan')):.4f})")
    print(f"gpu tests: {summary_line}; results in {args.outdir / 'gpu_check.json'}")
    return 0 if tests.returncode in (0, 5) else 1


if __name__ == "__main__":
    sys.exit(main())
