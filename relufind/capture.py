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


@contextlib.contextmanager
def captured_output(sink: io.StringIO) -> Iterator[io.StringIO]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _fd1_to_stderr(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                yield sink
            finally:
                for warning in caught:
                    sink.write(f"warning: {warning.category.__name__}: {warning.message}\n")


@contextlib.contextmanager
def _fd1_to_stderr() -> Iterator[None]:
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, io.UnsupportedOperation):  # no real fd 1 (embedded, pytest capture)
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def import_torch_quietly() -> None:
    """Import torch without its warnings (a missing numpy warns at import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch  # noqa: F401
