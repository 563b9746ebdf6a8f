"""Compact workflow manifests: step entries written as differences from a shared base.

A workflow of thousands of calls of a few step functions repeats almost every field of a step
entry (function, key parts, outputs, options, most of the inputs) once per call. A compact
manifest stores each step function's first entry once, under ``shared``, and every call of that
function as the fields where it differs, naming its base::

    "shared": {"work": {...the full entry of the call `work`...}},
    "steps": {"work": {"shared": "work"},
              "work-1": {"shared": "work", "inputs": {"i": {"const": 1}}}}

Expanding is a deep merge: objects merge key by key, recursively; every other value (a list, a
string, ``null``) replaces the base's. A call whose entry lacks a key its base has cannot be
written that way and is written in full. :func:`expand` undoes :func:`share` exactly, before the
runner validates the manifest, so every rule of ``runner/manifest.schema.json`` applies to the
expanded entries.

:func:`compact_text` writes one line per step, so a diff of two emissions shows a changed step as
one changed line, and the text stays small.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from axl.errors import RunnerError
from axl.hashing import bytes_digest

SHARED = "shared"
#: Names of shared input leaves (step functions are identifiers, which cannot hold '-').
LEAF = "leaf-"


def share(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` with each input leaf written against the first leaf of its kind (same
    upstream output name, handler, extension and mode) and each step entry against its step
    function's first entry."""
    bases: dict[str, dict[str, Any]] = {}
    leaves = _share_leaves(manifest["steps"], bases)
    calls = Counter(entry["step"] for entry in leaves.values())
    steps: dict[str, Any] = {}
    for name, entry in leaves.items():
        if calls[entry["step"]] < 2:  # nothing to share
            steps[name] = entry
            continue
        base = bases.setdefault(entry["step"], entry)
        patch = _diff(base, entry)
        steps[name] = entry if patch is None else {SHARED: entry["step"], **patch}
    used = {e[SHARED] for e in steps.values() if SHARED in e} | {
        k for k in bases if k.startswith(LEAF)
    }
    out = {k: v for k, v in manifest.items() if k != "steps"}
    if used:
        out[SHARED] = {k: v for k, v in bases.items() if k in used}
    out["steps"] = steps
    return out


