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
ReLU6, ``hardtanh(0, k)`` / ``clamp(0, k)`` for another k > 0 a clipped ReLU; leaky_relu / prelu / rrelu are their own variants; ELU, CELU, SELU, GELU are not
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
    """relu for [0, no bound), relu6 for [0, 6], clipped_relu for [0, k] with any other
    k > 0 (a tensor bound included), else None."""
    lo = _scalar(low)
    if lo is None or lo != 0.0:
        return None
    if high is None:
        return "relu"
    if isinstance(high, torch.Tensor):
        return "clipped_relu"
    hi = _scalar(high)
    if hi is None:
        return None
    if math.isinf(hi) and hi > 0:
        return "relu"
    if hi == 6.0:
        return "relu6"
    return "clipped_relu" if hi > 0 else None


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
    # the traced part of a partially traced region: a module registered outside the region
    # (a shared ReLU) called there is a traced site with its outside path
    inside_keys = {_key(c) for c in calls if _ran_inside(c, untraced)}
    for key in list(got_traced - exp_traced):
        if key in inside_keys:
            del got_traced[key]
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
    got = {k[:3] for k in sites}  # in a region, or in the traced part of one (see compare)
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


# -- relations at run time: which anchors' output VALUES reach each ReLU's input --------------------
#
# Independent of relufind's passes: autograd already records which tensors a value was
# computed from, and only from values — ``x.size()`` is a Python int, ``x.new_zeros(...)`` and
# ``zeros_like(x)`` have no ``grad_fn``, the ``other`` of ``view_as`` lends only its shape. So:
# the model input and every anchor's output are replaced by fresh tensors that require grad
# (each a leaf seen through a ``clone``, so in-place ops on them stay legal); the leaves a
# ReLU's input was computed from, found by walking its ``grad_fn`` graph, are the nearest
# anchors upstream of it (each anchor output is a new leaf: values from further up stop
# there) and, when the input's leaf is among them, a path from the input crossing no anchor.

ANCHOR_CLASSES: tuple[type, ...] = (nn.RNNBase, nn.RNNCellBase, nn.modules.conv._ConvNd)
_FUNCTIONAL_CONVS = {
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
}
INPUT_TAG = "<input>"


@dataclass(frozen=True)
class Tagged:
    """A ReLU-family call with what reached its input at run time."""

    call: Call
    anchors: frozenset[str]  # module paths of anchors; functional convs as "<conv1d>"
    from_input: bool


class _Tags:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.keep: list[torch.Tensor] = []

    def fresh(self, tensor: torch.Tensor, name: str) -> torch.Tensor:
        if not (isinstance(tensor, torch.Tensor) and tensor.is_floating_point()):
            return tensor
        leaf = tensor.detach().requires_grad_()
        self.names[id(leaf)] = name
        self.keep.append(leaf)
        return leaf.clone()

    def fresh_all(self, value: Any, name: str) -> Any:
        if isinstance(value, torch.Tensor):
            return self.fresh(value, name)
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # PackedSequence and other named tuples
            return type(value)(*(self.fresh_all(v, name) for v in value))
        if isinstance(value, tuple):
            return tuple(self.fresh_all(v, name) for v in value)
        if isinstance(value, list):
            return [self.fresh_all(v, name) for v in value]
        return value

    def reaching(self, tensor: Any) -> frozenset[str]:
        if not isinstance(tensor, torch.Tensor):
            return frozenset()
        if tensor.grad_fn is None:
            return frozenset({self.names[id(tensor)]}) if id(tensor) in self.names else frozenset()
        found: set[str] = set()
        seen: set[int] = set()
        todo = [tensor.grad_fn]
        while todo:
            fn = todo.pop()
            if fn is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            variable = getattr(fn, "variable", None)
            if variable is not None and id(variable) in self.names:
                found.add(self.names[id(variable)])
            todo.extend(next_fn for next_fn, _ in fn.next_functions)
        return frozenset(found)


