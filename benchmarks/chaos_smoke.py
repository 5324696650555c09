"""Chaos smoke check: four servers behind a balancer, three killed with SIGKILL early in a run.

Usage: ``python benchmarks/chaos_smoke.py nginx|envoy`` (from the repository root; needs the
``server`` extra and the balancer). 400 requests of the example event at concurrency 8 through
the balancer (client retries 3); servers 1, 2, 3 are killed 1.5, 3.0 and 4.5 s in. Prints how
many answers came back, whether each equals the local result, the errors, and latencies. A smoke
check, not the full chaos test of the scale-out issue (no restarts, one event).
"""

import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from acts_gnn.finders import make_finder
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events
from acts_gnn.triton.client import RemotePipeline
from tests.triton.serving import ServeProcess, descendants, running_command

engine = sys.argv[1]
ws = Path(tempfile.mkdtemp(prefix=f"acts-gnn-chaos-{engine}-"))
served = ServeProcess(
    ws,
    "--balancer",
    "4",
    "--balancer-engine",
    engine,
    "--model",
    "unrolling_tracking",
    "--instances",
    "1",
)
try:
    served.wait_ready(timeout_s=300)
    (event,) = open_events([example_dir()])
    expected = make_finder("unrolling").reconstruct(event).labels
    fam = descendants(served.process.pid)
    servers = [
        p
        for p in fam
        if "acts_gnn.cli.main serve" in (running_command(p) or "") and p != served.process.pid
    ]
    print("backend serve pids", servers, flush=True)
    remote = RemotePipeline([served.grpc_url], "unrolling_tracking", retries=3, timeout_s=30)
    N, C = 400, 8
    done, errors, lat = [], [], []
    lock = threading.Lock()
    counter = iter(range(N))

    def client():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t = time.perf_counter()
            try:
                labels = remote.reconstruct(event).labels
                ok = np.array_equal(labels, expected)
                with lock:
                    done.append(ok)
                    lat.append(time.perf_counter() - t)
            except Exception as exc:
                with lock:
                    errors.append(str(exc)[:200])

    threads = [threading.Thread(target=client) for _ in range(C)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for k, pid in enumerate(servers[:3]):
        time.sleep(1.5)
        os.killpg(pid, signal.SIGKILL)  # the server and its tritonserver (its own session)
        print(
            f"killed server {k + 1} at {time.perf_counter() - t0:.1f} s, "
            f"answered so far {len(done)}",
            flush=True,
        )
    for t in threads:
        t.join()
    print(
        engine,
        "answered",
        len(done),
        "all equal",
        all(done),
        "errors",
        len(errors),
        errors[:2],
        f"p50 {np.percentile(lat, 50):.3f} p99 {np.percentile(lat, 99):.3f} s",
        "wall %.1f s" % (time.perf_counter() - t0),
    )
finally:
    served.terminate()
    for pid in descendants(served.process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
