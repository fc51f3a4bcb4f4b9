"""The console script's entry point: answer the instant questions before importing typer.

``relufind --version``, ``--list-rules`` and ``--explain RULE`` must answer in well under
0.3 s and never import torch; importing typer alone costs most of that budget. So when one
of them is the whole command line it is answered here from the plain-data rule catalog;
anything else (these with other options, an unknown rule, every analysis) goes to the typer
application in ``relufind.cli``, which prints exactly the same text.
"""

from __future__ import annotations

import sys


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
    if answer_fast(sys.argv[1:]):
        return
    from .cli import main as run
    from .gcpause import whole_run

    with whole_run():
        run()
