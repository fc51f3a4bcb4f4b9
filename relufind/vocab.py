"""One vocabulary: tables of facts about ops, read by every front end (fx, source, aten).

A fact about an op is a row in a table here, not an ``if`` in a pass. Keys are op *names*
(``Tensor`` method names, ``torch`` / ``torch.nn.functional`` function names, aten operator
names without namespace or overload), because the three front ends name ops that way: a
``call_method`` node's target, a ``call_function`` target's ``__name__``, an aten op's name.
This module imports nothing from torch, so any front end (and the report side) can read it.

Tables:

- ``VALUE_ARGS``: which arguments of an op pass their tensor *values* on to its result.
  Relations follow values only (SPEC, "Relations"): an argument that lends its shape, dtype
  or device — ``x.size()``, ``zeros_like(x)``, ``x.new_zeros(...)``, the ``other`` of
  ``x.view_as(other)`` — carries nothing from the tensor it describes. An op not listed
  passes every argument's values on.
- ``METADATA_READS`` / ``METADATA_ATTRIBUTES``: ops and tensor attributes that are metadata
  (``x.size()``, ``x.shape``, ``x.dtype``).
- ``VIEWS`` (the result shares its input's storage) and ``SHAPE_ONLY`` (views, copies and
  casts: values move but never change).
- What the lint rules ask of an op: ``DROPOUT``, ``GLOBAL_POOL`` / ``ADAPTIVE_POOLS``,
  ``SQUASH``, ``NON_NEGATIVE``, ``LINEAR_MAPS``, ``CONVS``, ``NORMS``, ``RECURRENT``, and the
  in-place spellings (``writes_in_place``, ``AUGMENTED``).
"""

from __future__ import annotations

#: an argument is named by its position (0 is ``self`` for methods) or by its keyword
ArgKey = int | str

#: nothing at all: the result is built from metadata alone, or is metadata
NOTHING: frozenset[ArgKey] = frozenset()
#: only the first argument (``self`` / ``input``); the others lend shape, dtype or device
FIRST: frozenset[ArgKey] = frozenset({0, "input", "self"})

#: metadata reads: sizes, ranks, counts (an int, or a tuple of ints, whatever the values)
METADATA_READS: frozenset[str] = frozenset(
    {"size", "dim", "ndimension", "numel", "nelement", "stride", "element_size", "storage_offset",
     "get_device", "is_contiguous", "is_floating_point", "is_complex", "len",
     # aten (torch.export): x.size(d), ...
     "sym_size", "sym_numel", "sym_stride", "sym_storage_offset"}
)

VALUE_ARGS: dict[str, frozenset[ArgKey]] = {
    **dict.fromkeys(METADATA_READS, NOTHING),
    # tensors built from another tensor's metadata alone
    "zeros_like": NOTHING,
    "ones_like": NOTHING,
    "empty_like": NOTHING,
    "rand_like": NOTHING,
    "randn_like": NOTHING,
    "randint_like": NOTHING,
    "full_like": frozenset({1, "fill_value"}),
    "new_zeros": NOTHING,
    "new_ones": NOTHING,
    "new_empty": NOTHING,
    "new_full": frozenset({2, "fill_value"}),
    "new_tensor": frozenset({1, "data"}),
    # a tensor argument that lends only its shape / dtype / device to the first one's values
    "view_as": FIRST,
    "reshape_as": FIRST,
    "expand_as": FIRST,
    "type_as": FIRST,
    "to": FIRST,
    # reshaping: the shape argument (sizes read from another tensor) is metadata
    "view": FIRST,
    "reshape": FIRST,
    "expand": FIRST,
    "broadcast_to": FIRST,
    "repeat": FIRST,
    "unflatten": FIRST,
    "_unsafe_view": FIRST,
}

#: ``getattr(x, name)`` that yields metadata, not values
METADATA_ATTRIBUTES: frozenset[str] = frozenset(
    {"shape", "dtype", "device", "ndim", "layout", "is_cuda", "is_sparse", "is_quantized",
     "is_meta", "requires_grad", "names", "itemsize", "nbytes"}
)
#: aten / TorchScript spellings of those attribute reads (``prim::dtype``, ``aten::size``)
for _name in ("dtype", "device", "layout", "shape", "is_cuda", "requires_grad"):
    VALUE_ARGS.setdefault(_name, NOTHING)


