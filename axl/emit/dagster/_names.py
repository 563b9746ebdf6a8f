"""Names Dagster and Python accept, and how a step's inputs are named as op inputs.

Dagster names (ops, inputs, outputs, config fields) must match ``^[A-Za-z0-9_]+$``; the generated
module also uses them as Python identifiers (functions, parameters, attributes), so they must
not be keywords, and they avoid shadowing builtins (a reader, and ruff's ``A`` rules, would trip
on a step called ``sum``). :func:`input_slots` is shared by the emitter and the op runtime, so
both agree on which op input carries which upstream output without the generated module
spelling the mapping out.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Python's builtins, plus those of newer Pythons, so that names do not depend on the version.
BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_")) | {
    "aiter",
    "anext",
    "BaseExceptionGroup",
    "EncodingWarning",
    "ExceptionGroup",
    "PythonFinalizationError",
}
#: Parameters every generated op function has besides its inputs.
OP_PARAMETERS = frozenset({"context", "axl", "config"})
#: Attribute names a pydantic model (Dagster's ``Config``) reserves: not usable as config fields.
PYDANTIC_RESERVED = frozenset(
    {"construct", "copy", "dict", "fields", "from_orm", "json", "parse_file", "parse_obj"}
    | {"parse_raw", "schema", "schema_json", "update_forward_refs", "validate"}
)

_DAGSTER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def identifier(text: str, default: str = "step") -> str:
    """``text`` as an ASCII identifier Dagster accepts: other characters become ``_``; a leading
    digit gets ``default`` + ``_`` in front; keywords and builtins get a trailing ``_``."""
    name = _NOT_NAME.sub("_", text)
    if not name.strip("_"):
        name = default
    if name[0].isdigit():
        name = f"{default}_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in BUILTINS:
        name += "_"
    return name


def is_config_field(key: str) -> bool:
    """Whether a params key can be a field of a Dagster ``Config`` class as it is."""
    return (
        bool(_DAGSTER_NAME.match(key))
        and key.isidentifier()
        and not key[0].isdigit()
        and not key.startswith(("_", "model_"))
        and not keyword.iskeyword(key)
        and key not in PYDANTIC_RESERVED
    )


class NameTable:
    """Hands out unique identifiers in one namespace: ``name``, ``name_2``, ``name_3``, ...

    Deterministic: the same requests in the same order give the same names.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.taken: set[str] = set(reserved)

    def take(self, wanted: str) -> str:
        """``wanted``, or the first free variant of it; the name is then taken."""
        name, number = wanted, 1
        while name in self.taken:
            number += 1
            name = f"{wanted.rstrip('_')}_{number}"
        self.taken.add(name)
        return name


def input_slots(inputs: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The op inputs of a step: ``(input name, manifest input leaf)`` for every upstream output
    its arguments read, in argument order (constants are not inputs: the manifest holds them).

    A plain argument keeps its name (``customers``); an item of a list or dict argument is named
    after the argument and its position or key (``parts_0``, ``sums_train``).

    Args:
        inputs: The ``inputs`` of a step's manifest entry.
    """
    table = NameTable(OP_PARAMETERS)
    slots: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(inputs):
        stack: list[tuple[str, Any]] = [(name, inputs[name])]
        while stack:
            trail, spec = stack.pop()
            if "input" in spec:
                slots.append((table.take(identifier(trail, "input")), spec["input"]))
            elif "list" in spec:
                items = [(f"{trail}_{i}", item) for i, item in enumerate(spec["list"])]
                stack.extend(reversed(items))
            elif "dict" in spec:
                entries = [
                    (f"{trail}_{key if key.isidentifier() else i}", item)
                    for i, (key, item) in enumerate(spec["dict"].items())
                ]
                stack.extend(reversed(entries))
    return slots
