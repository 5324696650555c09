"""Integration with real ACTS (PyPI ``pyacts``): simulation recipes, the Sequencer algorithm.

Layer: acts (beside ``triton`` and ``metrics``). ``acts`` itself is imported inside functions, so
this package imports without the ``acts`` extra.
"""