def record_relations(model: nn.Module, inputs: Sequence[Any]) -> list[Tagged]:
    """Run ``model(*inputs)`` on the CPU; every ReLU-family call with the anchors (and whether
    the model input) whose values reach its input, nearest first: an anchor's output is a new
    leaf, so values from further upstream are not seen through it."""
    names: dict[int, str] = {}
    for path, module in model.named_modules():
        names.setdefault(id(module), path)
    tags = _Tags()
    stack: list[nn.Module] = []
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)

    def push(module: nn.Module, args: Any) -> None:
        stack.append(module)

    def pop(module: nn.Module, args: Any, output: Any) -> Any:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is module:
                del stack[i]
                break
        if isinstance(module, ANCHOR_CLASSES) and not any(isinstance(m, ANCHOR_CLASSES) for m in stack):
            return tags.fresh_all(output, names.get(id(module), "?"))
        return None

    def path_of(module: nn.Module | None) -> str:
        return "" if module is None else names.get(id(module), f"<unregistered {type(module).__name__}>")

    recorder = _TaggingRecorder(stack, path_of, tags)
    pre = nn.modules.module.register_module_forward_pre_hook(push)
    post = nn.modules.module.register_module_forward_hook(pop, always_call=True)
    try:
        with torch.enable_grad(), recorder:
            model(*tags.fresh_all(tuple(inputs), INPUT_TAG))
    finally:
        pre.remove()
        post.remove()
        for p in frozen:
            p.requires_grad_(True)
    return recorder.tagged


class _TaggingRecorder(_Recorder):
    def __init__(self, stack: list[nn.Module], path_of: Callable[[nn.Module | None], str], tags: _Tags) -> None:
        super().__init__(stack, path_of)
        self.tags = tags
        self.tagged: list[Tagged] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        before = len(self.calls)
        # every tensor argument: an RNN cell's ReLU acts on W x + U h, so h counts too
        tensors = [a for a in (*args, *(kwargs or {}).values()) if isinstance(a, torch.Tensor)]
        reached = frozenset().union(*(self.tags.reaching(t) for t in tensors))
        result = super().__torch_function__(func, types, args, kwargs)
        if len(self.calls) > before:
            anchors = frozenset(t for t in reached if t != INPUT_TAG)
            self.tagged.append(Tagged(self.calls[-1], anchors, INPUT_TAG in reached))
        name = getattr(func, "__name__", "")
        if name in _FUNCTIONAL_CONVS:
            # inside an anchor module (a Conv2d, or a subclass calling F.conv2d) the conv is
            # that module's computation; elsewhere a functional anchor of its own
            outer = next((m for m in self.stack if isinstance(m, ANCHOR_CLASSES)), None)
            return self.tags.fresh(result, f"<{name}>" if outer is None else self.path_of(outer))
        return result


def relation_problems(tagged: Sequence[Tagged], sites: Sequence[Any]) -> tuple[int, list[str]]:
    """Compare the oracle's ``after`` anchors and input flag with relufind's ``Site`` objects.

    Sites and calls are paired by (module_path, kind, variant) in order, where both have the
    same number; only traced sites counted per call with complete ``after`` are compared
    (beyond an untraced region relufind says "unknown"). Functional convs compare by name.
    Returns (sites compared, problems).
    """
    calls: dict[Key, list[Tagged]] = {}
    for t in tagged:
        calls.setdefault(_key(t.call), []).append(t)
    mine: dict[Key, list[Any]] = {}
    for s in sites:
        mine.setdefault((s.module_path, s.kind, s.variant), []).append(s)
    compared, problems = 0, []
    for key, group in mine.items():
        ran = calls.get(key, [])
        if len(ran) != len(group):
            continue
        for site, t in zip(group, ran, strict=True):
            if not site.traced or site.region is not None or not site.after_complete:
                continue
            compared += 1
            got = frozenset(_oracle_name(r) for r in site.after)
            where = f"{key} line {site.source.line if site.source else '?'}"
            if site.after_more == 0 and got != t.anchors:
                problems.append(f"{where}: after {sorted(got)}, at run time {sorted(t.anchors)}")
            elif site.after_more and not (got <= t.anchors and len(t.anchors) == len(got) + site.after_more):
                problems.append(f"{where}: after {sorted(got)} +{site.after_more}, at run time {sorted(t.anchors)}")
            if (site.input_path is not None) != t.from_input:
                problems.append(f"{where}: input_path {site.input_path}, at run time from input: {t.from_input}")
    return compared, problems


def _oracle_name(relation: Any) -> str:
    return f"<{relation.type}>" if relation.type in _FUNCTIONAL_CONVS else relation.anchor
