"""A transient progress line on stderr while a scan runs, only when stderr is a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from . import isatty


class Progress:
    """A transient progress line on stderr while a scan runs, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None
        self.running = False

    def update(self, done: int, total: int, target: str) -> None:
        if self.bar is None:
            self._create()
        if self.task is None:
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, completed=done, total=total, description=f"analysing {target}")
        self._start()

    def _create(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        # the real stderr, held: model code runs with sys.stderr redirected to a capture buffer
        console = Console(file=sys.stderr, stderr=True)
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def _start(self) -> None:
        if not self.running:
            self.bar.start()
            self.running = True

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Erase the line while a report or an error line is written, then show it again."""
        was_running = self.running
        self.close()
        try:
            yield
        finally:
            if was_running:
                self._start()

    def close(self) -> None:
        if self.running:
            self.bar.stop()
            self.running = False


class _NoProgress(Progress):
    def update(self, done: int, total: int, target: str) -> None:
        pass


def progress() -> Progress:
    """The progress line for this run: a real one only when stderr is a terminal."""
    return Progress() if isatty(sys.stderr) else _NoProgress()
