"""One container template per step: the runner, its manifest, its artifacts, its options.

The pod contract (see ``runner/SPEC.md`` and the README's Argo section):

* the step's IO manifest arrives as a ``raw`` input artifact at ``/axl/manifest.json``;
* each input is a file under ``/axl/inputs/`` at the path the manifest's input leaf names, and
  each upstream's result record at ``/axl/inputs/axl-records/<step>.json`` (it gives the digest
  the runner verifies and, for an ``auto`` output, the handler that wrote it);
* each output is written to ``/axl/outputs/<name>.<ext>`` (an ``auto`` output, whose handler is
  picked at run time, to ``/axl/outputs/<name>`` with no extension), and the result record to
  ``/axl/outputs/axl-result.json``;
* the container runs ``python -m axl.runtime --manifest ... --step <node> --inputs ... --outputs
  ...``; with a remote cache, its environment names it (``AXL_REMOTE_CACHE``, and
  ``AXL_CACHE_SECRET`` from a Kubernetes Secret), and the runner skips a step already cached.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    """Names shared between templates: each node's template/task and output artifact names."""

    task: dict[str, str] = field(default_factory=dict)
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTemplate:
    """A step's container template and what its DAG task must pass to it."""

    template: dict[str, Any]
    artifacts: list[dict[str, str]]
    parameters: list[dict[str, str]]


def step_template(
    ir: IRWorkflow,
    node: IRNode,
    entry: dict[str, Any],
    document: Mapping[str, Any],
    wiring: Wiring,
    *,
    image: str,
    key_prefix: str | None,
    env: list[dict[str, Any]] | None = None,
) -> StepTemplate:
    """The container template of ``node``.

    Args:
        ir: The workflow.
        node: The step.
        entry: The step's entry of the workflow's IO manifest.
        document: The rest of the manifest (workflow, environment, sources).
        wiring: Task and output artifact names of every node.
        image: The container image.
        key_prefix: An S3 key prefix for output artifacts (key-only artifacts), if any.
        env: Environment every container gets before the step's own (the remote cache).
    """
    name = wiring.task[node.name]
    inputs = NameTable(limit=1 << 16)
    inputs.take(MANIFEST_ARTIFACT)
    in_artifacts: list[dict[str, Any]] = []
    arg_artifacts: list[dict[str, str]] = []
    entry = copy.deepcopy(entry)  # a private copy: its leaves get their "record"
    if node.kind == "params":
        entry["key"] = None  # its values can change at submit time, and its key with them
    records: dict[str, str] = {}
    for leaf in _leaves(entry["inputs"]):
        up = leaf["from"]["step"]
        if up not in records:
            records[up] = inputs.take(artifact_name(RECORD_ARTIFACT + up))
        leaf["record"] = f"{RECORDS}/{up}.json"
        art = inputs.take(artifact_name(_stem(leaf["path"], leaf["extension"]).replace("/", "-")))
        in_artifacts.append({"name": art, "path": f"{INPUTS}/{leaf['path']}"})
        source = wiring.outputs[(up, leaf["from"]["output"])]
        arg_artifacts.append({"name": art, "from": _task_artifact(wiring.task[up], source)})
    in_artifacts.extend(_data_artifacts(entry["inputs"], inputs, key_prefix))
    for up, art in records.items():
        in_artifacts.append({"name": art, "path": f"{INPUTS}/{RECORDS}/{up}.json"})
        arg_artifacts.append(
            {"name": art, "from": _task_artifact(wiring.task[up], RESULT_ARTIFACT)}
        )
    parameters: list[dict[str, str]] = []
    if node.kind == "params":
        text, parameters = _params_manifest(document, node, entry)
    else:
        text = _manifest_text({**document, "steps": {node.name: entry}})
    manifest = {"name": MANIFEST_ARTIFACT, "path": MANIFEST_PATH, "raw": {"data": text}}
    template: dict[str, Any] = {
        "name": name,
        "metadata": {"annotations": _annotations(ir, node, entry, document)},
    }
    template_inputs: dict[str, Any] = {}
    if parameters:
        template_inputs["parameters"] = [{"name": p["name"]} for p in parameters]
    template_inputs["artifacts"] = [manifest, *in_artifacts]
    template["inputs"] = template_inputs
    template["outputs"] = {"artifacts": _outputs(node, entry, wiring, name, key_prefix)}
    template["container"] = _container(node, image, env or [])
    if node.retries:
        template["retryStrategy"] = {
            "limit": str(node.retries),
            "retryPolicy": "Always",
            "expression": RETRY_EXPRESSION,
            "backoff": dict(RETRY_BACKOFF),
        }
    return StepTemplate(template, arg_artifacts, parameters)


def output_names(node: IRNode, entry: dict[str, Any]) -> dict[str, str]:
    """Output name -> artifact name: the manifest's file name without its extension (a plain
    identifier, or ``_<i>`` for a name that is not one), so it never clashes with
    :data:`RESULT_ARTIFACT`."""
    return {o["name"]: artifact_name(_stem(o["path"], o["extension"])) for o in entry["outputs"]}


def _outputs(
    node: IRNode, entry: dict[str, Any], wiring: Wiring, task: str, key_prefix: str | None
) -> list[dict[str, Any]]:
    artifacts: list[dict[str, Any]] = []
    files = [(wiring.outputs[(node.name, o["name"])], o["path"]) for o in entry["outputs"]]
    for art, rel in [*files, (RESULT_ARTIFACT, RESULT_FILE)]:
        # One file per artifact: Argo's default tar+gzip would only wrap it (and hide it from
        # anyone browsing the bucket).
        item: dict[str, Any] = {"name": art, "path": f"{OUTPUTS}/{rel}", "archive": {"none": {}}}
        if key_prefix:
            item["s3"] = {"key": f"{key_prefix}/{{{{workflow.name}}}}/{task}/{rel}"}
        artifacts.append(item)
    return artifacts


def _container(node: IRNode, image: str, env: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "image": image,
        "command": ["python", "-m", "axl.runtime"],
        "args": [
            "--manifest",
            MANIFEST_PATH,
            "--step",
            node.name,
            "--inputs",
            INPUTS,
            "--outputs",
            OUTPUTS,
        ],
    }
    if env or node.env:
        container["env"] = [*copy.deepcopy(env), *({"name": k, "value": v} for k, v in node.env)]
    if node.resources:
        container["resources"] = resources(node)
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
    notes = {ANNOTATION_STEP: node.name}
    if entry.get("key"):
        notes[ANNOTATION_KEY] = entry["key"]
    # Every part of the action key that is known before the run (all but the inputs' digests):
    # equal across two emissions exactly when nothing about the step itself changed.
    parts = entry.get("key_parts", {})
    notes[ANNOTATION_KEY_PARTS] = key_digest(
        "argo-key-parts",
        {
            "identity": {"workflow": ir.name, "step": node.name},
            "code": parts.get("code", {}),
            "options": parts.get("options", {}),
            "environment": document.get("environment", {}),
        },
    )
    return notes


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
