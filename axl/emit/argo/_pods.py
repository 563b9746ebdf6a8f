"""Container templates: the runner, its manifest, its artifacts, its options.

Calls of one step function share one template (the emitter groups equal templates); what
differs between calls is in the DAG task and in the workflow's manifest. The pod contract (see
``runner/SPEC.md`` and the README's Argo section):

* the workflow's IO manifest is mounted from its ConfigMap at ``/axl/manifest/manifest.json``
  and checked against the digest compiled into the template (``--manifest-digest``); the pod
  runs the step its task names (``--step {{inputs.parameters.step}}``). The params step's
  template is its own, with its manifest inline (a ``raw`` artifact at ``/axl/manifest.json``),
  because Argo substitutes the submitted parameters into it;
* with Argo artifacts (the default), each input is a file under ``/axl/inputs/`` at the path the
  manifest's input leaf names, and beside it, under ``/axl/inputs/axl-records/``, the result
  record of the upstream that wrote it (the digest the runner verifies and, for an ``auto``
  output, the handler that wrote it); each output is written to ``/axl/outputs/<name>.<ext>``
  (an ``auto`` output to ``/axl/outputs/<name>``), the result record to
  ``/axl/outputs/axl-result.json``;
* with a store (``--store s3://...``), no task passes artifacts: each pod finds its upstreams'
  result records under ``runs/<workflow name>/`` in the store and fetches their blobs by digest,
  so a fan-in of N calls costs nothing per call in the Workflow; outputs go to the store, and
  Argo keeps only the result record as an artifact;
* with a remote cache, the environment names it (``AXL_REMOTE_CACHE``, and ``AXL_CACHE_SECRET``
  from a Kubernetes Secret), and the runner skips a step already cached.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from axl.emit.argo import _manifest as manifest_ref
from axl.emit.argo._names import NameTable, artifact_name
from axl.errors import EmitError
from axl.hashing import key_digest
from axl.ir import IRNode, IRWorkflow

ROOT = "/axl"
MANIFEST_PATH = f"{ROOT}/manifest.json"
INPUTS = f"{ROOT}/inputs"
OUTPUTS = f"{ROOT}/outputs"
#: Upstream result records, under INPUTS. Argument names are identifiers, which cannot hold '-',
#: so no input file can land in this folder.
RECORDS = "axl-records"
#: The runner's result record under --outputs (axl.runtime._runner.RESULT_FILE).
RESULT_FILE = "axl-result.json"
MANIFEST_ARTIFACT = "axl-manifest"
RESULT_ARTIFACT = "axl-result"
RECORD_ARTIFACT = "axl-record-"
#: The input parameter of a shared template that names the call (the node) its pod runs.
STEP_PARAMETER = "step"

ANNOTATION_STEP = "axl.dev/step"
ANNOTATION_KEY = "axl.dev/action-key"
ANNOTATION_KEY_PARTS = "axl.dev/key-parts"

#: Step resources with a Kubernetes name of their own; others pass through as written.
RESOURCE_NAMES = {"gpu": "nvidia.com/gpu"}
#: Retry when the step's code failed (runner exit 1) or the pod hit an infrastructure error
#: (evicted, deleted); never when the runner could not run the step (exit 2: retrying a bad
#: manifest or a missing input cannot help), matching the local executor.
RETRY_EXPRESSION = 'lastRetry.status == "Error" || asInt(lastRetry.exitCode) == 1'
RETRY_BACKOFF = {"duration": "10s", "factor": "2"}


@dataclass
class Wiring:
    """Names shared between templates: each node's task and output artifact names."""

    task: dict[str, str] = field(default_factory=dict)
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodOptions:
    """What every container template shares.

    Attributes:
        image: The container image.
        key_prefix: An S3 key prefix for output artifacts (key-only artifacts), if any.
        env: Environment every container gets before the step's own (the remote cache).
        store: The artifact store every pod reads its inputs from and writes its outputs to
            (``--store``), instead of Argo artifacts; None: Argo artifacts.
        manifest_digest: The digest of the workflow's manifest (in its ConfigMap).
    """

    image: str
    key_prefix: str | None = None
    env: tuple[dict[str, Any], ...] = ()
    store: str | None = None
    manifest_digest: str = ""


