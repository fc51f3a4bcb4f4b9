"""Errors a user can cause. Each carries a short type name and one line saying what to do."""

from __future__ import annotations


class TargetFailure(Exception):
    """A target could not be loaded, built or analysed; reported as status ``error``."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


class UsageError(Exception):
    """The command line itself is wrong (exit 2 before any target is analysed)."""
