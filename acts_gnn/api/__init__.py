"""The library call behind each command: a frozen request, checked, then run.

Layer: api (above ``reco`` and ``triton``: a request may choose between a local finder and a
served one).
"""
