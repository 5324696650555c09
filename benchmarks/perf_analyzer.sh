#!/bin/sh
# perf_analyzer from .venv-pa (make perf-analyzer) with the CUDA runtime it links against.
here=$(dirname "$0")
for lib in "$here"/lib/python3*/site-packages/nvidia/cuda_runtime/lib; do
    LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export LD_LIBRARY_PATH
exec "$here/bin/perf_analyzer" "$@"
