"""The command line: parse options, call the core, pick a renderer, exit with the report's code.

Nothing here imports torch at module level, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import ast
import sys
from enum import Enum
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from . import __version__
from .report import EXIT_ERROR


class Format(str, Enum):
    tree = "tree"
    json = "json"


app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


def _usage_error(message: str) -> typer.Exit:
    """Print one line for a command-line mistake; the caller raises the returned Exit(2)."""
    print(f"relufind: error: {message} (see relufind --help)", file=sys.stderr)
    return typer.Exit(EXIT_ERROR)


class _Command(TyperCommand):
    """Usage errors (bad --format, unknown option, ...) as one line on stderr, exit 2."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            # typer's coercion words some messages "Value error, ..."; the rest says it all
            raise _usage_error(exc.format_message().replace("Value error, ", "")) from None


def _version(value: bool) -> None:
    if value:
        print(f"relufind {__version__}")
        raise typer.Exit()


def parse_arg(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` with VALUE read as a Python literal, else kept as a string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise typer.BadParameter(f"--arg '{text}' is not NAME=VALUE (for example --arg hidden_size=64)")
    try:
        return name, ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return name, raw


def parse_input(text: str) -> tuple[tuple[int, ...], str | None]:
    """``8,20:long`` as a shape and a dtype name (None when no ``:dtype`` is given)."""
    from .vocab import INPUT_DTYPES

    shape_text, sep, dtype = text.partition(":")
    dtype = dtype.strip().lower().removeprefix("torch.")
    if sep and dtype not in INPUT_DTYPES:
        known = ", ".join(sorted(INPUT_DTYPES))
        raise typer.BadParameter(f"--input-shape '{text}': unknown dtype '{dtype}' (one of {known})")
    return parse_shape(shape_text), (dtype or None) if sep else None


def parse_shape(text: str) -> tuple[int, ...]:
    """``1,3,224,224`` (or ``1x3x224x224``) as a tuple of positive sizes."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 0 for d in shape):
        raise typer.BadParameter(f"--input-shape '{text}' is not a shape like 1,3,224,224")
    return shape


@app.command(no_args_is_help=True, cls=_Command)
def main_command(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET",
            help="file.py:Name, package.module:Name, file.py or folder/",
            show_default=False,
        ),
    ],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.tree,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            metavar="NAME=VALUE",
            help="Constructor argument (a Python literal, else a string). Repeatable.",
        ),
    ] = None,
    variants: Annotated[
        bool,
        typer.Option(
            "--variants",
            help="Also list ReLU6, LeakyReLU, PReLU and RReLU sites.",
        ),
    ] = False,
    eval_mode: Annotated[
        bool,
        typer.Option(
            "--eval",
            help="Analyse the model after .eval() (default: as constructed, usually training).",
        ),
    ] = False,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            metavar="TYPE",
            help="Treat modules of this class name as anchors too. Repeatable.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Give up on one target after this long (0: never).",
        ),
    ] = 300.0,
    input_shape: Annotated[
        list[str] | None,
        typer.Option(
            "--input-shape",
            metavar="D,D,...",
            help="Where fx cannot trace, retry with torch.export on meta inputs of this shape "
            "(one per forward input, e.g. 1,3,224,224; a dtype after a colon: 8,20:long). Repeatable.",
        ),
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Load pickled full models (torch.save(model)): this runs code stored in the file.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks and what the model code printed.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Find every ReLU in a PyTorch model and place it relative to its RNN/LSTM/GRU/Conv layers.

    Loading a .py target runs its code, exactly as importing it would. Saved models:
    model.pt (torch.jit.save) and model.pt2 (torch.export.save) are read without
    unpickling Python objects; a pickled full model needs --allow-pickle.
    """
    from .analyze import Options, scan_targets

    try:
        args = dict(parse_arg(a) for a in arg or [])
        inputs = [parse_input(s) for s in input_shape or ()]
    except typer.BadParameter as exc:
        raise _usage_error(exc.message) from None
    options = Options(
        args=args,
        variants=variants,
        eval=eval_mode,
        anchors=tuple(anchor or ()),
        timeout=timeout or None,
        debug=debug,
        allow_pickle=allow_pickle,
        input_shapes=tuple(shape for shape, _ in inputs),
        input_dtypes=tuple(dtype for _, dtype in inputs),
    )
    try:
        report = scan_targets(targets, options)
    except Exception as exc:  # a bug in relufind itself: one line unless --debug
        if debug:
            raise
        print(f"relufind: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        raise typer.Exit(EXIT_ERROR) from None
    if format is Format.json:
        from .render.json import render as render_json

        sys.stdout.write(render_json(report))
    else:
        from .render.tree import render as render_tree

        render_tree(report, sys.stdout)
    raise typer.Exit(report.exit_code)


def main() -> None:
    app(prog_name="relufind")
