"""The ``acts-gnn`` command line: one module per command, each a thin layer over one library call.

Layer: top. Nothing heavy is imported at module level, so ``acts-gnn --help`` is instant.
"""
