"""Pausing Python's cyclic garbage collector around work that makes no cyclic garbage.

Kept apart from the analysis modules: the CLI uses it while writing a report answered from
the cache, where torch must not be imported.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused(paused: bool = True) -> Iterator[None]:
    """No cyclic garbage collection while a model is built on ``meta``, analysed or its report
    written (``paused=False``: collect again inside such a block).

    Building, tracing and analysing a deep model create hundreds of thousands of objects
    that all stay alive until the report is written (modules, graph nodes, per-node reaches
    and facts, the report); every full collection would walk all of them and torch's own
    objects again, to free nothing: a quarter of the analysis time on a 6k-node graph. Garbage made meanwhile
    is freed by reference counting, and whatever cycles remain are collected once the block
    ends (in one collection: one block per model, not one per stage).
    """
    enabled = gc.isenabled()
    if paused:
        gc.disable()
    else:
        gc.enable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        else:
            gc.disable()
