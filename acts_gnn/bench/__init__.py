"""Benchmark harness (``acts-gnn benchmark``): throughput, latency and utilisation, local vs served.

Layer: bench (above triton and metrics, below cli).
"""
