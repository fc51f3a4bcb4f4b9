"""Construct a model cheaply: on ``meta``, else with only weights on ``meta``, else on the CPU.

Tracing never reads weight values, so a model built on ``meta`` traces exactly like a CPU
one while costing no weight memory and no initialisation time.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from .construct import recording
from .errors import TargetFailure
from .gcpause import gc_paused
from .report import SourceLoc


@dataclass(frozen=True)
class Built:
    model: nn.Module
    device: str  # "meta" or "cpu"
    how: str  # "meta", "meta-params", "cpu" or "given"
    #: where each module was constructed (empty for a model built elsewhere)
    constructed: Mapping[nn.Module, SourceLoc] = field(default_factory=dict)


class NeedsArguments(TargetFailure):
    """The constructor has required parameters the user did not supply.

    A TargetFailure, so the guards around loading and building pass it through unchanged
    (a plain exception would be re-wrapped as an internal error instead of a skip).
    """

    def __init__(self, missing: list[str], objects: list[str] | None = None,
                 annotations: Mapping[str, str] | None = None) -> None:  # fmt: skip
        super().__init__("NeedsArguments", "needs arguments " + ", ".join(missing))
        self.missing = missing
        #: the missing parameters no literal can supply (``hparams``, ``dims: ModelDimensions``)
        self.objects = objects or []
        #: parameter -> its annotation as written, where it has a literal one (``int``)
        self.annotations = dict(annotations or {})


def build(
    obj: object, name: str, args: Mapping[str, Any], *, strict_args: bool, given_by: str = "--arg"
) -> Built:
    """Make an ``nn.Module`` from a class, a factory or an instance named ``name``."""
    if isinstance(obj, nn.Module):
        return Built(obj, device_of(obj), "given")
    if not callable(obj):
        raise TargetFailure(
            "NotAModule",
            f"'{name}' is {_a(type(obj).__name__)}, not an nn.Module class, factory or instance",
        )
    if inspect.isclass(obj) and not issubclass(obj, nn.Module):
        raise TargetFailure("NotAModule", f"'{name}' is a class but not an nn.Module subclass")
    call_args = _select_args(obj, name, args, strict_args, given_by)
    return _construct(obj, name, call_args)


def _select_args(
    factory: Callable[..., Any], name: str, args: Mapping[str, Any], strict: bool, given_by: str = "--arg"
) -> dict[str, Any]:
    if inspect.isclass(factory) and factory.__init__ is nn.Module.__init__:  # type: ignore[misc]
        # no __init__ of its own: nn.Module's (*args, **kwargs) accepts nothing at all
        params: Mapping[str, inspect.Parameter] = {}
    else:
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # builtins and C extensions: pass what we were given
            return dict(args)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = {
        k: v for k, v in args.items() if takes_kwargs or _is_keyword_param(params.get(k))
    }
    unknown = sorted(set(args) - set(accepted))
    if unknown and strict:
        names = ", ".join(p for p in params if _is_keyword_param(params[p]))
        takes = f"it takes: {names}" if names else "it takes no arguments"
        raise TargetFailure(
            "BadArgument",
            f"{name} has no parameter {', '.join(unknown)} (given with {given_by}); {takes}",
        )
    missing = [
        p.name
        for p in params.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in accepted
    ]
    if missing:
        objects = [name for name in missing if _object_typed(name, params[name].annotation)]
        annotations = {name: _annotation_text(params[name].annotation) for name in missing}
        raise NeedsArguments(missing, objects, {k: v for k, v in annotations.items() if v})
    return accepted


#: parameter names that by convention hold a configuration object, not a literal value
_OBJECT_NAMES = frozenset({"hparams", "hps", "hp", "config", "cfg", "conf", "opt", "opts", "args", "params"})
#: annotations a TOML value or an --arg literal can satisfy
_LITERAL_TYPES = frozenset(
    {
        "int", "float", "bool", "str", "bytes", "list", "tuple", "dict", "set", "None", "NoneType",
        "Optional", "Union", "List", "Tuple", "Dict", "Set", "Sequence", "Mapping", "Literal",
        "typing", "collections", "abc",
    }
)  # fmt: skip


def _object_typed(name: str, annotation: Any) -> bool:
    """A parameter no literal can satisfy: an object, a class, a configuration namespace.

    Unannotated parameters count as literals unless their name says otherwise (``hparams``).
    """
    if annotation is inspect.Parameter.empty:
        return name.lower() in _OBJECT_NAMES
    text = _annotation_text(annotation) or "object"
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return True
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    if "Literal" not in names:  # a quoted name elsewhere is a forward reference to a class
        names |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return not names <= _LITERAL_TYPES


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):  # `from __future__ import annotations`
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _is_keyword_param(param: inspect.Parameter | None) -> bool:
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


def _construct(factory: Callable[..., Any], name: str, kwargs: dict[str, Any]) -> Built:
    attempts: list[tuple[str, Callable[[], contextlib.AbstractContextManager[Any]]]] = [
        ("meta", lambda: torch.device("meta")),
        ("meta-params", _weights_on_meta),
        ("cpu", contextlib.nullcontext),
    ]
    for how, context in attempts:
        try:
            # on meta no weights exist, so a build makes no garbage worth collecting midway
            paused = gc_paused() if how == "meta" else contextlib.nullcontext()
            with context(), recording() as constructed, paused:
                model = factory(**kwargs)
        except (Exception, SystemExit) as exc:
            if how == "cpu":
                raise _constructor_failure(name, exc) from exc
            continue
        if not isinstance(model, nn.Module):
            raise TargetFailure(
                "NotAModule", f"'{name}' returned {_a(type(model).__name__)}, not an nn.Module"
            )
        return Built(model, "meta" if how != "cpu" else device_of(model), how, constructed)
    raise AssertionError("unreachable: the cpu attempt either returns or raises")


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _constructor_failure(name: str, exc: BaseException) -> TargetFailure:
    if isinstance(exc, SystemExit):
        return TargetFailure(
            "ConstructorError", f"{name}(...) called sys.exit({exc.code}) while being built"
        )
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else "(no message)"
    return TargetFailure("ConstructorError", f"{name}(...) raised {type(exc).__name__}: {message}")


@contextlib.contextmanager
def _weights_on_meta() -> Iterator[None]:
    """Run a constructor on the CPU but register every parameter and buffer on ``meta``.

    For constructors that compute with real tensors (``.item()``, ``.tolist()``), which
    ``torch.device("meta")`` breaks; the weights themselves still cost no memory.
    """
    original_parameter = nn.Module.register_parameter
    original_buffer = nn.Module.register_buffer

    def register_parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            kwargs = param.__dict__ if hasattr(param, "__dict__") else {}
            param = type(param)(param.to("meta"), requires_grad=param.requires_grad)
            param.__dict__.update(kwargs)
        original_parameter(module, name, param)

    def register_buffer(
        module: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True
    ) -> None:
        if tensor is not None:
            tensor = tensor.to("meta")
        original_buffer(module, name, tensor, persistent=persistent)

    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
    nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original_parameter  # type: ignore[method-assign]
        nn.Module.register_buffer = original_buffer  # type: ignore[method-assign]


def device_of(model: nn.Module) -> str:
    for tensor in model.parameters():
        return tensor.device.type
    for tensor in model.buffers():
        return tensor.device.type
    return "cpu"
