"""The IO manifest: what ``python -m axl.runtime`` needs to run one step, as JSON.

Emitted from the IR (whole workflow, for the Argo and Dagster emitters) or from one scheduled
step (the local executor's subprocess mode), and read back by the runner. A manifest is untrusted
input: :func:`load_manifest` checks its version, validates it against
``runner/manifest.schema.json`` (unknown fields are errors) and confines every path it names to the
run's input and output folders. ``runner/SPEC.md`` documents each field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from axl import _loader
from axl.cache._records import OutputRecord
from axl.errors import RunnerError
from axl.graph._keys import SOURCE, KeyParts, key_parts, options_part
from axl.hashing import bytes_digest
from axl.io import AUTO
from axl.ir import Arg, Const, IRNode, IROutput, IRWorkflow, Map, Ref, Seq, Source, iter_refs
from axl.runtime._step import StepTask

#: Bump when a field changes meaning or a required field is added; runners refuse other versions.
MANIFEST_VERSION = 1
SCHEMA_NAME = "manifest.schema.json"

_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

#: (upstream step, output) -> what is known about it: handler, extension, digest, size.
Known = Mapping[tuple[str, str], Mapping[str, Any]]


# -- emission ---------------------------------------------------------------------------------


def emit_manifest(
    ir: IRWorkflow,
    *,
    code: Callable[[IRNode], dict[str, str]] | None = None,
    environment: Mapping[str, str] | None = None,
    sources: Mapping[str, str] | None = None,
    outputs: Mapping[tuple[str, str], OutputRecord] | None = None,
    data: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest of every step of ``ir``. Pure: same arguments, same manifest.

    Args:
        ir: The workflow.
        code: Gives each node's code key part (``axl.exec._session.live_code``); with
            ``environment``, lets the runner recompute and check each step's action key.
        environment: The key's environment part (``axl.graph.environment_part``).
        sources: Workspace-relative source files -> content digest (:func:`project_sources`);
            the runner refuses to run when the files it imports differ.
        outputs: Upstream outputs already built, by ``(step, output)``: their digests (and the
            keys of the steps reading them) are filled in. Unknown digests are left ``null``.
        data: External inputs keyed already (``Source.ident`` -> digest): the runner refuses
            other data. Those left out are keyed by the runner from what it finds.
    """
    known: dict[tuple[str, str], dict[str, Any]] = {}
    for node in ir.nodes:
        for out in node.outputs:
            known[(node.name, out.name)] = {"handler": out.handler, "extension": out.extension}
    digests: dict[tuple[str, str], str] = {}
    for ref, rec in (outputs or {}).items():
        known[ref] = rec.to_json()
        digests[ref] = rec.digest
    for ident, digest in (data or {}).items():
        known[(SOURCE, ident)] = {"digest": digest}
    steps: dict[str, Any] = {}
    for node in ir.nodes:
        node_code = code(node) if code is not None else None
        key = None
        # A key needs the whole environment: one that leaves the Python and platform to the
        # place the step runs (Argo, Dagster) is completed, and keyed, by the runner there.
        complete = environment is not None and {"python", "platform"} <= set(environment)
        if node_code is not None and complete and _all_known(node, digests):
            key = key_parts(ir, node, node_code, dict(environment or {}), digests).key
        modes = {name: dict(node.input_modes).get(name, ir.input_mode) for name, _ in node.args}
        steps[node.name] = _step_entry(node, modes, known, node_code, options_part(node), key)
    return _document(
        {
            "name": ir.name,
            "module": ir.module,
            "qualname": ir.qualname,
            "hash": ir.compute_hash(),
            "io_handler": ir.io_handler,
        },
        steps,
        environment,
        sources,
    )


