"""Lint rules: a catalog of plain metadata (no torch), selection, and the checks over regions.

``catalog`` and ``select`` never import torch, so ``--list-rules``, ``--explain`` and option
validation stay fast; the checks import torch when the first target is analysed.
"""
