"""Action keys: what a step's cached result depends on, and nothing else.

A key is :func:`axl.hashing.key_digest` over :class:`KeyParts`, each part named so that
``axl explain`` can say which one changed:

1. ``identity``: workflow and node name;
2. ``code``: ``{"module.qualname": digest}`` of the step function and the project code it reaches;
3. ``options``: the options that can change outputs (handlers, input modes, env, cache_version),
   never resources or retries;
4. ``inputs``: per argument, the content digests of upstream outputs and the constants; for the
   params step, its values;
5. ``environment``: the lockfile (or requirements) digest, the Python version, the platform.
"""

from __future__ import annotations

import functools
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axl.graph._deps import dependency_spec
from axl.hashing import bytes_digest, trusted_key_digest
from axl.ir import Arg, Const, IRNode, IRWorkflow, Map, Ref, Seq


@dataclass(frozen=True)
class KeyParts:
    """The named parts of one action key (plain JSON-able data)."""

    identity: dict[str, str]
    code: dict[str, str]
    options: dict[str, Any]
    inputs: dict[str, Any]
    environment: dict[str, str]

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
) -> KeyParts:
    """All parts of ``node``'s key, given its code digests and its inputs' content digests."""
    return KeyParts(
        identity={"workflow": ir.name, "step": node.name},
        code=code,
        options=options_part(node),
        inputs=inputs_part(node, digests),
        environment=environment,
    )


def explain_change(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Sentences naming what differs between two :meth:`KeyParts.as_dict` results."""
    if old is None:
        return ["it had never been built before"]
    step = new.get("identity", {}).get("step", "")
    return [
        *_code_changes(old.get("code", {}), new.get("code", {}), step),
        *_input_changes(old.get("inputs", {}), new.get("inputs", {})),
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
