"""The GNN pipeline: models, stages, the Pipeline, model bundles, training and its recipe.

Layer: gnn (floor 3: above ``cuda`` and ``metrics``, which the training recipe scores with; below
``reco``, ``triton``, ``acts``). torch is imported by the modules here, never at package import.
"""
