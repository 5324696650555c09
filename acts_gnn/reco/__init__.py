"""Reconstruction: the job that runs a track finder over input files and writes its outputs.

Layer: reco (floor 4, beside ``triton``, which it does not import; below ``api``, ``bench`` and
``cli``). The track finders themselves are listed in :mod:`acts_gnn.finders`.
"""
