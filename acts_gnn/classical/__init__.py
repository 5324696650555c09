"""Classical (non-GNN) track finders that work from the same three contract features.

Layer: beside ``gnn`` (uses ``cuda``'s CPU kernels; no torch).
"""