def task_manifest(
    node: IRNode, task: StepTask, parts: KeyParts, *, sources: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The manifest of one scheduled step, whose inputs' digests are all known."""
    known: dict[tuple[str, str], dict[str, Any]] = {}
    modes: dict[str, str] = {}
    for name, arg in node.args:
        _pair(arg, task.args[name], known, modes, name)
    for out in node.outputs:
        known.setdefault((node.name, out.name), {"handler": out.handler})
    entry = _step_entry(node, modes, known, parts.code, parts.options, parts.key)
    if task.strict:
        entry["strict_inputs"] = True  # --strict reaches the runner through its manifest
    workflow = {
        "name": parts.identity["workflow"],
        "module": task.workflow_module,
        "qualname": task.workflow_qualname,
        "hash": None,
        "io_handler": task.default_handler,
    }
    return _document(workflow, {node.name: entry}, parts.environment, sources)


def _document(
    workflow: dict[str, Any],
    steps: dict[str, Any],
    environment: Mapping[str, str] | None,
    sources: Mapping[str, str] | None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, "workflow": workflow}
    if environment is not None:
        doc["environment"] = dict(environment)
    if sources:
        doc["sources"] = dict(sorted(sources.items()))
    doc["steps"] = steps
    return doc


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as text: sorted keys, so equal manifests are equal bytes."""
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _pair(
    arg: Arg,
    spec: Any,
    known: dict[tuple[str, str], dict[str, Any]],
    modes: dict[str, str],
    name: str,
) -> None:
    """Walk an IR argument and the matching StepTask argument together."""
    if isinstance(arg, Source):
        ((_, leaf),) = spec.items()  # "input" (a file's snapshot), "folder" or "remote"
        known[(SOURCE, arg.ident)] = {k: leaf[k] for k in _SOURCE_FIELDS if k in leaf}
        modes.setdefault(name, leaf.get("mode", "path"))
    elif isinstance(arg, Ref):
        leaf = spec["input"]
        known[(arg.node, arg.output)] = {
            k: leaf[k] for k in ("digest", "handler", "extension") if k in leaf
        }
        modes.setdefault(name, leaf["mode"])
    elif isinstance(arg, Seq):
        for item, sub in zip(arg.items, spec["list"], strict=True):
            _pair(item, sub, known, modes, name)
    elif isinstance(arg, Map):
        for key, item in arg.items:
            _pair(item, spec["dict"][key], known, modes, name)


def _all_known(node: IRNode, digests: Mapping[tuple[str, str], str]) -> bool:
    refs = all((r.node, r.output) in digests for _, a in node.args for r in iter_refs(a))
    return refs and not node.sources  # an emitted workflow's data is keyed where it runs


def _step_entry(
    node: IRNode,
    modes: Mapping[str, str],
    known: Known,
    code: Mapping[str, str] | None,
    options: Mapping[str, Any],
    key: str | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "step": node.step,
        "kind": node.kind,
        "function": {"module": node.module, "qualname": node.qualname},
        "key": key,
        "inputs": {
            name: _input(arg, known, modes.get(name, "object"), (name,)) for name, arg in node.args
        },
        "outputs": [_output(out, i) for i, out in enumerate(node.outputs)],
        "env": dict(node.env),
        "retries": node.retries,
        "resources": dict(node.resources),
    }
    if code is not None:
        entry["key_parts"] = {"code": dict(code), "options": dict(options)}
    if node.kind == "params":
        entry["params"] = node.param_values
    if not node.cache:
        entry["cache"] = False
    if node.strict_inputs:
        entry["strict_inputs"] = True
    return entry


_SOURCE_FIELDS = ("digest", "handler", "extension", "remote")


def _source(arg: Source, known: Known, mode: str, stem: str) -> dict[str, Any]:
    """A ``source`` leaf: where the data was declared and, when keyed already, its digest."""
    from axl.ir._sources import extension_of, handler_for

    info = known.get((SOURCE, arg.ident), {})
    ext = extension_of(arg.location) if arg.kind == "file" else ""
    leaf: dict[str, Any] = {
        "kind": arg.kind,
        "location": arg.location,
        "digest": info.get("digest"),
        "handler": str(info.get("handler") or handler_for(arg.location) or "bytes"),
        "extension": str(info.get("extension", ext)),
        "mode": mode,
        "path": f"{stem}.{ext}" if ext else stem,
    }
    if arg.glob is not None:
        leaf["glob"] = arg.glob
    if info.get("remote") is not None:
        leaf["remote"] = info["remote"]
    return {"source": leaf}


def _input(arg: Arg, known: Known, mode: str, trail: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(arg, Const):
        return {"const": arg.value}
    if isinstance(arg, Source):
        return _source(arg, known, mode, "/".join(trail))
    if isinstance(arg, Seq):
        return {"list": [_input(a, known, mode, (*trail, str(i))) for i, a in enumerate(arg.items)]}
    if isinstance(arg, Map):
        return {
            "dict": {
                k: _input(a, known, mode, (*trail, _part(k, i)))
                for i, (k, a) in enumerate(arg.items)
            }
        }
    info = known.get((arg.node, arg.output), {})
    handler = str(info.get("handler", "auto"))
    extension = str(info.get("extension", ""))
    stem = "/".join(trail)
    leaf: dict[str, Any] = {
        "from": {"step": arg.node, "output": arg.output},
        "digest": info.get("digest"),
        "handler": handler,
        "extension": extension,
        "mode": mode,
        "path": f"{stem}.{extension}" if extension else stem,
    }
    if handler == AUTO:
        # Only the upstream's result record will say which handler wrote the file.
        leaf["record"] = f"{stem}.result.json"
    if "size" in info:
        leaf["size"] = info["size"]
    return {"input": leaf}


def _output(out: IROutput, index: int) -> dict[str, Any]:
    # An "auto" output's extension is decided when the value exists, so its file has none.
    stem = _part(out.name, index)
    return {
        "name": out.name,
        "handler": out.handler,
        "extension": out.extension,
        "path": f"{stem}.{out.extension}" if out.extension else stem,
    }


def _part(name: str, index: int) -> str:
    # Names become file names: anything that is not a plain name (a params key such as
    # "../x" or "a b") is replaced by its position, so no name can steer a path.
    return name if _SAFE_PART.match(name) and name.isidentifier() else f"_{index}"


def project_sources(root: Path) -> dict[str, str]:
    """Workspace-relative path -> content digest of every project module compiled so far.

    These are the bytes axl compiled (:data:`axl._loader.SOURCES`), so they are what was keyed.
    axl's own package is left out: it is the runner, not the workflow.
    """
    root = root.resolve()
    own = Path(__file__).resolve().parents[1]
    found: dict[str, str] = {}
    for name, data in list(_loader.SOURCES.items()):
        path = Path(name)
        if path.is_relative_to(root) and not path.is_relative_to(own):
            found[path.relative_to(root).as_posix()] = bytes_digest(data)
    return dict(sorted(found.items()))


# -- loading and validation -------------------------------------------------------------------


def load_manifest(path: Path, digest: str | None = None) -> dict[str, Any]:
    """Read and validate the manifest at ``path`` (compact ones expanded first).

    Args:
        path: The manifest file.
        digest: The BLAKE3 digest its bytes must have (``--manifest-digest``), if any.

    Raises:
        RunnerError: It cannot be read, has another digest, is not JSON, has another version,
            breaks the schema or names a path outside the run's folders.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunnerError(
            f"cannot read manifest {path}: {exc.strerror or exc}",
            hint="pass --manifest PATH (or set AXL_MANIFEST) to a manifest axl emitted",
        ) from None
    if digest is not None:
        from axl.runtime._manifest_shared import check_digest

        check_digest(path, raw, digest)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        from axl.runtime._manifest_text import not_json_error

        raise not_json_error(path, raw, exc) from None
    if isinstance(data, dict):
        from axl.runtime._manifest_shared import expand

        data = expand(data, f"manifest {path}")
    validate_manifest(data, where=f"manifest {path}")
    return dict(data)


