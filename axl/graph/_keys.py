"""Action keys: what a step's cached result depends on, and nothing else.

A key is :func:`axl.hashing.key_digest` over :class:`KeyParts`, each part named so that
``axl explain`` can say which one changed:

1. ``identity``: workflow and node name;
2. ``code``: ``{"module.qualname": digest}`` of the step function and the project code it reaches;
3. ``options``: the options that can change outputs (handlers, input modes, env, cache_version),
   never resources or retries;
4. ``inputs``: per argument, the content digests of upstream outputs and the constants; for the
   params step, its values; for data from outside the graph (``axl.File``/``axl.Dir``), the
   file's content digest or the folder's Merkle digest (never its name);
5. ``environment``: the lockfile (or requirements) digest, the Python version, the platform.
"""

from __future__ import annotations

import functools
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.graph._deps import dependency_spec
from axl.hashing import bytes_digest, trusted_key_digest
from axl.ir import Arg, Const, IRNode, IRWorkflow, Map, Ref, Seq, Source

#: The node name under which the digests map holds external inputs, by ``Source.ident``: no
#: step can have it (node names are identifiers with '-').
SOURCE = "<source>"


@dataclass(frozen=True)
class KeyParts:
    """The named parts of one action key (plain JSON-able data)."""

    identity: dict[str, str]
    code: dict[str, str]
    options: dict[str, Any]
    inputs: dict[str, Any]
    environment: dict[str, str]
    #: Per argument, the external inputs it reads (kind, location, digest): not part of the key
    #: (data is keyed by content, never by name), kept so ``axl explain`` can name them.
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False)

    def as_record(self) -> dict[str, Any]:
        """:meth:`as_dict` plus what explains the key (the external inputs' names)."""
        record = self.as_dict()
        if self.sources:
            record["sources"] = self.sources
        return record

    def as_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "code": self.code,
            "options": self.options,
            "inputs": self.inputs,
            "environment": self.environment,
        }

    @functools.cached_property  # read several times per step; hashing it is most of a null build
    def key(self) -> str:
        # Every part is canonical by construction (IR constants were checked when traced).
        return trusted_key_digest("action", self.as_dict())


def environment_part(ir: IRWorkflow, root: Path) -> dict[str, str]:
    """The environment part: the dependency spec's digest, Python version and platform.

    Raises:
        UsageError: The workflow's dependency settings are inconsistent or name a missing file
            (see :func:`axl.graph._deps.dependency_spec`, which the image builder and the
            runner's env setup resolve through too).
    """
    deps = dependency_spec(ir, root).entry
    return {
        "dependencies": deps,
        "python": ".".join(map(str, sys.version_info[:2])),
        "platform": f"{sys.platform}-{platform.machine()}",
    }


def options_part(node: IRNode) -> dict[str, Any]:
    """The options that can change a step's outputs (not resources, not retries)."""
    return {
        "kind": node.kind,
        "outputs": [[o.name, o.handler] for o in node.outputs],
        "input_modes": dict(node.input_modes),
        "env": dict(node.env),
        "cache_version": node.cache_version,
    }


def inputs_part(node: IRNode, digests: dict[tuple[str, str], str]) -> dict[str, Any]:
    """Per argument: upstream outputs by content digest, constants by value."""
    if node.params is not None:
        return {"params": bytes_digest(node.params.encode())}
    return {name: _arg_digest(arg, digests) for name, arg in node.args}


def _arg_digest(arg: Arg, digests: dict[tuple[str, str], str]) -> Any:
    if isinstance(arg, Ref):
        return {"digest": digests[(arg.node, arg.output)]}
    if isinstance(arg, Source):
        return {arg.kind: digests[(SOURCE, arg.ident)]}
    if isinstance(arg, Const):
        return {"const": arg.value}
    if isinstance(arg, Seq):
        return {"list": [_arg_digest(a, digests) for a in arg.items]}
    assert isinstance(arg, Map)
    return {"dict": {k: _arg_digest(v, digests) for k, v in arg.items}}


def key_parts(
    ir: IRWorkflow,
    node: IRNode,
    code: dict[str, str],
    environment: dict[str, str],
    digests: dict[tuple[str, str], str],
    notes: dict[str, str] | None = None,
) -> KeyParts:
    """All parts of ``node``'s key, given its code digests and its inputs' content digests
    (``notes``: why an external input, by ``Source.ident``, cannot be versioned)."""
    return KeyParts(
        identity={"workflow": ir.name, "step": node.name},
        code=code,
        options=options_part(node),
        inputs=inputs_part(node, digests),
        environment=environment,
        sources=sources_part(node, digests, notes or {}),
    )