#: ops whose result shares their first argument's storage: an in-place write through either
#: one is seen by later readers of the other (``y = x.transpose(1, 2); y.relu_()``). Op names
#: and ``torch.nn`` class names (``Identity`` returns its input). ``reshape``, ``flatten``,
#: ``contiguous`` and friends return a view when their input is contiguous, as it is in most
#: models; counting them as views is also the safe side for "who sees an in-place write".
VIEWS: frozenset[str] = frozenset(
    {"transpose", "permute", "view", "view_as", "unsqueeze", "squeeze", "t", "expand", "expand_as",
     "narrow", "select", "getitem", "unflatten", "diagonal", "as_strided", "movedim", "swapaxes",
     "swapdims", "reshape", "reshape_as", "flatten", "ravel", "contiguous", "chunk", "split",
     "unbind", "T", "mT", "Identity", "Flatten", "Unflatten"}
)
#: shape-only ops: they move, copy or cast values but never change one, so a fact about a
#: value (never negative, a Linear's logits) holds through them. Every view is one.
SHAPE_ONLY: frozenset[str] = VIEWS | {"clone", "float", "double", "half", "to", "type_as"}
#: ``getattr(x, name)`` that yields a view of the values, not metadata (``x.T``)
VALUE_ATTRIBUTES: frozenset[str] = frozenset({"T", "mT", "H", "mH", "real", "data"})

# -- what an op does to values, for the lint rules (``relufind.facts``) ----------------------
# Op names as ``VALUE_ARGS`` keys them, and ``torch.nn`` class names (a subclass counts: the
# names of a module's torch base classes are looked up). Conditions on a built module
# (kernel size, output size) are read by the front end that has the module.

#: dropout: the identity at inference, a random mask in training
DROPOUT: frozenset[str] = frozenset(
    {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
     "_DropoutNd"}
)
#: reduce positions to one: ``mean``; adaptive pooling modules when their output size is 1
GLOBAL_POOL: frozenset[str] = frozenset({"mean"})
ADAPTIVE_POOLS: frozenset[str] = frozenset(
    {"AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
     "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"}
)
#: a monotone output map a loss or a caller reads
SQUASH: frozenset[str] = frozenset(
    {"log_softmax", "softmax", "sigmoid", "LogSoftmax", "Softmax", "Softmax2d", "Sigmoid"}
)
#: non-negative producers: the result is never negative
NON_NEGATIVE: frozenset[str] = frozenset(
    {"softmax", "sigmoid", "abs", "exp", "softplus", "hardsigmoid", "square",
     "Softmax", "Softmax2d", "Sigmoid", "Softplus", "Hardsigmoid"}
)
#: affine maps that produce logits or regression values (a 1x1 conv too: see ``CONVS``)
LINEAR_MAPS: frozenset[str] = frozenset(
    {"linear", "matmul", "addmm", "mm", "Linear", "LazyLinear", "Bilinear"}
)
#: convolution modules: a 1x1 kernel is a linear map, any other kernel a spatial conv
CONVS: frozenset[str] = frozenset({"Conv1d", "Conv2d", "Conv3d"})
NORMS: frozenset[str] = frozenset({"_BatchNorm"})
RECURRENT: frozenset[str] = frozenset({"RNNBase", "RNNCellBase"})

#: ReLU spellings (``detect`` op names) whose backward reads the *output* (threshold_backward
#: on the result): an in-place write on that output breaks training. clamp / threshold read
#: their input instead.
SAVES_OUTPUT_OPS: frozenset[str] = frozenset(
    {"torch.nn.ReLU", "torch.nn.functional.relu", "torch.relu", "torch.relu_", "Tensor.relu",
     "Tensor.relu_"}
)
#: in-place spellings not named with a trailing underscore (``operator`` function names)
INPLACE_OPS: frozenset[str] = frozenset(
    {"iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "iand", "ior", "ixor",
     "ilshift", "irshift", "imatmul", "setitem"}
)
#: named like in-place ops but write no values (flags, names, the autograd graph)
NOT_WRITES: frozenset[str] = frozenset({"requires_grad_", "share_memory_", "detach_", "rename_"})
#: ``x += y``: fx records a Proxy's augmented assignment as the plain operator (no
#: ``__iadd__``); ``ast`` operator class name -> that ``operator`` function's name
AUGMENTED: dict[str, str] = {
    "Add": "add", "Sub": "sub", "Mult": "mul", "Div": "truediv", "FloorDiv": "floordiv",
    "MatMult": "matmul",
}


def writes_in_place(name: str) -> bool:
    """Is ``name`` (a method or function name) an in-place op that writes values?"""
    if name in INPLACE_OPS:
        return True
    return name.endswith("_") and not name.endswith("__") and name not in NOT_WRITES


#: ``--input-shape 8,20:long``: dtype names a user may write -> the ``torch`` attribute
INPUT_DTYPES: dict[str, str] = {
    "float": "float32", "float32": "float32", "float16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "double": "float64", "float64": "float64",
    "long": "int64", "int64": "int64", "int": "int32", "int32": "int32",
    "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}


def value_args(op: str) -> frozenset[ArgKey] | None:
    """The arguments of ``op`` whose values reach its result; None when all of them do."""
    return VALUE_ARGS.get(op)


def carries_values(op: str, key: ArgKey) -> bool:
    """Does argument ``key`` (a position or a keyword) of ``op`` pass its values on?"""
    keys = VALUE_ARGS.get(op)
    return keys is None or key in keys
