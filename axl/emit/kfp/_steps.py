"""One step -> its KFP component, executor and DAG task (dicts in PipelineSpec's JSON shape).

The container contract (see ``runner/SPEC.md``, "Kubeflow Pipelines"): every executor runs
``python -m axl.runtime.kfp``, the runner's KFP adapter, with

* ``--manifest-json``: the step's own IO manifest (the workflow's sources, environment and this
  step's entry), as text in the args, so the pipeline spec is one self-contained file;
* ``--input REL=PATH``: where KFP put each input artifact (``REL`` is the leaf's ``path`` or
  ``record`` in the manifest; upstream result records arrive as ``axl-record-<step>`` artifacts);
* ``--output KEY=REL``, ``--output-path KEY=PATH``, ``--output-uri KEY=URI``: each output
  artifact (the step's outputs and its ``axl-result`` record): the manifest file it is, and where
  KFP wants it;
* ``--param KEY=VALUE`` (the params step only): the pipeline's input parameters as submitted;
* ``--executor-output PATH``: KFP's executor output file (``{{$.outputs.output_file}}``), which
  registers the output artifacts and their metadata (digest, size, handler, extension).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from axl.emit.argo._names import NameTable, artifact_name
from axl.emit.argo._pods import _annotations, _leaves, _manifest_text, _stem, output_names
from axl.errors import EmitError
from axl.ir import IRNode, IRWorkflow

COMMAND = ("python", "-m", "axl.runtime.kfp")
ARTIFACT_TYPE = {"schemaTitle": "system.Artifact", "schemaVersion": "0.0.1"}
#: The result record's output key; '-' keeps it apart from output names (identifiers).
RESULT_KEY = "axl-result"
RESULT_FILE = "axl-result.json"
RECORD_PREFIX = "axl-record-"
#: Upstream result records, relative to the runner's input folder (as on Argo).
RECORDS = "axl-records"

LABEL_WORKFLOW = "axl.dev/workflow"

#: axl resource name -> (request field, limit field) of KFP's ResourceSpec. A CPU limit only
#: throttles a step that could use an idle core, so CPU gets a request alone (as on Argo).
RESOURCE_FIELDS = {
    "cpu": ("resourceCpuRequest", None),
    "memory": ("resourceMemoryRequest", "resourceMemoryLimit"),
}
GPU = "gpu"
GPU_TYPE = "nvidia.com/gpu"
#: Retries back off from 10 s, doubling (Argo's policy), for at most an hour between attempts.
RETRY_POLICY = {"backoffDuration": "10s", "backoffFactor": 2.0, "backoffMaxDuration": "3600s"}


@dataclass
class Wiring:
    """Names shared between steps: each node's task and its output artifact keys."""

    task: dict[str, str] = field(default_factory=dict)
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepSpec:
    """A step's pieces of the pipeline spec."""

    component: dict[str, Any]
    executor: dict[str, Any]
    task: dict[str, Any]
    #: The executor's Kubernetes platform config (pod metadata, secrets).
    kubernetes: dict[str, Any]


def wire(ir: IRWorkflow, entries: Mapping[str, Any], reserved: str) -> Wiring:
    """Task names (lowercase, unique, never ``reserved``: the pipeline's own name, which KFP
    would mistake a component of for the pipeline itself) and output artifact keys."""
    from axl.emit.argo._names import dns_label

    wiring = Wiring()
    names = NameTable()
    names.take(reserved)
    for node in ir.nodes:
        wiring.task[node.name] = names.take(dns_label(node.name))
        for output, art in output_names(node, entries[node.name]).items():
            wiring.outputs[(node.name, output)] = art
    return wiring


def step_spec(
    ir: IRWorkflow,
    node: IRNode,
    entry: dict[str, Any],
    document: Mapping[str, Any],
    wiring: Wiring,
    *,
    image: str,
    env: list[dict[str, str]],
    kubernetes: Mapping[str, Any],
) -> StepSpec:
    """The component, executor and task of ``node``.

    Args:
        ir: The workflow.
        node: The step.
        entry: The step's entry of the workflow's IO manifest.
        document: The rest of the manifest (workflow, environment, sources).
        wiring: Task names and output artifact keys of every node.
        image: The container image.
        env: Environment every container gets before the step's own (the remote cache).
        kubernetes: Platform config every executor gets (the cache secret).
    """
    entry = copy.deepcopy(entry)  # a private copy: its leaves get their "record"
    if node.kind == "params":
        entry["key"] = None  # its values can change at submit time, and its key with them
    args, in_artifacts, task_artifacts = _inputs(entry, wiring)
    outputs = [(wiring.outputs[(node.name, o["name"])], o["path"]) for o in entry["outputs"]]
    outputs.append((RESULT_KEY, RESULT_FILE))
    for key, rel in outputs:
        args += ["--output", f"{key}={rel}"]
        args += ["--output-path", f"{key}={{{{$.outputs.artifacts['{key}'].path}}}}"]
        args += ["--output-uri", f"{key}={{{{$.outputs.artifacts['{key}'].uri}}}}"]
    params = sorted(node.param_values) if node.kind == "params" else []
    for key in params:
        args += ["--param", f"{key}={{{{$.inputs.parameters['{key}']}}}}"]
    args += ["--executor-output", "{{$.outputs.output_file}}"]
    args = ["--step", node.name, *args]
    args += ["--manifest-json", _manifest_text({**document, "steps": {node.name: entry}})]
    container: dict[str, Any] = {"image": image, "command": list(COMMAND), "args": args}
    if env or node.env:
        container["env"] = [*copy.deepcopy(env), *({"name": k, "value": v} for k, v in node.env)]
    if node.resources:
        container["resources"] = resources(ir, node)
    platform = {
        "podMetadata": {
            "annotations": _annotations(ir, node, entry, document),
            "labels": {LABEL_WORKFLOW: wiring_label(ir)},
        },
        **copy.deepcopy(dict(kubernetes)),
    }
    return StepSpec(
        _component(node, wiring.task[node.name], in_artifacts, params, [k for k, _ in outputs]),
        {"container": container},
        _task(ir, node, wiring, task_artifacts, params),
        platform,
    )


