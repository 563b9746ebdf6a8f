"""Python source text, already in the form ``ruff format`` gives it (line length 100).

A tiny pretty-printer for the few shapes the Dagster emitter writes: atoms, calls, and list,
tuple and dict displays. The rule is ruff's (and black's) with one simplification that keeps
its output stable under ``ruff format``: an expression that fits on its line is written on one
line; one that does not is exploded, one item per line, *with* a trailing comma. The trailing
comma is "magic": the formatter keeps such a bracket exploded, so it never has to choose the
intermediate form (all items on one indented line) for us.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

LINE_LENGTH = 100
INDENT = "    "


@dataclass(frozen=True)
class Atom:
    """Text that is never split: a name, a literal, an attribute access."""

    text: str


@dataclass(frozen=True)
class Call:
    """``func(arg, ..., name=value, ...)``; ``args`` are ``(keyword or None, expression)``."""

    func: str
    args: tuple[tuple[str | None, Expr], ...]


@dataclass(frozen=True)
class Display:
    """A list, tuple or dict display; a dict's items are ``(key expression, value)``."""

    kind: str  # "list", "tuple" or "dict"
    items: tuple[Any, ...]


Expr = Union[Atom, Call, Display]  # noqa: UP007 - a runtime alias (3.10 cannot `|` a str)

_BRACKETS = {"list": ("[", "]"), "tuple": ("(", ")"), "dict": ("{", "}")}


def call(func: str, *args: Expr, **kwargs: Expr) -> Call:
    """A call with positional then keyword arguments (keywords in the order given)."""
    return Call(func, (*((None, a) for a in args), *kwargs.items()))


def literal(value: Any) -> Expr:
    """A JSON-like value (dict, list, str, int, float, bool, None) as a display or an atom."""
    if isinstance(value, dict):
        return Display("dict", tuple((Atom(string(str(k))), literal(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return Display("list", tuple(literal(v) for v in value))
    return Atom(scalar(value))


def scalar(value: Any) -> str:
    """A scalar as ruff writes it (``True``, ``1e20`` rather than ``1e+20``, ``"text"``)."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value).replace("e+", "e")
    return string(str(value))


def string(text: str) -> str:
    """A string literal: double quotes unless single quotes need fewer escapes (ruff's rule);
    control and other unprintable characters escaped, printable non-ASCII kept."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = [quote]
    for char in text:
        if char in (quote, "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    out.append(quote)
    return "".join(out)


def width(text: str) -> int:
    """Columns ``text`` takes, counting wide East Asian characters twice (as ruff does)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def flat(expr: Expr) -> str:
    """``expr`` on one line."""
    if isinstance(expr, Atom):
        return expr.text
    if isinstance(expr, Call):
        parts = [flat(v) if k is None else f"{k}={flat(v)}" for k, v in expr.args]
        return f"{expr.func}({', '.join(parts)})"
    open_, close = _BRACKETS[expr.kind]
    if expr.kind == "dict":
        parts = [f"{flat(k)}: {flat(v)}" for k, v in expr.items]
    else:
        parts = [flat(item) for item in expr.items]
    if expr.kind == "tuple" and len(parts) == 1:
        return f"({parts[0]},)"
    return f"{open_}{', '.join(parts)}{close}"


def lines(expr: Expr, depth: int, prefix: str = "", suffix: str = "") -> list[str]:
    """``prefix + expr + suffix`` at indentation ``depth``: one line if it fits, else exploded."""
    pad = INDENT * depth
    one = f"{pad}{prefix}{flat(expr)}{suffix}"
    if isinstance(expr, Atom) or width(one) <= LINE_LENGTH or not _items(expr):
        return [one]
    if isinstance(expr, Call):
        head, close = f"{expr.func}(", ")"
        body: list[str] = []
        for key, value in expr.args:
            body += lines(value, depth + 1, "" if key is None else f"{key}=", ",")
    else:
        head, close = _BRACKETS[expr.kind]
        body = []
        for item in expr.items:
            if expr.kind == "dict":
                body += lines(item[1], depth + 1, f"{flat(item[0])}: ", ",")
            else:
                body += lines(item, depth + 1, "", ",")
    return [f"{pad}{prefix}{head}", *body, f"{pad}{close}{suffix}"]


def _items(expr: Call | Display) -> Sequence[Any]:
    return expr.args if isinstance(expr, Call) else expr.items


def signature(name: str, params: Sequence[str], returns: str | None, depth: int = 0) -> list[str]:
    """``def name(params) -> returns:`` on one line, or with one parameter per line. A return
    annotation too long for the closing line is left out."""
    pad = INDENT * depth
    arrow = f" -> {returns}" if returns else ""
    one = f"{pad}def {name}({', '.join(params)}){arrow}:"
    if width(one) <= LINE_LENGTH or not params:
        return [one]
    if width(f"{pad}){arrow}:") > LINE_LENGTH:
        arrow = ""
    return [f"{pad}def {name}(", *(f"{pad}{INDENT}{p}," for p in params), f"{pad}){arrow}:"]
