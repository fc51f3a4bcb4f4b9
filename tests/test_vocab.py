"""The one vocabulary (``relufind/vocab.py``): tables that every front end and the rules read."""

from __future__ import annotations

from relufind import vocab


def test_every_view_is_shape_only() -> None:
    # the rules' shape-only walks and the relations' view aliasing read one table
    assert vocab.VIEWS <= vocab.SHAPE_ONLY
    assert {"reshape", "flatten", "chunk", "split", "unbind", "contiguous", "Identity"} <= vocab.VIEWS


def test_metadata_reads_carry_no_values() -> None:
    for name in vocab.METADATA_READS:
        assert vocab.value_args(name) == frozenset(), name
    assert not vocab.METADATA_ATTRIBUTES & vocab.VALUE_ATTRIBUTES


def test_in_place_spellings() -> None:
    assert vocab.writes_in_place("add_") and vocab.writes_in_place("relu_")
    assert vocab.writes_in_place("iadd") and vocab.writes_in_place("setitem")
    assert not vocab.writes_in_place("requires_grad_")  # a flag, not a value
    assert not vocab.writes_in_place("__add__") and not vocab.writes_in_place("add")


def test_non_negative_producers_and_squashes_overlap_only_where_both_hold() -> None:
    assert {"softmax", "sigmoid", "Softmax", "Softmax2d", "Sigmoid"} == vocab.NON_NEGATIVE & vocab.SQUASH
