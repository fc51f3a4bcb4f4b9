"""What to tell a user whose model was skipped or failed: the entry or option that fixes it.

A CI log reader acts on the message alone, so each names the exact ``pyproject.toml`` text:
a ``[[tool.relufind.targets]]`` entry with the missing argument names, a factory for
arguments no TOML value can express, or an ``exclude`` pattern for a file that is not a model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ENTRY = "[[tool.relufind.targets]]"


def needs_arguments(
    target: str,
    missing: list[str],
    objects: list[str],
    annotations: Mapping[str, str],
    *,
    named: bool,
) -> tuple[str, str]:
    """(one-line reason, TOML snippet) for a class whose constructor needs ``missing``."""
    location, _, name = target.rpartition(":")
    if objects:
        what = f"{_join(objects)} {'is an object' if len(objects) == 1 else 'are objects'}"
        reason = (
            f"needs arguments {_join(missing)}; {what} no --arg or pyproject.toml value can give: "
            f"write a factory function that builds it and name it in {ENTRY}"
        )
        call = ", ".join(f"{m}=..." for m in missing)
        snippet = (
            f"{ENTRY}\n"
            f'target = "{location}:build_{_snake(name)}"  # a function you write: return {name}({call})'
        )
        return reason, snippet
    options = " ".join(f"--arg {m}=VALUE" for m in missing)
    reason = f"needs arguments {_join(missing)}: add this {ENTRY} entry to pyproject.toml"
    if named:
        reason += f", or pass {options}"
    values = ", ".join(f"{m} = <{annotations.get(m) or 'value'}>" for m in missing)
    return reason, f'{ENTRY}\ntarget = "{target}"\nargs = {{ {values} }}'


def exclude_hint(relative: str) -> str:
    return f'or, if it is not a model, add "{relative}" to exclude in [tool.relufind]'


def constructor_hint(target: str) -> str:
    return f'give it working arguments in a {ENTRY} entry (target = "{target}", args = {{ ... }})'


def _join(names: list[str]) -> str:
    return ", ".join(names)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
