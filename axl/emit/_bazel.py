"""The per-step Bazel package of a workflow: what ``axl bazel //pkg:name`` writes. Pure.

A workflow ``//pkg:name`` gets a generated package ``pkg/name.bazel`` (its ``BUILD.bazel`` is this
module's output) with one target per step and one that writes the steps' IO manifests::

    axl.manifests   one action: imports the workflow, writes each step's manifest (its key parts)
    <step>          one action per step: `python -m axl.runtime` on that step's manifest
    axl.all         every step's outputs (the hand-written ``axl_workflow`` aliases it)

The file holds only the workflow's *shape*: its steps, the files each one writes and which
upstream files each one reads. Code, params and the lockfile reach the steps through their
manifests, which Bazel rebuilds from the sources, so editing a step's code needs no regeneration;
changing the shape does, and the manifests action refuses to run until it happens (it compares
:attr:`WorkflowPlan.shape` with the one written here).

Output file names are the manifest's (``out.parquet``; an ``auto`` output has no extension),
under a folder named after the step.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from axl.hashing import key_digest
from axl.ir import IRWorkflow
from axl.runtime._manifest import emit_manifest, iter_leaves

#: Where ``axl_manifests`` and ``axl_step`` come from: the ``@axl`` repository (rules/README.md).
RULES = "@axl//rules:axl.bzl"
#: The targets that are not steps. Node names cannot hold a dot, so these never collide.
MANIFESTS, ALL = "axl.manifests", "axl.all"
#: The runner's result record, beside the outputs (``axl.runtime._runner.RESULT_FILE``).
RECORD = "axl-result.json"
#: The generated package's folder, beside the BUILD file that declares the workflow.
PACKAGE_SUFFIX = ".bazel"
BUILD_NAME = "BUILD.bazel"
HANDLER_AUTO = "auto"
#: Manifest step fields that cannot change a step's outputs.
_NOT_KEYED = ("resources", "retries")


@dataclass(frozen=True)
class StepPlan:
    """One step as Bazel sees it.

    Attributes:
        name: The node name (also the target's name and its outputs' folder).
        outputs: The files it writes, relative to its folder (the result record aside).
        inputs: Upstream node -> the files of its folder this step reads, sorted. An upstream
            output whose handler is decided at run time (``auto``) brings the upstream's result
            record along: it says which handler wrote the file.
    """

    name: str
    outputs: tuple[str, ...]
    inputs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outputs": list(self.outputs),
            "inputs": {step: list(files) for step, files in self.inputs},
        }


@dataclass(frozen=True)
class WorkflowPlan:
    """Every step, in the IR's (topological) order."""

    steps: tuple[StepPlan, ...]

    def to_json(self) -> dict[str, Any]:
        return {"steps": [s.to_json() for s in self.steps]}

    @property
    def shape(self) -> str:
        """Digest of the plan: what a generated BUILD file encodes and must still match."""
        return key_digest("bazel-shape", self.to_json())


@dataclass(frozen=True)
class BazelWorkflow:
    """What the generated package refers to besides the steps: Bazel labels and the spec.

    Attributes:
        label: The ``axl_workflow`` target (``//examples:churn``), named in the header.
        workflow: ``module:Class``, loaded from the workspace root inside the action.
        srcs: Labels of the project's source files the workflow's import compiles.
        params: Label of the params file, if the target has one.
        lockfile: Label of the file behind the key's environment part (``//:uv.lock``), if any.
        rules: The label of ``axl.bzl``.
    """

    label: str
    workflow: str
    srcs: tuple[str, ...]
    params: str | None = None
    lockfile: str | None = None
    rules: str = field(default=RULES)


def plan_of(manifest: Mapping[str, Any]) -> WorkflowPlan:
    """The plan of a workflow manifest (:func:`axl.runtime._manifest.emit_manifest`)."""
    steps: list[StepPlan] = []
    files = {
        name: {o["name"]: o["path"] for o in entry["outputs"]}
        for name, entry in manifest["steps"].items()
    }
    for name, entry in manifest["steps"].items():
        reads: dict[str, set[str]] = {}
        for leaf in iter_leaves(entry["inputs"]):
            src = leaf["from"]
            wanted = reads.setdefault(src["step"], set())
            wanted.add(files[src["step"]][src["output"]])
            if leaf["handler"] == HANDLER_AUTO:
                wanted.add(RECORD)
        steps.append(
            StepPlan(
                name=name,
                outputs=tuple(o["path"] for o in entry["outputs"]),
                inputs=tuple((step, tuple(sorted(reads[step]))) for step in sorted(reads)),
            )
        )
    return WorkflowPlan(tuple(steps))