def sources_part(
    node: IRNode, digests: dict[tuple[str, str], str], notes: dict[str, str] | None = None
) -> dict[str, Any]:
    """Per argument holding external inputs: each one's kind, location and digest."""
    from axl.ir import iter_sources

    found: dict[str, list[dict[str, Any]]] = {}
    for name, arg in node.args:
        for src in iter_sources(arg):
            entry: dict[str, Any] = {"kind": src.kind, "location": src.location, "glob": src.glob}
            entry["digest"] = digests[(SOURCE, src.ident)]
            if notes and src.ident in notes:
                entry["unversioned"] = True
            found.setdefault(name, []).append(entry)
    return found


def explain_change(
    old: dict[str, Any] | None, new: dict[str, Any], folder: FolderDiff | None = None
) -> list[str]:
    """Sentences naming what differs between two :meth:`KeyParts.as_record` results.

    Args:
        old: The earlier build's parts (``None``: never built).
        new: This build's parts.
        folder: Says what changed between two listings of a folder input, by their digests.
    """
    if old is None:
        return ["it had never been built before"]
    step = new.get("identity", {}).get("step", "")
    sourced = _source_changes(old.get("sources", {}), new.get("sources", {}), folder)
    inputs_old = {k: v for k, v in old.get("inputs", {}).items() if k not in sourced}
    inputs_new = {k: v for k, v in new.get("inputs", {}).items() if k not in sourced}
    return [
        *_code_changes(old.get("code", {}), new.get("code", {}), step),
        *(line for lines in sourced.values() for line in lines),
        *_input_changes(inputs_old, inputs_new),
        *_env_changes(old.get("environment", {}), new.get("environment", {})),
        *(
            f"option `{k}` changed"
            for k in sorted(set(old.get("options", {})) | set(new.get("options", {})))
            if old.get("options", {}).get(k) != new.get("options", {}).get(k)
        ),
    ]


def _code_changes(old: dict[str, str], new: dict[str, str], step: str) -> list[str]:
    reasons = []
    for ident in sorted(set(old) | set(new)):
        what = _describe_code(ident, step)
        if ident not in old:
            reasons.append(f"{what} is newly used")
        elif ident not in new:
            reasons.append(f"{what} is no longer used")
        elif old[ident] != new[ident]:
            reasons.append(f"{what} changed")
    return reasons


def _input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    reasons = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        if name == "params":
            reasons.append("the params values changed")
        elif name not in old:
            reasons.append(f"input `{name}` is new")
        elif name not in new:
            reasons.append(f"input `{name}` was removed")
        elif _has_digest(new[name]):
            reasons.append(f"input `{name}` has a new digest")
        else:
            reasons.append(f"constant argument `{name}` changed")
    return reasons


#: (old listing digest or None, new listing digest, location) -> "3 files of data/raw/ changed".
FolderDiff = Callable[[str | None, str, str], str | None]


def _source_changes(
    old: dict[str, Any], new: dict[str, Any], folder: FolderDiff | None
) -> dict[str, list[str]]:
    """Per argument reading external inputs whose digests changed: one sentence per input."""
    found: dict[str, list[str]] = {}
    for name, entries in new.items():
        before = {(e["kind"], e["location"], e.get("glob")): e for e in old.get(name, [])}
        lines = []
        for entry in entries:
            ident = (entry["kind"], entry["location"], entry.get("glob"))
            prev = before.get(ident)
            if prev is not None and prev.get("digest") == entry.get("digest"):
                continue
            where = entry["location"]
            if entry.get("unversioned"):
                lines.append(
                    f"input {entry['kind']} {where} has neither a strong ETag nor Last-Modified "
                    "and Content-Length, so it reruns every build"
                )
                continue
            if entry["kind"] == "dir" and folder is not None:
                where = where.rstrip("/") + "/"
                said = folder(prev.get("digest") if prev else None, entry["digest"], where)
                if said is not None:
                    lines.append(said)
                    continue
            if prev is None:
                lines.append(f"input {entry['kind']} {where} is newly read by argument `{name}`")
            else:
                lines.append(f"input {entry['kind']} {where} changed")
        if lines:
            found[name] = lines
    return found


def _env_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    reasons = []
    if old.get("dependencies") != new.get("dependencies"):
        dep = str(new.get("dependencies", "")).split(":", 1)[0] or "the dependencies"
        reasons.append(f"{dep} changed")
    reasons.extend(
        f"the {key} changed ({old.get(key)} -> {new.get(key)})"
        for key in ("python", "platform")
        if old.get(key) != new.get(key)
    )
    return reasons


def _has_digest(value: Any) -> bool:
    if isinstance(value, dict):
        return "digest" in value or any(_has_digest(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_digest(v) for v in value)
    return False


def _describe_code(ident: str, step: str) -> str:
    kind, _, rest = ident.partition(":")
    file, _, qual = rest.partition(":")
    short = qual.rpartition(".")[2]
    if kind == "const":
        return f"module constant `{short}` in {file}"
    if short == step.split("-", maxsplit=1)[0]:
        return f"source of step `{short}()` in {file}"
    return f"source of `{short}{'()' if short[:1].islower() else ''}` in {file}"
