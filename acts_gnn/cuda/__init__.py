"""The two graph kernels of the pipeline and device resolution.

Layer: cuda (above ``io``, below ``gnn``). K1 — fixed-radius neighbours in latent space
(:mod:`acts_gnn.cuda.frnn`); K2 — connected components (:mod:`acts_gnn.cuda.components`). Each has
a CPU implementation that is the reference; the Numba CUDA twins slot in beside them.
"""
