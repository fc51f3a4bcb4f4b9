"""The console script's entry point: answer what it can before importing typer.

``relufind --version``, ``--list-rules`` and ``--explain RULE`` must answer in well under
0.3 s and never import torch; importing typer alone costs most of that budget. So when one
of them is the whole command line it is answered here from the plain-data rule catalog;
an unknown rule, or one of them among other options, goes to the typer application in
``relufind.cli``, which prints exactly the same text.

Then a plain command line (targets and options in their common spellings, ``relufind.argv``)
runs without typer at all, which matters for a cached CI run that finishes in a few tenths
of a second; the rest (``--help``, anything unusual, every mistake) goes to typer.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .command import Invocation


def answer_fast(argv: list[str]) -> bool:
    """Print the answer and return True when ``argv`` is one of the instant questions."""
    if argv == ["--version"]:
        from . import __version__

        print(f"relufind {__version__}")
        return True
    if argv == ["--list-rules"]:
        from .rules.catalog import list_text

        print(list_text(), end="")
        return True
    explain = None
    if len(argv) == 2 and argv[0] == "--explain":
        explain = argv[1]
    elif len(argv) == 1 and argv[0].startswith("--explain="):
        explain = argv[0].partition("=")[2]
    if explain is not None:
        from .rules.catalog import explain_text, lookup

        rule = lookup(explain)
        if rule is not None:
            print(explain_text(rule), end="")
            return True
    return False


def main() -> None:
    argv = sys.argv[1:]
    if answer_fast(argv):
        return
    from .argv import fast_invocation
    from .gcpause import whole_run

    invocation = fast_invocation(argv)
    with whole_run():
        if invocation is None:  # help, an option typer must check, a mistake to explain
            from .cli import main as typer_main

            typer_main()
            return
        code = _run(invocation)
    sys.exit(code)


def _run(invocation: Invocation) -> int:
    """``command.run`` with what typer's standalone mode would do around it."""
    from .command import run

    try:
        return run(invocation)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``relufind . | head``): no traceback for the flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
