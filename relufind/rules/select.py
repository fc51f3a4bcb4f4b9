"""Which rules run: ruff's selection model over the catalog.

``select`` replaces the enabled set, ``extend-select`` adds to it, ``ignore`` removes from
it; the highest-priority ``select`` (command line, else configuration, else the defaults)
is the base. A selector is a code (``RF003``), a name (``inplace-clobber``), a code prefix
(``RF1``, ``RF``) or ``ALL``. An unknown selector is a usage error that names the valid ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import UsageError
from .catalog import RULES, lookup

DEFAULT: frozenset[str] = frozenset(rule.code for rule in RULES if rule.default)


def expand(selector: str, *, option: str = "--select") -> frozenset[str]:
    """The codes one selector names."""
    text = selector.strip()
    if text.upper() == "ALL":
        return frozenset(rule.code for rule in RULES)
    rule = lookup(text)
    if rule is not None:
        return frozenset({rule.code})
    prefix = text.upper()
    matched = frozenset(rule.code for rule in RULES if rule.code.startswith(prefix))
    if prefix.startswith("RF") and matched:
        return matched
    raise UsageError(
        f"{option}: unknown rule '{selector}'; use a code ({RULES[0].code}..{RULES[-1].code}), "
        f"a name ({RULES[0].name}, ...), a prefix such as RF0 or RF1, or ALL "
        "(relufind --list-rules shows them all)"
    )


def _expand_all(selectors: Iterable[str], option: str) -> frozenset[str]:
    codes: frozenset[str] = frozenset()
    for selector in selectors:
        codes |= expand(selector, option=option)
    return codes


def apply_layer(
    enabled: frozenset[str],
    select: Sequence[str] | None = None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    *,
    origin: str = "",
) -> frozenset[str]:
    """One layer of selection (configuration, then command line) over ``enabled``.

    ``origin`` prefixes the key in error messages: ``"--"`` for flags, the file for configuration.
    """
    base = enabled if select is None else _expand_all(select, f"{origin}select")
    extended = _expand_all(extend_select, f"{origin}extend-select")
    return (base | extended) - _expand_all(ignore, f"{origin}ignore")


def resolve(
    select: Sequence[str] | None = None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> frozenset[str]:
    """The enabled codes of one layer over the defaults."""
    return apply_layer(DEFAULT, select, extend_select, ignore)
