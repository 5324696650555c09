"""Reconstruction: track-finder backends and the job that runs one over input files.

Layer: above ``gnn``/``triton``/``metrics`` (it may use any of them), below ``bench`` and ``cli``.
"""