def validate_manifest(data: Any, *, where: str = "manifest") -> None:
    """Check ``data`` against the schema and the rules a schema cannot state.

    Raises:
        RunnerError: The first problem found, with its location in the document.
    """
    if not isinstance(data, dict):
        raise RunnerError(f"{where} is a JSON {type(data).__name__}, not an object")
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise RunnerError(
            f"{where} has manifest_version {version!r}; this runner reads version "
            f"{MANIFEST_VERSION}",
            hint="emit the manifest with the axl version installed in the runner's environment",
        )
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "pattern" and error.schema.get("$comment") == "relpath":
            message = (
                f"path {error.instance!r} escapes the run's folders (absolute, or with '..', "
                "'.' or empty parts)"
            )
        if len(message) > 300:  # jsonschema quotes the whole offending value
            message = message[:240] + " ... " + message[-50:]
        raise RunnerError(
            f"{where} is invalid at {at}: {message}",
            hint="runner/SPEC.md describes every field; unknown fields are errors",
        )
    for name, entry in data["steps"].items():
        _check_step(name, entry, where)


def _check_step(name: str, entry: dict[str, Any], where: str) -> None:
    outputs = entry["outputs"]
    for field in ("name", "path"):
        values = [o[field] for o in outputs]
        if len(set(values)) != len(values):
            raise RunnerError(f"{where}: step {name!r} has two outputs with the same {field}")
    for out in outputs:
        safe_relpath(out["path"], f"{where}: step {name!r}, output {out['name']!r}")
    if entry["kind"] == "params" and "params" not in entry:
        raise RunnerError(f"{where}: params step {name!r} has no params values")
    for leaf in iter_leaves(entry["inputs"], "source"):
        if "path" in leaf:
            safe_relpath(leaf["path"], f"{where}: step {name!r}, source path")
    for leaf in iter_leaves(entry["inputs"]):
        for field in ("path", "record"):
            if field in leaf:
                safe_relpath(leaf[field], f"{where}: step {name!r}, input {field}")


