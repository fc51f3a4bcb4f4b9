"""Symbolic tracing that remembers, for every node, who made it and where.

``RelufindTracer`` records on each node (``node.meta["relufind"]``) the owning module path
and class, and the user's source ``file:line`` — the innermost frame outside torch and
relufind, found by walking the Python stack when the node is created. That is cheaper
than ``record_stack_traces`` and points at the user's code rather than into torch.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from .report import SourceLoc

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_THIS_FILE = os.path.abspath(__file__)
_RELUFIND_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: non-tensor defaults of ``forward`` that are specialised, so `if mask is not None:`
#: takes the branch a real call without that argument takes
_CONCRETE_DEFAULT_TYPES = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class NodeInfo:
    """What relufind knows about one graph node beyond fx's own fields."""

    owner_path: str  # innermost module whose forward created the node ('' = root)
    owner_type: type
    source: SourceLoc | None


@dataclass
class Traced:
    """A traced model: the root module, its graph and per-node information."""

    root: nn.Module
    graph: fx.Graph
    info: dict[fx.Node, NodeInfo]
    #: path of ``root`` in the whole model, when a submodule is analysed on its own
    prefix: str = ""
    #: paths (relative to ``root``) of the modules whose ``forward`` was traced through
    entered: frozenset[str] = frozenset({""})

    @cached_property
    def _module_table(self) -> dict[str, nn.Module]:
        return dict(self.root.named_modules(remove_duplicate=False))

    def submodule(self, path: str) -> nn.Module:
        """``root.get_submodule(path)``, from a table built once (it is asked per node)."""
        module = self._module_table.get(path)
        return module if module is not None else self.root.get_submodule(path)

    def qualify(self, path: str) -> str:
        """A path relative to ``root`` as a path in the whole model."""
        return f"{self.prefix}.{path}" if self.prefix and path else (path or self.prefix)

    def owner(self, node: fx.Node) -> NodeInfo:
        return self.info.get(node) or NodeInfo("", type(self.root), None)


class RelufindTracer(fx.Tracer):
    def __init__(self, extra_leaves: Callable[[nn.Module], bool] | None = None) -> None:
        super().__init__()
        self._extra_leaves = extra_leaves
        self.node_info: dict[fx.Node, NodeInfo] = {}
        self.entered: set[str] = {""}

    def call_module(self, m, forward, args, kwargs):  # type: ignore[no-untyped-def]
        path = self.path_of_module(m)
        if not self.is_leaf_module(m, path):
            self.entered.add(path)
        return super().call_module(m, forward, args, kwargs)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if self._extra_leaves is not None and self._extra_leaves(m):
            return True
        return super().is_leaf_module(m, module_qualified_name)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):  # type: ignore[no-untyped-def]
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if self.module_stack:
            path, owner_type = next(reversed(self.module_stack.values()))
        else:
            path, owner_type = "", type(self.root)
        self.node_info[node] = NodeInfo(path, owner_type, user_source_location())
        return node


def user_source_location() -> SourceLoc | None:
    """The innermost stack frame outside torch and relufind: the user's line.

    The walk goes out through the tracer's hooks (this file) and torch; reaching the rest
    of relufind means the call was made by torch code alone (say, ``nn.Sequential``
    analysed on its own): there is no user line, and relufind's caller is not one.
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_RELUFIND_DIR) and filename != _THIS_FILE:
            return None
        if not (filename == _THIS_FILE or filename.startswith(_TORCH_DIR) or filename.startswith("<")):
            return SourceLoc(filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def concrete_defaults(module: nn.Module) -> dict[str, Any]:
    """``forward``'s parameters whose defaults are plain values (None, bool, int, str)."""
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return {}
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if p.default is not p.empty
        and isinstance(p.default, _CONCRETE_DEFAULT_TYPES)
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
