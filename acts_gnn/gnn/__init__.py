"""The GNN pipeline: models, stages, the Pipeline, model bundles and training.

Layer: gnn (above ``cuda``; below ``triton``, ``acts``, ``metrics``). torch and torch_geometric are
imported by the modules here, never at package import.
"""
