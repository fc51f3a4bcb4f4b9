"""One renderer per ``--format``: each turns a Report into text for stdout."""

from __future__ import annotations

import os

FORMATS = ("tree", "json")


def display_path(path: str) -> str:
    """A path relative to the working directory when it lies below it, else as given."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative
