"""Canonical JSON for the IR: dump, load, round-trip."""

from __future__ import annotations

import json
from typing import Any

from axl.errors import WorkflowError
from axl.ir._model import (
    IR_VERSION,
    Arg,
    Const,
    IRNode,
    IROutput,
    IRWorkflow,
    Map,
    Ref,
    Seq,
    Source,
)


def arg_to_json(arg: Arg) -> Any:
    if isinstance(arg, Ref):
        return {"ref": [arg.node, arg.output]}
    if isinstance(arg, Const):
        return {"const": arg.value}
    if isinstance(arg, Seq):
        return {"list": [arg_to_json(a) for a in arg.items]}
    if isinstance(arg, Source):
        src: dict[str, Any] = {"kind": arg.kind, "location": arg.location}
        if arg.glob is not None:
            src["glob"] = arg.glob
        return {"source": src}
    return {"dict": {k: arg_to_json(v) for k, v in arg.items}}


def arg_from_json(data: Any) -> Arg:
    if not isinstance(data, dict) or len(data) != 1:
        raise WorkflowError(f"malformed IR argument {data!r}")
    ((kind, value),) = data.items()
    if kind == "ref":
        return Ref(str(value[0]), str(value[1]))
    if kind == "const":
        return Const(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    if kind == "list":
        return Seq(tuple(arg_from_json(v) for v in value))
    if kind == "source":
        if not isinstance(value, dict) or value.get("kind") not in ("file", "dir"):
            raise WorkflowError(f"malformed IR source {value!r}")
        return Source(str(value["kind"]), str(value["location"]), value.get("glob"))
    if kind == "dict":
        return Map(tuple((str(k), arg_from_json(v)) for k, v in sorted(value.items())))
    raise WorkflowError(f"malformed IR argument kind {kind!r}")


def node_to_dict(node: IRNode) -> dict[str, Any]:
    return {
        "name": node.name,
        "step": node.step,
        "kind": node.kind,
        "module": node.module,
        "qualname": node.qualname,
        "args": {name: arg_to_json(arg) for name, arg in node.args},
        "input_modes": dict(node.input_modes),
        "outputs": [
            {"name": o.name, "handler": o.handler, "extension": o.extension} for o in node.outputs
        ],
        "io_handler": node.io_handler,
        "retries": node.retries,
        "resources": dict(node.resources),
        "env": dict(node.env),
        "when": node.when,
        "cache": node.cache,
        "cache_version": node.cache_version,
        "params": None if node.params is None else json.loads(node.params),
        # Only when set: the IR (and its hash) of workflows that do not use it stay as they were.
        **({"strict_inputs": True} if node.strict_inputs else {}),
    }


def to_dict(ir: IRWorkflow) -> dict[str, Any]:
    """The IR as plain JSON-able data (the canonical form that is hashed and dumped)."""
    return {
        "ir_version": IR_VERSION,
        "name": ir.name,
        "module": ir.module,
        "qualname": ir.qualname,
        "image": ir.image,
        "io_handler": ir.io_handler,
        "input_mode": ir.input_mode,
        "use_lockfile": ir.use_lockfile,
        "requirements": list(ir.requirements),
        "requirements_file": ir.requirements_file,
        "nodes": [node_to_dict(n) for n in ir.nodes],
        "results": [[r.node, r.output] for r in ir.results],
    }


def dumps(ir: IRWorkflow) -> str:
    """Byte-stable, human-readable JSON (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(to_dict(ir), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _node_from_dict(d: dict[str, Any]) -> IRNode:
    params = d.get("params")
    return IRNode(
        name=d["name"],
        step=d["step"],
        kind=d["kind"],
        module=d["module"],
        qualname=d["qualname"],
        args=tuple((k, arg_from_json(v)) for k, v in d.get("args", {}).items()),
        input_modes=tuple(sorted(d.get("input_modes", {}).items())),
        outputs=tuple(
            IROutput(o["name"], o["handler"], o["extension"]) for o in d.get("outputs", [])
        ),
        io_handler=d.get("io_handler"),
        retries=int(d.get("retries", 0)),
        resources=tuple(sorted(d.get("resources", {}).items())),
        env=tuple(sorted(d.get("env", {}).items())),
        when=d.get("when"),
        cache=bool(d.get("cache", True)),
        cache_version=d.get("cache_version"),
        strict_inputs=bool(d.get("strict_inputs", False)),
        params=None
        if params is None
        else json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    )


def from_dict(data: dict[str, Any]) -> IRWorkflow:
    """Rebuild an IR from :func:`to_dict` output.

    Raises:
        WorkflowError: The data is not IR of a version this axl reads.
    """
    if data.get("ir_version") != IR_VERSION:
        raise WorkflowError(
            f"IR version {data.get('ir_version')!r} is not supported (expected {IR_VERSION})",
            hint="regenerate the IR with this version of axl",
        )
    try:
        return IRWorkflow(
            name=data["name"],
            module=data["module"],
            qualname=data["qualname"],
            nodes=tuple(_node_from_dict(n) for n in data["nodes"]),
            results=tuple(Ref(r[0], r[1]) for r in data["results"]),
            image=data["image"],
            io_handler=data["io_handler"],
            input_mode=data["input_mode"],
            use_lockfile=data["use_lockfile"],
            requirements=tuple(data["requirements"]),
            requirements_file=data["requirements_file"],
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise WorkflowError(f"malformed IR JSON: missing or bad field {exc}") from None


def loads(text: str) -> IRWorkflow:
    """Parse IR JSON produced by :func:`dumps`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(f"IR is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WorkflowError("IR JSON must be an object")
    return from_dict(data)