def iter_leaves(inputs: Mapping[str, Any], kind: str = "input") -> list[dict[str, Any]]:
    """Every ``input`` (or ``source``) leaf of a step's inputs, depth first."""
    leaves: list[dict[str, Any]] = []
    stack: list[Any] = list(inputs.values())[::-1]
    while stack:
        item = stack.pop()
        if kind in item:
            leaves.append(item[kind])
        elif "list" in item:
            stack.extend(reversed(item["list"]))
        elif "dict" in item:
            stack.extend(list(item["dict"].values())[::-1])
    return leaves


def safe_relpath(text: str, where: str) -> PurePosixPath:
    """``text`` as a relative path that stays inside the folder it is joined to.

    Raises:
        RunnerError: It is absolute, climbs out with ``..``, or is empty.
    """
    path = PurePosixPath(text)
    if not text or path.is_absolute() or "\\" in text or "\x00" in text:
        bad = True
    else:
        bad = any(part in ("..", ".", "") for part in text.split("/"))
    if bad:
        raise RunnerError(
            f"{where}: path {text!r} escapes the run's folders",
            hint="manifest paths are relative to --inputs/--outputs and may not use '..'",
        )
    return path


@cache
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of manifests (``runner/manifest.schema.json``)."""
    here = Path(__file__).resolve()
    # An installed wheel carries a copy beside this module; a checkout has the original.
    for candidate in (here.with_name(SCHEMA_NAME), here.parents[2] / "runner" / SCHEMA_NAME):
        if candidate.is_file():
            schema: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return schema
    raise RunnerError(
        f"the manifest schema {SCHEMA_NAME} is missing from this axl installation",
        hint="reinstall axl",
    )
