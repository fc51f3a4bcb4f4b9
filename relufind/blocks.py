"""Which discovered classes are building blocks of other models in the same run.

A folder scan analyses every ``nn.Module`` class on its own, helper blocks included. A block
whose last layer is ``Linear -> ReLU`` then looks like a model that clips its logits (RF001),
though inside the model that uses it that ReLU is a hidden activation. RF001 is about a model's
own output, so for a block used by another model of the run it is judged in that model. Read
with ``ast`` from the planned files: a class counts as a block when another planned class's
body names it (``self.head = GatedProjection(...)``, ``block=BasicBlock``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .discover import class_body_names
from .execute import ClassKey, class_key
from .plan import Planned

#: rules about a model's output: not judged on a block that another model of the run uses
OUTPUT_RULES = frozenset({"RF001"})


def used_as_blocks(items: Iterable[object]) -> set[ClassKey]:
    """The discovered classes that another planned class of the run names in its body."""
    planned = [item for item in items if isinstance(item, Planned) and item.file is not None]
    keys = {key for item in planned if (key := class_key(item)) is not None}
    names_by_class: dict[ClassKey, frozenset[str]] = {}
    for file in {item.file.resolve() for item in planned if item.file is not None}:
        names_by_class.update(_names_in_classes(file))
    users = {key: names for key, names in names_by_class.items() if key in keys}
    return {
        key
        for item in planned
        if item.discovered and (key := class_key(item)) is not None
        and any(key[1] in names for user, names in users.items() if user != key)
    }


def _names_in_classes(file: Path) -> dict[ClassKey, frozenset[str]]:
    """For each module-level class of ``file``: the names its body mentions (not its bases: a
    subclass does not use its base class as a block). Planning has parsed the file already."""
    return {(str(file), name): names for name, names in class_body_names(file).items()}