def _inputs(
    entry: dict[str, Any], wiring: Wiring
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """The ``--input`` args, the component's input artifacts and the task's: each input leaf,
    then each upstream's result record (which the leaf's ``record`` now names)."""
    keys = NameTable(limit=1 << 16)
    args: list[str] = []
    declared: dict[str, Any] = {}
    given: dict[str, Any] = {}
    records: dict[str, str] = {}
    for leaf in _leaves(entry["inputs"]):
        up = leaf["from"]["step"]
        if up not in records:
            records[up] = keys.take(artifact_name(RECORD_PREFIX + up))
        leaf["record"] = f"{RECORDS}/{up}.json"
        key = keys.take(artifact_name(_stem(leaf["path"], leaf["extension"]).replace("/", "-")))
        args += ["--input", f"{leaf['path']}={_in_path(key)}"]
        declared[key] = {"artifactType": dict(ARTIFACT_TYPE)}
        given[key] = _from_task(wiring.task[up], wiring.outputs[(up, leaf["from"]["output"])])
    for up, key in records.items():
        args += ["--input", f"{RECORDS}/{up}.json={_in_path(key)}"]
        declared[key] = {"artifactType": dict(ARTIFACT_TYPE)}
        given[key] = _from_task(wiring.task[up], RESULT_KEY)
    return args, declared, given


def _component(
    node: IRNode, task: str, artifacts: dict[str, Any], params: list[str], outputs: list[str]
) -> dict[str, Any]:
    component: dict[str, Any] = {"executorLabel": f"exec-{task}"}
    inputs: dict[str, Any] = {}
    if artifacts:
        inputs["artifacts"] = artifacts
    if params:
        inputs["parameters"] = {
            k: {"parameterType": parameter_type(node.param_values[k])} for k in params
        }
    if inputs:
        component["inputDefinitions"] = inputs
    component["outputDefinitions"] = {
        "artifacts": {key: {"artifactType": dict(ARTIFACT_TYPE)} for key in outputs}
    }
    return component


def wiring_label(ir: IRWorkflow) -> str:
    """The workflow's name as a Kubernetes label value."""
    from axl.emit.argo._names import dns_label

    return dns_label(ir.name)


def _task(
    ir: IRWorkflow,
    node: IRNode,
    wiring: Wiring,
    artifacts: dict[str, Any],
    params: list[str],
) -> dict[str, Any]:
    name = wiring.task[node.name]
    # KFP's own cache keys a task by its spec and its inputs' locations, not their content:
    # off, so that axl's runner decides with content keys (see the README).
    task: dict[str, Any] = {
        "taskInfo": {"name": node.name},
        "componentRef": {"name": f"comp-{name}"},
        "cachingOptions": {},
    }
    upstream = sorted({wiring.task[up] for up in node.upstream})
    if upstream:
        task["dependentTasks"] = upstream
    inputs: dict[str, Any] = {}
    if artifacts:
        inputs["artifacts"] = artifacts
    if params:
        inputs["parameters"] = {k: {"componentInputParameter": k} for k in params}
    if inputs:
        task["inputs"] = inputs
    if node.retries:
        task["retryPolicy"] = {"maxRetryCount": node.retries, **RETRY_POLICY}
    return task


def parameter_type(value: Any) -> str:
    """The KFP type of a params value's pipeline parameter.

    Lists, dicts and ``None`` are ``STRING`` parameters holding JSON text: KFP passes LIST and
    STRUCT values through protobuf, which turns every number into a float (``[1, 2]`` would come
    back as ``[1.0, 2.0]``, other bytes, another key).
    """
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "NUMBER_INTEGER"
    if isinstance(value, float):
        return "NUMBER_DOUBLE"
    return "STRING"


def parameter_default(value: Any) -> Any:
    """The default of a params value's pipeline parameter (see :func:`parameter_type`)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def resources(ir: IRWorkflow, node: IRNode) -> dict[str, Any]:
    """KFP's ResourceSpec: requests for every resource, limits for memory, GPUs as accelerator.

    Raises:
        EmitError: A resource KFP has no field for.
    """
    spec: dict[str, Any] = {}
    for key, value in node.resources:
        if key == GPU:
            spec["accelerator"] = {"resourceType": GPU_TYPE, "resourceCount": value}
            continue
        if key not in RESOURCE_FIELDS:
            raise EmitError(
                f"step {node.name!r} of workflow {ir.name!r} asks for resource {key!r}, which "
                "a KFP task cannot request",
                hint=f"KFP tasks take: {', '.join([*RESOURCE_FIELDS, GPU])}",
                file=display_file(node.file),
                line=node.line or None,
            )
        request, limit = RESOURCE_FIELDS[key]
        spec[request] = value
        if limit:
            spec[limit] = value
    return dict(sorted(spec.items()))


def display_file(file: str) -> str | None:
    from pathlib import Path

    from axl.graph._buildfile import display_path

    return display_path(Path(file)) if file else None


def _from_task(task: str, key: str) -> dict[str, Any]:
    return {"taskOutputArtifact": {"producerTask": task, "outputArtifactKey": key}}


def _in_path(key: str) -> str:
    return f"{{{{$.inputs.artifacts['{key}'].path}}}}"