def step_manifests(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Node name -> that step's own manifest, as the ``axl_step`` action reads it.

    Each holds one step, its input paths rewritten to ``<upstream>/<file>`` (relative to the
    generated package's output folder, the runner's ``--inputs``), with the result record of an
    upstream whose handler is decided at run time. What cannot change the step's outputs is
    left out (the IR hash, which any params or code change alters; resources; retries), so that
    the file, and so the Bazel action, changes only with the step's own key parts. For the same
    reason there are no ``sources`` (whole-file digests: an edit anywhere in a file would rerun
    every step defined in it); the runner still checks the step's code digests.
    """
    files = {
        (name, o["name"]): f"{name}/{o['path']}"
        for name, entry in manifest["steps"].items()
        for o in entry["outputs"]
    }
    head = {k: v for k, v in manifest.items() if k != "steps"}
    head["workflow"] = {**manifest["workflow"], "hash": None}
    docs: dict[str, dict[str, Any]] = {}
    for name, entry in manifest["steps"].items():
        mine = copy.deepcopy({k: v for k, v in entry.items() if k not in _NOT_KEYED})
        for leaf in iter_leaves(mine["inputs"]):
            src = leaf["from"]
            leaf["path"] = files[(src["step"], src["output"])]
            if leaf["handler"] == HANDLER_AUTO:
                leaf["record"] = f"{src['step']}/{RECORD}"
        docs[name] = {**copy.deepcopy(head), "steps": {name: mine}}
    return docs


def plan_ir(ir: IRWorkflow) -> WorkflowPlan:
    """The plan of ``ir`` (its manifest without key parts is enough: the shape is all it needs)."""
    return plan_of(emit_manifest(ir))


def package_dir(package: str, name: str) -> str:
    """The generated package of workflow target ``//package:name``, relative to the root."""
    return f"{package}/{name}{PACKAGE_SUFFIX}" if package else f"{name}{PACKAGE_SUFFIX}"


def render_build(ir: IRWorkflow, workflow: BazelWorkflow) -> str:
    """The text of the generated ``BUILD.bazel``: byte-identical for identical arguments."""
    plan = plan_ir(ir)
    blocks = [
        _header(workflow),
        f"load({_q(workflow.rules)}, {_q('axl_manifests')}, {_q('axl_step')})",
        'package(default_visibility = ["//visibility:public"])',
    ]
    manifests: list[tuple[str, Any]] = [("name", MANIFESTS), ("workflow", workflow.workflow)]
    if workflow.params is not None:
        manifests.append(("params", workflow.params))
    manifests.append(("srcs", list(workflow.srcs)))
    if workflow.lockfile is not None:
        manifests.append(("lockfile", workflow.lockfile))
    manifests += [("steps", [s.name for s in plan.steps]), ("shape", plan.shape)]
    blocks.append(_call("axl_manifests", manifests))
    for step in plan.steps:
        attrs: list[tuple[str, Any]] = [("name", step.name), ("manifests", f":{MANIFESTS}")]
        if step.inputs:
            attrs.append(("inputs", {f":{up}": " ".join(files) for up, files in step.inputs}))
        attrs.append(("outputs", list(step.outputs)))
        blocks.append(_call("axl_step", attrs))
    blocks.append(_call("filegroup", [("name", ALL), ("srcs", [f":{s.name}" for s in plan.steps])]))
    return "\n\n".join(blocks) + "\n"


def _header(workflow: BazelWorkflow) -> str:
    return "\n".join(
        [
            f"# Generated by `axl bazel {workflow.label}`. Do not edit: run that command again",
            "# after adding, removing or renaming steps or outputs (the build says when). Code,",
            "# params and lockfile changes need no regeneration. See rules/README.md in axl.",
        ]
    )


def _call(kind: str, attrs: Iterable[tuple[str, Any]]) -> str:
    lines = [f"{kind}("]
    lines += [f"    {name} = {_value(value)}," for name, value in attrs]
    lines.append(")")
    return "\n".join(lines)


def _value(value: Any) -> str:
    """A Starlark literal, laid out as buildifier would: one item per line past one item."""
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, list):
        if len(value) <= 1:
            return "[" + "".join(_q(v) for v in value) + "]"
        return "[\n" + "".join(f"        {_q(v)},\n" for v in value) + "    ]"
    items = sorted(value.items())
    if len(items) <= 1:
        return "{" + "".join(f"{_q(k)}: {_q(v)}" for k, v in items) + "}"
    return "{\n" + "".join(f"        {_q(k)}: {_q(v)},\n" for k, v in items) + "    }"


def _q(text: str) -> str:
    # JSON's string escapes are a subset of Starlark's; non-ASCII stays as is (UTF-8 file).
    return json.dumps(text, ensure_ascii=False)
