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
- ``METADATA_ATTRIBUTES``: tensor attributes that are metadata (``x.shape``, ``x.dtype``).
"""

from __future__ import annotations

#: an argument is named by its position (0 is ``self`` for methods) or by its keyword
ArgKey = int | str

#: nothing at all: the result is built from metadata alone, or is metadata
NOTHING: frozenset[ArgKey] = frozenset()
#: only the first argument (``self`` / ``input``); the others lend shape, dtype or device
FIRST: frozenset[ArgKey] = frozenset({0, "input", "self"})

VALUE_ARGS: dict[str, frozenset[ArgKey]] = {
    # metadata reads: sizes, ranks, counts (an int, or a tuple of ints, whatever the values)
    "size": NOTHING,
    "dim": NOTHING,
    "ndimension": NOTHING,
    "numel": NOTHING,
    "nelement": NOTHING,
    "stride": NOTHING,
    "element_size": NOTHING,
    "storage_offset": NOTHING,
    "get_device": NOTHING,
    "is_contiguous": NOTHING,
    "is_floating_point": NOTHING,
    "is_complex": NOTHING,
    "len": NOTHING,
    "sym_size": NOTHING,  # aten (torch.export): x.size(d)
    "sym_numel": NOTHING,
    "sym_stride": NOTHING,
    "sym_storage_offset": NOTHING,
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


#: ops whose result is a view of their first argument's storage: an in-place write through
#: either one is seen by later readers of the other (``y = x.transpose(1, 2); y.relu_()``)
VIEWS: frozenset[str] = frozenset(
    {"transpose", "permute", "view", "view_as", "unsqueeze", "squeeze", "t", "expand", "expand_as",
     "narrow", "select", "getitem", "unflatten", "diagonal", "as_strided", "movedim", "swapaxes",
     "Identity"}
)

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
