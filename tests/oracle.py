"""A runtime oracle for ReLU sites: run the model and record every ReLU-family call.

The oracle is deliberately independent of ``relufind.detect``: it does not import relufind
and classifies calls with its own reading of the specification.

- A ``TorchFunctionMode`` sees every torch-level call made during a real forward pass:
  ``F.relu``, ``torch.relu(_)``, ``Tensor.relu(_)``, ``F.relu6``, ``F.hardtanh`` (what
  ``nn.ReLU6`` calls), ``clamp``/``clip``/``clamp_min`` (function, method, in place),
  ``F.threshold``, and ``torch.rnn_relu`` / ``rnn_relu_cell`` (what ``nn.RNN`` /
  ``nn.RNNCell`` with ``nonlinearity="relu"`` call). While a mode is active,
  ``TransformerEncoderLayer`` skips its fused fast path and calls ``F.relu`` visibly.
  Inside the mode's handler the mode is off, so ``F.relu`` is seen once, not again as the
  ``torch.relu`` it calls.
- Global module forward (pre-)hooks keep the stack of modules whose ``forward`` is running;
  the innermost one owns the call. Module objects are named by their first qualified name
  in ``model.named_modules()`` (the name ``torch.fx`` uses for a shared instance).

Classification, from the spec: ``clamp`` is a ReLU when its lower bound is exactly 0 and it
has no upper bound, ReLU6 for ``[0, 6]``, otherwise no site; integer clamps (index
arithmetic) are never sites; ``threshold(x, 0, 0)`` is a ReLU; ``hardtanh(0, 6)`` is
ReLU6; leaky_relu / prelu / rrelu are their own variants; ELU, CELU, SELU, GELU are not
in the family.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

#: (variant, kind-of-spelling) readers keyed by the called function's ``__name__``
Reader = Callable[[tuple[Any, ...], dict[str, Any]], str | None]


@dataclass(frozen=True)
class Call:
    """One ReLU-family call seen at run time."""

    module_path: str  # '' for the root
    kind: str  # module, function, method, clamp, threshold, embedded (as the spec names them)
    variant: str
    name: str  # __name__ of what was called
    owner_type: str  # class of the innermost module
    stack: tuple[str, ...] = ()  # paths of every module whose forward was running, outermost first


def _get(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _scalar(value: Any) -> float | None:
    """A Python number as float; None for anything else (tensors, None, bools)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _always(variant: str) -> Reader:
    return lambda args, kwargs: variant


def _bounded(low: Any, high: Any) -> str | None:
    """relu for [0, no bound), relu6 for [0, 6], else None."""
    lo = _scalar(low)
    if lo is None or lo != 0.0:
        return None
    if high is None:
        return "relu"
    hi = _scalar(high)
    if hi is None:
        return None
    if math.isinf(hi) and hi > 0:
        return "relu"
    return "relu6" if hi == 6.0 else None


def _is_integer_input(args: tuple[Any, ...]) -> bool:
    first = args[0] if args else None
    return isinstance(first, torch.Tensor) and not (first.is_floating_point() or first.is_complex())


