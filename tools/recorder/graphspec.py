"""Pure-Python pieces of the tpjit.graph/1 format: dim expressions and the JSON writer.

No torch here, so the tests and `record.py --self-check` run on machines without it.

Dim grammar (CONTRACTS.md "Graph format"):
    dim   := INT | expr
    expr  := term ('*' term)* ('/' INT)?
    term  := INT | SYMBOL            SYMBOL := [A-Za-z_][A-Za-z0-9_]*
"""
from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Mapping, Sequence, Union

FORMAT = "tpjit.graph/1"
Dim = Union[int, str]

_SYMBOL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT_RE = re.compile(r"^[0-9]+$")
# Names the recorder emits; kept to characters every consumer (C++ IR, file names) accepts.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
MAX_NAME_LENGTH = 128
# Graph names become file names (tests/data/graphs/<name>.json), so '-' is allowed but '/' is not.
_GRAPH_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class DimError(ValueError):
    """A dim that is not in the grammar, or does not evaluate to an integer."""


def derive_dim(d1: int, d2: int, m1: int, m2: int, symbol: str = "M") -> Dim:
    """Turns one dim seen at two token counts into an int (same in both) or `c*M/q`."""
    if m1 == m2 or m1 <= 0 or m2 <= 0:
        raise DimError(f"need two distinct positive token counts, got {m1} and {m2}")
    if d1 == d2:
        return int(d1)
    r1, r2 = Fraction(d1, m1), Fraction(d2, m2)
    if r1 != r2:
        raise DimError(
            f"dim is {d1} at {symbol}={m1} and {d2} at {symbol}={m2}: neither constant "
            f"nor proportional to {symbol}, so it has no tpjit.graph/1 expression")
    return format_ratio(r1, symbol)


def format_ratio(ratio: Fraction, symbol: str = "M") -> str:
    """Fraction(p, q) -> "M", "p*M", "M/q" or "p*M/q"."""
    text = symbol if ratio.numerator == 1 else f"{ratio.numerator}*{symbol}"
    return text if ratio.denominator == 1 else f"{text}/{ratio.denominator}"


def derive_shape(s1: Sequence[int], s2: Sequence[int], m1: int, m2: int,
                 symbol: str = "M") -> list:
    """derive_dim over a whole shape; ranks must agree."""
    if len(s1) != len(s2):
        raise DimError(f"rank changed between runs: {list(s1)} vs {list(s2)}")
    return [derive_dim(int(a), int(b), m1, m2, symbol) for a, b in zip(s1, s2)]


def parse_dim(dim) -> tuple:
    """Dim -> (terms, divisor); terms is a list of ints and symbol names. Raises DimError."""
    if isinstance(dim, bool):
        raise DimError(f"dim {dim!r} is a bool, expected an int or an expression string")
    if isinstance(dim, int):
        if dim < 0:
            raise DimError(f"dim {dim} is negative")
        return [dim], 1
    if not isinstance(dim, str) or not dim:
        raise DimError(f"dim {dim!r} is neither an int nor a non-empty expression string")
    body, divisor = dim, 1
    if "/" in dim:
        body, _, div_text = dim.partition("/")
        if not _INT_RE.match(div_text) or int(div_text) == 0:
            raise DimError(f"dim {dim!r}: the divisor must be a positive integer")
        divisor = int(div_text)
    terms = []
    for term in body.split("*"):
        if _INT_RE.match(term):
            terms.append(int(term))
        elif _SYMBOL_RE.match(term):
            terms.append(term)
        else:
            raise DimError(f"dim {dim!r}: term {term!r} is neither an integer nor a symbol")
    return terms, divisor


def dim_symbols(dim) -> list:
    """The symbol names a dim uses."""
    terms, _ = parse_dim(dim)
    return [t for t in terms if isinstance(t, str)]


def eval_dim(dim, bindings: Mapping[str, int]) -> int:
    """Evaluates a dim; the division must be exact. Raises DimError."""
    terms, divisor = parse_dim(dim)
    value = 1
    for term in terms:
        if isinstance(term, str):
            if term not in bindings:
                raise DimError(f"dim {dim!r}: symbol {term!r} has no binding")
            term = bindings[term]
        value *= term
    if value % divisor:
        raise DimError(f"dim {dim!r} = {value}/{divisor} does not divide exactly")
    return value // divisor


def eval_shape(shape: Sequence, bindings: Mapping[str, int]) -> list:
    return [eval_dim(d, bindings) for d in shape]


def sanitize_name(text: str) -> str:
    """FX/module names -> names in [A-Za-z_][A-Za-z0-9_]*; never empty."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_")
    out = re.sub(r"_+", "_", out)
    if not out:
        out = "t"
    if out[0].isdigit():
        out = "t_" + out
    return out[:MAX_NAME_LENGTH]


def valid_name(name) -> bool:
    return isinstance(name, str) and bool(_NAME_RE.match(name)) and len(name) <= MAX_NAME_LENGTH


def valid_graph_name(name) -> bool:
    return isinstance(name, str) and bool(_GRAPH_NAME_RE.match(name)) and len(name) <= MAX_NAME_LENGTH


def valid_symbol(name) -> bool:
    return isinstance(name, str) and bool(_SYMBOL_RE.match(name))


_KEY_ORDER = ("format", "name", "group", "symbols", "tensors", "inputs", "outputs", "nodes", "meta")


def dumps_graph(graph: Mapping) -> str:
    """Stable, diff-friendly JSON: one tensor or node per line, keys in contract order."""
    def one(value) -> str:
        return json.dumps(value, separators=(", ", ": "), ensure_ascii=True)

    lines = ["{"]
    keys = [k for k in _KEY_ORDER if k in graph] + sorted(k for k in graph if k not in _KEY_ORDER)
    for i, key in enumerate(keys):
        comma = "," if i + 1 < len(keys) else ""
        value = graph[key]
        if key in ("tensors", "nodes") and isinstance(value, list):
            lines.append(f"  {json.dumps(key)}: [")
            for j, item in enumerate(value):
                lines.append(f"    {one(item)}" + ("," if j + 1 < len(value) else ""))
            lines.append(f"  ]{comma}")
        elif key == "meta" and isinstance(value, dict) and value:
            lines.append(f"  {json.dumps(key)}: {{")
            items = sorted(value.items())
            for j, (k, v) in enumerate(items):
                lines.append(f"    {json.dumps(k)}: {one(v)}" + ("," if j + 1 < len(items) else ""))
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {one(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"