@dataclass(frozen=True)
class StepTemplate:
    """A step's container template, what its DAG task passes to it, and its manifest entry
    (with the input records' paths the template places them at)."""

    template: dict[str, Any]
    artifacts: list[dict[str, str]]
    parameters: list[dict[str, str]]
    entry: dict[str, Any]


def step_template(
    ir: IRWorkflow,
    node: IRNode,
    entry: dict[str, Any],
    document: Mapping[str, Any],
    wiring: Wiring,
    opts: PodOptions,
) -> StepTemplate:
    """The container template of ``node``, shared by every call whose template is the same.

    Everything that differs between calls is in the DAG task (the node's name as parameter
    ``step``, the upstream artifacts) or in the workflow's manifest (constants, upstreams),
    never in the template. The params step is the exception: its template is its own, with its
    manifest inline, so that Argo substitutes the submitted parameters into it.

    Args:
        ir: The workflow.
        node: The step.
        entry: The step's entry of the workflow's IO manifest.
        document: The rest of the manifest (workflow, environment, sources).
        wiring: Task and output artifact names of every node.
        opts: The image, artifact keys, environment, store and manifest of every pod.
    """
    entry = copy.deepcopy(entry)  # a private copy: its leaves get their "record"
    params = node.kind == "params"
    in_artifacts, arg_artifacts = _input_artifacts(entry, wiring, opts)
    template: dict[str, Any] = {
        "name": "",  # named once the templates are grouped
        "metadata": {"annotations": _function_annotations(ir, node, entry, document)},
    }
    template_inputs: dict[str, Any] = {}
    if params:
        entry["key"] = None  # its values can change at submit time, and its key with them
        text, parameters = _params_manifest(document, node, entry)
        template_inputs["parameters"] = [{"name": p["name"]} for p in parameters]
        manifest = {"name": MANIFEST_ARTIFACT, "path": MANIFEST_PATH, "raw": {"data": text}}
        in_artifacts.insert(0, manifest)
        step = node.name
    else:
        parameters = [{"name": STEP_PARAMETER, "value": node.name}]
        template_inputs["parameters"] = [{"name": STEP_PARAMETER}]
        step = "{{inputs.parameters." + STEP_PARAMETER + "}}"
    if in_artifacts:
        template_inputs["artifacts"] = in_artifacts
    template["inputs"] = template_inputs
    template["outputs"] = {"artifacts": _outputs(node, entry, wiring, step, opts)}
    template["container"] = _container(node, step, opts, by_reference=not params)
    if node.retries:
        template["retryStrategy"] = {
            "limit": str(node.retries),
            "retryPolicy": "Always",
            "expression": RETRY_EXPRESSION,
            "backoff": dict(RETRY_BACKOFF),
        }
    return StepTemplate(template, arg_artifacts, parameters, entry)


