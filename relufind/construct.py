"""Where each module was constructed: the ``defined_at`` line of module sites.

While relufind builds a model, ``recording()`` wraps ``nn.Module.__init__`` and notes, for
every module constructed, the innermost stack frame outside torch and relufind that is not
the module's own ``__init__`` chain: the line of the ``nn.ReLU(...)`` expression — inside an
``nn.Sequential(...)`` or a helper like ``conv_relu(...)`` — not the line that later calls the
Sequential. Several ReLUs in one Sequential then have distinct lines, which a suppression
comment and a CI annotation need.

A model built elsewhere (``scan(model)``, a pickled model) has no construction record.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from collections.abc import Iterator
from types import FrameType

import torch
import torch.nn as nn

from .report import SourceLoc

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_RELUFIND_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: module -> construction line; weak, so a failed build attempt's modules just vanish
Constructions = weakref.WeakKeyDictionary


def _construction_line(module: nn.Module, frame: FrameType | None) -> SourceLoc | None:
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = filename.startswith((_TORCH_DIR, _RELUFIND_DIR)) or filename.startswith("<frozen")
        # a user subclass's own __init__ (``super().__init__()``) is not where it was built;
        # asked only outside torch (``f_locals`` copies the frame's locals)
        if not internal and not _own_init(frame, module):
            return SourceLoc(filename, frame.f_lineno)
        frame = frame.f_back
    return None


def _own_init(frame: FrameType, module: nn.Module) -> bool:
    return frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is module


@contextlib.contextmanager
def recording() -> Iterator[weakref.WeakKeyDictionary[nn.Module, SourceLoc]]:
    """Record the construction line of every module built inside the block."""
    record: weakref.WeakKeyDictionary[nn.Module, SourceLoc] = weakref.WeakKeyDictionary()
    original = nn.Module.__init__

    def init(self: nn.Module, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        if self not in record:  # the outermost __init__ call only
            line = _construction_line(self, sys._getframe(1))
            if line is not None:
                record[self] = line

    nn.Module.__init__ = init  # type: ignore[method-assign]
    try:
        yield record
    finally:
        nn.Module.__init__ = original  # type: ignore[method-assign]
