"""Tracking as a service: the tensor contract, the PyTriton server and the tritonclient client.

Layer: triton (above ``gnn``). tritonclient and pytriton are imported inside functions.
"""
