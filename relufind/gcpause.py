"""Pausing Python's cyclic garbage collector around work that makes no cyclic garbage.

Kept apart from the analysis modules: the CLI uses it while writing a report answered from
the cache, where torch must not be imported.

The console script pauses the collector for its whole run (``whole_run``): every stage of
an analysis keeps what it makes alive until the report is written, so a collection in
between walks a deep model's million objects to free nothing. What one model leaves (its
graph and analysis are reference cycles) is collected before the next model is analysed in
the same process (``next_model``), and what the last one leaves goes with the process.
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


@contextlib.contextmanager
def whole_run() -> Iterator[None]:
    """The console script's run: the collector paused from start to end, and what is left
    at the end left to the operating system.

    After the report is written, a deep model's graph and analysis are still a few hundred
    thousand objects in reference cycles: the collections of interpreter shutdown would walk
    and free them one by one (0.6 s on a 16k-node graph) for memory the process hands back
    anyway. ``gc.freeze()`` moves them out of the collector's sight; ``atexit`` handlers still
    run and streams are still flushed and closed as usual.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()


_model_analysed = False


def next_model() -> None:
    """Before a model is analysed in this process: under a run-long pause (``whole_run``),
    free what the previous model left, as the end of its own paused block would have."""
    global _model_analysed
    if _model_analysed and not gc.isenabled():
        gc.collect(0)  # all that is young: made since the last such collection
    _model_analysed = True
