"""The typer application: option declarations, ``--help``, and every command-line error message.

The work itself is ``relufind.command.run``; this module only turns typer's values into an
``Invocation``. Nothing here imports torch, so ``--help`` stays fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from . import __version__
from .command import Invocation, run, usage_error


class Format(str, Enum):
    """The ``--format`` choices: the names of ``relufind.render.RENDERERS`` (a test keeps them equal)."""

    tree = "tree"
    json = "json"
    sarif = "sarif"
    github = "github"


app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


def _usage_error(message: str) -> typer.Exit:
    """Print one line for a command-line mistake; the caller raises the returned Exit(2)."""
    return typer.Exit(usage_error(message))


class _Command(TyperCommand):
    """Usage errors (bad --format, unknown option, ...) as one line on stderr, exit 2."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        try:  # typer >= 0.26 vendors click; older releases depend on click itself
            from typer._click import exceptions
        except ImportError:
            from click import exceptions
        # NoArgsIsHelpError is click >= 8.2's; with older click, help for no arguments is
        # printed by click itself and never raised
        no_args_is_help = getattr(exceptions, "NoArgsIsHelpError", ())

        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except no_args_is_help:
            raise
        except exceptions.UsageError as exc:
            # typer's coercion words some messages "Value error, ..."; the rest says it all
            raise _usage_error(exc.format_message().replace("Value error, ", "")) from None


def _version(value: bool) -> None:
    if value:
        print(f"relufind {__version__}", flush=True)
        raise typer.Exit()


def _list_rules(value: bool) -> None:
    if value:
        from .rules.catalog import list_text

        print(list_text(), end="", flush=True)
        raise typer.Exit()


def _explain(value: str | None) -> None:
    if value is None:
        return
    from .rules.catalog import explain_text, lookup

    rule = lookup(value)
    if rule is None:
        raise _usage_error(f"--explain: unknown rule '{value}' (relufind --list-rules shows them all)")
    print(explain_text(rule), end="", flush=True)
    raise typer.Exit()


@app.command(cls=_Command)
def main_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TARGET",
            help="file.py:Name, package.module:Name, file.py or folder/ "
            "(none: the models listed in [[tool.relufind.targets]] of pyproject.toml)",
            show_default=False,
        ),
    ] = None,
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
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="RULES",
            help="Run only these rules: codes, names, prefixes (RF1) or ALL; comma-separated.",
        ),
    ] = None,
    extend_select: Annotated[
        list[str] | None,
        typer.Option("--extend-select", metavar="RULES", help="Run these rules too."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", metavar="RULES", help="Do not run these rules."),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read [tool.relufind] from this file instead of the closest pyproject.toml.",
        ),
    ] = None,
    isolated: Annotated[
        bool,
        typer.Option("--isolated", help="Ignore every configuration file."),
    ] = False,
    statistics: Annotated[
        bool,
        typer.Option(
            "--statistics",
            help="After the report, count findings per rule and list suppressions that matched nothing.",
        ),
    ] = False,
    exit_zero: Annotated[
        bool,
        typer.Option("--exit-zero", help="Exit 0 even when rules fire (errors still exit 2)."),
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="GLOB",
            help="Never import files or folders matching this pattern (relative to the project root, "
            "gitignore syntax; adds to [tool.relufind] exclude). Repeatable.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help="Analyse targets in N worker processes (0: one per core). Output order is unchanged.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Neither read nor write the result cache (.relufind_cache in the project root).",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 2 when a target is skipped (needs arguments, no forward())."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the report to FILE instead of stdout (errors and notes still go to stderr).",
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Only findings and errors: no tree for clean targets, no notices for skipped ones.",
        ),
    ] = False,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand",
            help="Tree: print every block of a run of identical sibling blocks (default: one branch a run).",
        ),
    ] = False,
    baseline_file: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="Leave out findings recorded in FILE (see --write-baseline); report fixed ones as stale.",
        ),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option(
            "--write-baseline",
            metavar="FILE",
            help="Record today's findings in FILE, then leave them out as --baseline FILE would.",
        ),
    ] = None,
    list_rules: Annotated[
        bool,
        typer.Option("--list-rules", callback=_list_rules, is_eager=True, help="List the rules and exit."),
    ] = False,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="RULE",
            callback=_explain,
            is_eager=True,
            help="Explain one rule (code or name) and exit.",
        ),
    ] = None,
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
    invocation = Invocation(
        targets=tuple(targets or ()),
        format=format.value,
        arg=tuple(arg or ()),
        variants=variants,
        eval_mode=eval_mode,
        anchor=tuple(anchor or ()),
        timeout=timeout,
        input_shape=tuple(input_shape or ()),
        allow_pickle=allow_pickle,
        select=tuple(select) if select is not None else None,
        extend_select=tuple(extend_select or ()),
        ignore=tuple(ignore or ()),
        config_file=config_file,
        isolated=isolated,
        statistics=statistics,
        exit_zero=exit_zero,
        exclude=tuple(exclude or ()),
        jobs=jobs,
        no_cache=no_cache,
        strict=strict,
        output=output,
        quiet=quiet,
        expand=expand,
        baseline_file=baseline_file,
        write_baseline=write_baseline,
        debug=debug,
    )
    raise typer.Exit(run(invocation))


def main() -> None:
    app(prog_name="relufind")
