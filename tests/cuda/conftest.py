"""Kernels run in Numba's CUDA simulator here unless a real GPU run is asked for.

``ACTS_GNN_REAL_CUDA=1`` (set by ``make gpu-check``) keeps the real CUDA target for the ``gpu``
tests; otherwise ``NUMBA_ENABLE_CUDASIM=1`` is set before ``numba.cuda`` is first imported.
"""

from __future__ import annotations

import os

if os.environ.get("ACTS_GNN_REAL_CUDA") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
