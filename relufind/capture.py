"""Keep whatever model code prints or warns out of the report stream.

Model files print, warn and log at import, construction and trace time. None of it may
reach stdout, where a JSON document is being written: Python-level output is captured
(and shown on stderr with ``--debug``), C-level writes to file descriptor 1 go to stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def captured_output(sink: io.StringIO) -> Iterator[io.StringIO]:
    stand_in = _KeepOpen()  # what model code sees as sys.stdout / sys.stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _fd1_to_stderr(), contextlib.redirect_stdout(stand_in), contextlib.redirect_stderr(stand_in):
            try:
                yield sink
            finally:
                sink.write(stand_in.getvalue())
                for warning in caught:
                    sink.write(f"warning: {warning.category.__name__}: {warning.message}\n")


class _KeepOpen(io.StringIO):
    """A capture buffer that model code cannot close (``sys.stdout.close()`` at import)."""

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _fd1_to_stderr() -> Iterator[None]:
    try:
        _flush_stdout_buffers()
        saved = os.dup(1)
    except (OSError, ValueError, io.UnsupportedOperation):  # no real fd 1 (embedded, pytest capture)
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        # what the model left in a buffer (sys.__stdout__, C stdio) goes out while fd 1 is stderr
        _flush_stdout_buffers()
        os.dup2(saved, 1)
        os.close(saved)


def _flush_stdout_buffers() -> None:
    for stream in dict.fromkeys((sys.stdout, sys.__stdout__)):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError, AttributeError):  # closed or replaced by model code
            pass
    _flush_c_stdio()


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: C-level printf output still sitting in the C library's buffer."""
    global _fflush
    if _fflush is None:
        try:
            import ctypes

            _fflush = ctypes.CDLL(None).fflush
        except (OSError, AttributeError, TypeError):  # no C library handle (Windows)
            _fflush = False
    if _fflush:
        _fflush(None)


_fflush: Any = None


def import_torch_quietly() -> None:
    """Import torch without its warnings (a missing numpy warns at import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch  # noqa: F401
