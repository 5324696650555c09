"""Integration with real ACTS (PyPI ``pyacts``): simulation recipes, the Sequencer algorithm.

Layer: acts (beside ``triton`` and ``metrics``). ``acts`` itself is imported inside functions, so
this package imports without the ``acts`` extra.
"""

__all__ = ["GnnTrackFinding"]


def __getattr__(name: str):
    if name == "GnnTrackFinding":  # defined on first use: it subclasses pyacts's IAlgorithm
        from acts_gnn.acts.algorithm import GnnTrackFinding

        return GnnTrackFinding
    raise AttributeError(name)