def _input_artifacts(
    entry: dict[str, Any], wiring: Wiring, opts: PodOptions
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The template's input artifacts and the task's arguments for them: each input and, beside
    it, the result record of the upstream that wrote it. Sets each leaf's ``record`` (or, with
    a store, drops its ``path`` and ``record``: nothing passes through Argo)."""
    inputs = NameTable(limit=1 << 16)
    inputs.take(MANIFEST_ARTIFACT)
    declared: list[dict[str, Any]] = []
    passed: list[dict[str, str]] = []
    for leaf in _leaves(entry["inputs"]):
        if opts.store:
            # Read by digest from the store, the record from runs/<run id>/: no file, no
            # Argo artifact, nothing per input in the Workflow.
            leaf.pop("path", None)
            leaf.pop("record", None)
            continue
        stem = _stem(leaf["path"], leaf["extension"])
        # Named after the input, not the upstream: every call of the function has the same.
        leaf["record"] = f"{RECORDS}/{stem}.json"
        up, task = leaf["from"]["step"], wiring.task[leaf["from"]["step"]]
        art = inputs.take(artifact_name(stem.replace("/", "-")))
        rec = inputs.take(artifact_name(RECORD_ARTIFACT + stem.replace("/", "-")))
        declared.append({"name": art, "path": f"{INPUTS}/{leaf['path']}"})
        declared.append({"name": rec, "path": f"{INPUTS}/{leaf['record']}"})
        source = wiring.outputs[(up, leaf["from"]["output"])]
        passed.append({"name": art, "from": _task_artifact(task, source)})
        passed.append({"name": rec, "from": _task_artifact(task, RESULT_ARTIFACT)})
    declared.extend(_data_artifacts(entry["inputs"], inputs, opts.key_prefix))
    return declared, passed


def output_names(node: IRNode, entry: dict[str, Any]) -> dict[str, str]:
    """Output name -> artifact name: the manifest's file name without its extension (a plain
    identifier, or ``_<i>`` for a name that is not one), so it never clashes with
    :data:`RESULT_ARTIFACT`."""
    return {o["name"]: artifact_name(_stem(o["path"], o["extension"])) for o in entry["outputs"]}


def _outputs(
    node: IRNode, entry: dict[str, Any], wiring: Wiring, step: str, opts: PodOptions
) -> list[dict[str, Any]]:
    artifacts: list[dict[str, Any]] = []
    files = [(wiring.outputs[(node.name, o["name"])], o["path"]) for o in entry["outputs"]]
    if opts.store:
        files = []  # the outputs go to the store; Argo keeps the result record only
    for art, rel in [*files, (RESULT_ARTIFACT, RESULT_FILE)]:
        # One file per artifact: Argo's default tar+gzip would only wrap it (and hide it from
        # anyone browsing the bucket).
        item: dict[str, Any] = {"name": art, "path": f"{OUTPUTS}/{rel}", "archive": {"none": {}}}
        if opts.key_prefix:
            item["s3"] = {"key": f"{opts.key_prefix}/{{{{workflow.name}}}}/{step}/{rel}"}
        artifacts.append(item)
    return artifacts


def _container(node: IRNode, step: str, opts: PodOptions, *, by_reference: bool) -> dict[str, Any]:
    args = ["--manifest", MANIFEST_PATH]
    if by_reference:
        args = ["--manifest", manifest_ref.PATH, "--manifest-digest", opts.manifest_digest]
    args += ["--step", step]
    if opts.store:
        # Inputs by digest from the store, upstream records from runs/<workflow name>/; the
        # input folder holds only workspace data (input artifacts from --artifact-repo).
        args += ["--store", opts.store, "--run-id", "{{workflow.name}}", "--inputs", INPUTS]
        args += ["--result", f"{OUTPUTS}/{RESULT_FILE}"]
    else:
        args += ["--inputs", INPUTS, "--outputs", OUTPUTS]
    container: dict[str, Any] = {
        "image": opts.image,
        "command": ["python", "-m", "axl.runtime"],
        "args": args,
    }
    if opts.env or node.env:
        env = [*copy.deepcopy(list(opts.env)), *({"name": k, "value": v} for k, v in node.env)]
        container["env"] = env
    if node.resources:
        container["resources"] = resources(node)
    if by_reference:
        container["volumeMounts"] = [manifest_ref.ManifestRef.mount()]
    return container


def resources(node: IRNode) -> dict[str, dict[str, str]]:
    """Requests for every resource; limits for all but CPU.

    A CPU limit only throttles a step that could use an idle core; a memory limit equal to the
    request makes an out-of-memory kill predictable instead of dependent on the node's load;
    extended resources (GPUs) must have equal requests and limits.
    """
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    for key, value in node.resources:
        name = RESOURCE_NAMES.get(key, key)
        requests[name] = value
        if name != "cpu":
            limits[name] = value
    out = {"requests": requests}
    if limits:
        out["limits"] = limits
    return out


def _annotations(
    ir: IRWorkflow, node: IRNode, entry: dict[str, Any], document: Mapping[str, Any]
) -> dict[str, str]:
    """One node's annotations: its name, its key when known, and its key-parts digest (what the
    KFP emitter puts on each of its tasks)."""
    notes = {ANNOTATION_STEP: node.name}
    if entry.get("key"):
        notes[ANNOTATION_KEY] = entry["key"]
    notes[ANNOTATION_KEY_PARTS] = _key_parts(ir, node.name, entry, document)
    return notes


def _function_annotations(
    ir: IRWorkflow, node: IRNode, entry: dict[str, Any], document: Mapping[str, Any]
) -> dict[str, str]:
    # A template serves every call of its step function: it names the function, and its digest
    # covers what those calls share (code, options, dependencies), so it is equal across two
    # emissions exactly when nothing about the function changed. Each call's key (identity and
    # inputs added) is the runner's to compute, and is in its result record.
    return {
        ANNOTATION_STEP: node.step,
        ANNOTATION_KEY_PARTS: _key_parts(ir, node.step, entry, document),
    }


def _key_parts(
    ir: IRWorkflow, step: str, entry: dict[str, Any], document: Mapping[str, Any]
) -> str:
    """A digest of every part of the action key known before the run (all but the inputs'
    digests, and the Python and platform the pod adds)."""
    parts = entry.get("key_parts", {})
    return key_digest(
        "argo-key-parts",
        {
            "identity": {"workflow": ir.name, "step": step},
            "code": parts.get("code", {}),
            "options": parts.get("options", {}),
            "environment": document.get("environment", {}),
        },
    )


def _params_manifest(
    document: Mapping[str, Any], node: IRNode, entry: dict[str, Any]
) -> tuple[str, list[dict[str, str]]]:
    """The params step's manifest, its values replaced by ``{{inputs.parameters.<key>}}``.

    Argo substitutes parameters in the whole template, raw artifact data included, so the
    values given at submit time (``argo submit -p n_customers=8000``) reach the runner, which
    hashes them into the key like any params values. Its key is therefore unknown here.
    """
    values = node.param_values
    placeholders = {key: f"@axl-param-{i}@" for i, key in enumerate(sorted(values))}
    entry = {**entry, "params": {k: placeholders[k] for k in sorted(values)}}
    text = _manifest_text({**document, "steps": {node.name: entry}})
    parameters: list[dict[str, str]] = []
    for key, mark in placeholders.items():
        quoted = json.dumps(mark)
        if text.count(quoted) != 1:
            raise EmitError(
                f"params step {node.name!r}: cannot place value {key!r} in its manifest"
            )
        text = text.replace(quoted, "{{inputs.parameters." + key + "}}")
        parameters.append({"name": key, "value": "{{workflow.parameters." + key + "}}"})
    return text, parameters


def _manifest_text(document: Mapping[str, Any]) -> str:
    from axl.runtime._manifest import manifest_json

    return manifest_json(document)


def _leaves(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    from axl.runtime._manifest import iter_leaves

    return iter_leaves(inputs)


def data_key(prefix: str, digest: str) -> str:
    """Where a workspace file or folder is expected in the artifact repository: by digest."""
    return f"{prefix}/data/{digest}"


def _data_artifacts(
    inputs: dict[str, Any], names: NameTable, key_prefix: str | None
) -> list[dict[str, Any]]:
    """Input artifacts for workspace data, from the artifact repository by digest (with
    ``--artifact-repo``; without it the runner reads the data from the image's workspace).
    Remote objects get none: the runner keys them by HEAD and downloads them itself, so they are
    keyed alike on every backend."""
    from axl.runtime._manifest import iter_leaves

    found: list[dict[str, Any]] = []
    if key_prefix is None:
        return found
    for leaf in iter_leaves(inputs, "source"):
        if leaf["location"].startswith(("s3://", "http://", "https://")) or not leaf["digest"]:
            continue
        art = names.take(artifact_name("data-" + leaf["path"].replace("/", "-")))
        found.append(
            {
                "name": art,
                "path": f"{INPUTS}/{leaf['path']}",
                "s3": {"key": data_key(key_prefix, leaf["digest"])},
            }
        )
    return found


def _stem(path: str, extension: str) -> str:
    return path[: -len(extension) - 1] if extension else path


def _task_artifact(task: str, artifact: str) -> str:
    return "{{tasks." + task + ".outputs.artifacts." + artifact + "}}"
