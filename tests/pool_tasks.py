"""Module-level task functions for the worker-pool tests (spawned workers import them by name)."""

from __future__ import annotations

import os
import time


def work(task: tuple[str, float]) -> str:
    kind, seconds = task
    time.sleep(seconds)
    if kind == "crash":
        os._exit(3)  # what a segfault in an extension looks like from the parent
    if kind == "hang":
        time.sleep(3600)
    return f"{kind}:{os.getpid()}"