def _clamp(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    if _is_integer_input(args):
        return None
    return _bounded(_get(args, kwargs, 1, "min", None), _get(args, kwargs, 2, "max", None))


def _clamp_min(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    if _is_integer_input(args):
        return None
    return _bounded(_get(args, kwargs, 1, "min", None), None)


def _threshold(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    threshold = _scalar(_get(args, kwargs, 1, "threshold", None))
    value = _scalar(_get(args, kwargs, 2, "value", None))
    return "relu" if threshold == 0.0 and value == 0.0 else None


def _hardtanh(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    return _bounded(_get(args, kwargs, 1, "min_val", -1.0), _get(args, kwargs, 2, "max_val", 1.0))


READERS: dict[str, Reader] = {
    "relu": _always("relu"),
    "relu_": _always("relu"),
    "rnn_relu": _always("relu"),
    "rnn_relu_cell": _always("relu"),
    "relu6": _always("relu6"),
    "hardtanh": _hardtanh,
    "hardtanh_": _hardtanh,
    "clamp": _clamp,
    "clamp_": _clamp,
    "clip": _clamp,
    "clip_": _clamp,
    "clamp_min": _clamp_min,
    "clamp_min_": _clamp_min,
    "threshold": _threshold,
    "threshold_": _threshold,
    "_threshold": _threshold,  # F.threshold's own name
    "leaky_relu": _always("leaky_relu"),
    "leaky_relu_": _always("leaky_relu"),
    "prelu": _always("prelu"),
    "rrelu": _always("rrelu"),
    "rrelu_": _always("rrelu"),
}


_EMBEDDED_NAMES = {"rnn_relu", "rnn_relu_cell"}
_CLAMP_NAMES = {"clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_min_"}
_THRESHOLD_NAMES = {"threshold", "threshold_", "_threshold"}


def _is_torch_leaf(module: nn.Module) -> bool:
    """What torch.fx does not trace into: torch.nn / torch.ao.nn modules except Sequential."""
    return type(module).__module__.startswith(("torch.nn", "torch.ao.nn")) and not isinstance(
        module, nn.Sequential
    )


def _kind(func: Any, name: str, stack: Sequence[nn.Module]) -> str:
    """The spec's site kind of a call made with ``stack`` (outermost first) running."""
    leaf = next((m for m in stack if _is_torch_leaf(m)), None)
    if name in _EMBEDDED_NAMES:
        return "embedded"
    if leaf is not None:
        # an activation module called from user code is a module site; a call made inside
        # any other library layer (a Transformer layer, or an activation inside one) is hidden
        if leaf is stack[-1] and type(leaf).__module__ == "torch.nn.modules.activation":
            return "module"
        return "embedded"
    if name in _CLAMP_NAMES:
        return "clamp"
    if name in _THRESHOLD_NAMES:
        return "threshold"
    if getattr(func, "__objclass__", None) is torch._C.TensorBase:
        return "method"
    return "function"


class _Recorder(TorchFunctionMode):
    def __init__(self, stack: list[nn.Module], path_of: Callable[[nn.Module | None], str]) -> None:
        super().__init__()
        self.stack = stack
        self.path_of = path_of
        self.calls: list[Call] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        name = getattr(func, "__name__", None)
        reader = READERS.get(name) if isinstance(name, str) else None
        if reader is not None:
            variant = reader(tuple(args), dict(kwargs))
            if variant is not None:
                owner = self.stack[-1] if self.stack else None
                self.calls.append(
                    Call(
                        self.path_of(owner),
                        _kind(func, name, self.stack),  # type: ignore[arg-type]
                        variant,
                        name,  # type: ignore[arg-type]
                        type(owner).__name__ if owner is not None else "",
                        tuple(self.path_of(m) for m in self.stack),
                    )
                )
        return func(*args, **kwargs)


def record(model: nn.Module, inputs: Sequence[Any], *, grad: bool = False) -> list[Call]:
    """Run ``model(*inputs)`` once and return every ReLU-family call, in call order."""
    names: dict[int, str] = {}
    for path, module in model.named_modules():
        names.setdefault(id(module), path)
    stack: list[nn.Module] = []

    def push(module: nn.Module, args: Any) -> None:
        stack.append(module)

    def pop(module: nn.Module, args: Any, output: Any) -> None:
        # pop the innermost occurrence (always the top in a well-nested call)
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is module:
                del stack[i]
                break

    def path_of(module: nn.Module | None) -> str:
        if module is None:
            return ""
        return names.get(id(module), f"<unregistered {type(module).__name__}>")

    pre = nn.modules.module.register_module_forward_pre_hook(push)
    post = nn.modules.module.register_module_forward_hook(pop, always_call=True)
    recorder = _Recorder(stack, path_of)
    try:
        with torch.set_grad_enabled(grad), recorder:
            model(*inputs)
    finally:
        pre.remove()
        post.remove()
    return recorder.calls


Key = tuple[str, str, str]  # (module_path, kind, variant)


def site_multiset(calls: Sequence[Call], variants: bool = True) -> Counter[Key]:
    """(module_path, kind, variant) multiset; with ``variants`` False only plain ReLU."""
    return Counter((c.module_path, c.kind, c.variant) for c in calls if variants or c.variant == "relu")


def _within(path: str, region: str) -> bool:
    return not region or path == region or path.startswith(region + ".")


def compare(
    calls: Sequence[Call],
    sites: Sequence[tuple[Any, ...]],
    *,
    untraced: Sequence[str] = (),
    unseen: Sequence[tuple[str, str]] = (),
    variants: bool = True,
) -> list[str]:
    """Problems found comparing run-time ``calls`` with a static report; [] when they agree.

    ``sites`` are (module_path, kind, variant) as reported, optionally with a fourth item
    saying whether the site is counted per call (relufind's ``region`` is None): one that
    is not belongs to an untraced region whatever its path (a shared module keeps its first
    registered path). Outside the ``untraced`` regions
    (module paths whose forward could not be traced) the two must be equal as multisets.
    Inside them a site is one call *expression*, so loops and branches make counts differ:
    there every (path, kind, variant) that ran must be reported, and reported sites that did
    not run (a branch not taken) are allowed. A call is inside a region when the region's
    module was running; a reported site when its path is in the region. A call that ran in
    a traced region but that tracing could not see (``isinstance(x, Tensor)`` is False for
    a proxy) may instead be listed in ``unseen`` as (module_path, variant).
    """
    if not variants:
        calls = [c for c in calls if c.variant == "relu"]
    exp_traced = Counter(_key(c) for c in calls if not _ran_inside(c, untraced))
    got_traced = Counter(k[:3] for k in sites if not _region_site(k, untraced))
    problems = []
    unseen_keys = set(unseen)
    missing = exp_traced - got_traced
    for key, count in missing.items():
        if (key[0], key[2]) in unseen_keys:
            exp_traced[key] -= count
    exp_traced = +exp_traced
    if exp_traced != got_traced:
        problems.append(describe_difference(exp_traced, got_traced))
    lost = lost_in_untraced(calls, sites, untraced)
    if lost:
        problems.append(f"ran in an untraced region but not reported: {lost}")
    return problems


def lost_in_untraced(
    calls: Sequence[Call], sites: Sequence[tuple[Any, ...]], untraced: Sequence[str]
) -> list[Key]:
    """(path, kind, variant) of calls that ran inside an untraced region but were not reported there."""
    got = {k[:3] for k in sites if _region_site(k, untraced)}
    return sorted({_key(c) for c in calls if _ran_inside(c, untraced)} - got)


def _region_site(site: tuple[Any, ...], untraced: Sequence[str]) -> bool:
    """A reported site counted as an untraced region's: read from source, or inside one."""
    return (len(site) > 3 and not site[3]) or _inside(site[0], untraced)


def _key(call: Call) -> Key:
    return (call.module_path, call.kind, call.variant)


def _inside(path: str, untraced: Sequence[str]) -> bool:
    return any(_within(path, region) for region in untraced)


def _ran_inside(call: Call, untraced: Sequence[str]) -> bool:
    return any(_inside(p, untraced) for p in (*call.stack, call.module_path))


def describe_difference(expected: Counter[Any], actual: Counter[Any]) -> str:
    missing = expected - actual
    extra = actual - expected
    lines = []
    if missing:
        lines.append("missed by relufind: " + ", ".join(f"{k} x{n}" for k, n in sorted(missing.items())))
    if extra:
        lines.append("not seen at run time: " + ", ".join(f"{k} x{n}" for k, n in sorted(extra.items())))
    return "; ".join(lines) or "equal"