def _share_leaves(
    steps: Mapping[str, Any], bases: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every step entry with its input leaves written against shared leaf bases (named
    ``leaf-<n>``, which no step function can be named: a '-' is not in identifiers)."""
    kinds: dict[tuple[Any, ...], str] = {}
    count = Counter(_leaf_kind(leaf) for e in steps.values() for leaf in _leaves(e["inputs"]))

    def one(leaf: dict[str, Any]) -> dict[str, Any]:
        kind = _leaf_kind(leaf)
        if count[kind] < 2:
            return leaf
        if kind not in kinds:
            kinds[kind] = f"{LEAF}{len(kinds)}"
            bases[kinds[kind]] = leaf
        patch = _diff(bases[kinds[kind]], leaf)
        return leaf if patch is None else {SHARED: kinds[kind], **patch}

    return {n: {**e, "inputs": _map_leaves(e["inputs"], one)} for n, e in steps.items()}


def _leaf_kind(leaf: Mapping[str, Any]) -> tuple[Any, ...]:
    fields = ("handler", "extension", "mode", "digest")
    return (leaf["from"]["output"], *(leaf.get(f) for f in fields), tuple(sorted(leaf)))


def _leaves(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    from axl.runtime._manifest import iter_leaves

    return iter_leaves(inputs)


def _map_leaves(inputs: Any, fn: Any) -> Any:
    """A step's ``inputs`` (argument name -> argument) with ``fn`` applied to each input leaf."""
    if not isinstance(inputs, dict):
        return inputs
    return {name: _map_arg(arg, fn) for name, arg in inputs.items()}


def _map_arg(arg: Any, fn: Any) -> Any:
    # One argument: exactly one of input, const (a value: never walked), list, dict. Anything
    # else is returned as it is, for the schema to report.
    if not isinstance(arg, dict) or len(arg) != 1:
        return arg
    if isinstance(arg.get("input"), dict):
        return {"input": fn(arg["input"])}
    if isinstance(arg.get("list"), list):
        return {"list": [_map_arg(a, fn) for a in arg["list"]]}
    if isinstance(arg.get("dict"), dict):
        return {"dict": {k: _map_arg(a, fn) for k, a in arg["dict"].items()}}
    return arg


def expand(data: dict[str, Any], where: str) -> dict[str, Any]:
    """``data`` with every step entry and input leaf merged onto its base, and ``shared`` gone.

    Raises:
        RunnerError: ``shared`` is not an object of objects, or an entry names a base it lacks.
    """
    if SHARED not in data:
        return data
    bases = data[SHARED]
    steps = data.get("steps")
    if not isinstance(bases, dict) or not all(isinstance(b, dict) for b in bases.values()):
        raise RunnerError(f"{where} is invalid at shared: expected an object of step entries")
    if not isinstance(steps, dict):
        return {k: v for k, v in data.items() if k != SHARED}  # the schema reports it

    def based(entry: Any, at: str) -> Any:
        if not isinstance(entry, dict) or SHARED not in entry:
            return entry
        base = bases.get(entry[SHARED]) if isinstance(entry[SHARED], str) else None
        if base is None:
            raise RunnerError(
                f"{where} is invalid at {at}/shared: names no entry of 'shared': {entry[SHARED]!r}"
            )
        return merge(base, {k: v for k, v in entry.items() if k != SHARED})

    expanded: dict[str, Any] = {}
    for name, given in steps.items():
        entry = based(given, f"steps/{name}")
        if isinstance(entry, dict) and isinstance(entry.get("inputs"), dict):
            at = f"steps/{name}/inputs"
            entry = {**entry, "inputs": _map_leaves(entry["inputs"], partial(based, at=at))}
        expanded[name] = entry
    return {**{k: v for k, v in data.items() if k != SHARED}, "steps": expanded}


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` merged in: objects key by key, anything else replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _diff(base: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The smallest patch that :func:`merge` turns ``base`` into ``entry``, or None when there is
    none (``entry`` lacks a key of ``base``: a merge cannot remove keys)."""
    if not set(base) <= set(entry):
        return None
    patch: dict[str, Any] = {}
    for key, value in entry.items():
        old = base.get(key)
        if key in base and isinstance(value, dict) and isinstance(old, dict):
            sub = _diff(old, value)
            if sub is None:
                return None
            if sub:
                patch[key] = sub
        elif key not in base or old != value or type(old) is not type(value):
            patch[key] = value
    return patch


def compact_text(manifest: Mapping[str, Any]) -> str:
    """The manifest as JSON text: sorted keys, one line per top-level field, per shared entry
    and per step. Equal manifests are equal bytes."""
    lines: list[str] = []
    fields = sorted(manifest)
    for i, key in enumerate(fields):
        end = "" if i == len(fields) - 1 else ","
        value = manifest[key]
        if key in (SHARED, "steps") and isinstance(value, dict) and value:
            items = sorted(value.items())
            body = ",\n".join(f"  {_compact(k)}: {_compact(v)}" for k, v in items)
            lines.append(f" {_compact(key)}: {{\n{body}\n }}{end}")
        else:
            lines.append(f" {_compact(key)}: {_compact(value)}{end}")
    return "{\n" + "\n".join(lines) + "\n}\n"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def check_digest(path: Path, raw: bytes, digest: str) -> None:
    """Refuse a manifest whose bytes are not the ones the workflow was compiled with.

    Raises:
        RunnerError: Their BLAKE3 digest is not ``digest``.
    """
    got = bytes_digest(raw)
    if got != digest:
        raise RunnerError(
            f"manifest {path} has digest {got[:16]}..., but this step was compiled with "
            f"manifest {digest[:16]}...",
            hint="submit the workflow together with the manifest it was compiled with "
            "(compile again and create both)",
        )
