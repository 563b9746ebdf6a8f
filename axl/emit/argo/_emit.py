"""IR -> an Argo ``Workflow`` (or ``WorkflowTemplate``) and its manifest's ConfigMap, as dicts.

Pure: no files, no cluster. Shape: one DAG template (the entrypoint, ``main``) with one task per
step, and one container template per step *function* (:mod:`axl.emit.argo._pods`): calls of a
function share it, and a task carries only what differs (the node's name as parameter ``step``,
its upstream artifacts, its ``when``). The whole workflow's IO manifest is stored once, in a
ConfigMap every pod mounts (:mod:`axl.emit.argo._manifest`). Data moves as artifacts (each input
an input artifact ``from: "{{tasks.<t>.outputs.artifacts.<a>}}"``), or, with a store, by digest
through the store (no artifact per input: a fan-in of thousands of calls stays small). The params
step's values are workflow parameters (``spec.arguments.parameters``, one per key, each holding
the value's JSON text), so ``argo submit -p key=value`` overrides them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from axl.emit._bundle import WorkflowBundle
from axl.emit.argo import _manifest as manifest_ref
from axl.emit.argo._names import (
    DNS1123_SUBDOMAIN,
    PARAM_OR_ARTIFACT,
    WORKFLOW_NAME_MAX,
    NameTable,
    dns_label,
)
from axl.emit.argo._pods import PodOptions, StepTemplate, Wiring, output_names, step_template
from axl.errors import EmitError, UsageError
from axl.hashing import canonical_json
from axl.ir import IRWorkflow

API_VERSION = "argoproj.io/v1alpha1"
KINDS = ("Workflow", "WorkflowTemplate")
ENTRYPOINT = "main"
LABEL_WORKFLOW = "axl.dev/workflow"
ANNOTATION_HASH = "axl.dev/workflow-hash"
#: Remote caches every pod can reach by URL (a folder path would be each pod's own disk).
REMOTE_SCHEMES = ("http", "https", "s3")
#: The key of the cache secret's Kubernetes Secret when ``--cache-secret-ref`` names none.
SECRET_KEY = "secret"  # noqa: S105 - the key's name, not a secret
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


@dataclass(frozen=True)
class ArgoOptions:
    """How to emit.

    Attributes:
        kind: ``Workflow`` (submit it) or ``WorkflowTemplate`` (register it, submit from it).
        image: The image every step runs in (default: the workflow's ``image``). Pin it by
            digest (``repo/name@sha256:...``) so the pods run the code that was compiled.
        store: An artifact store every pod reaches (``s3://bucket/prefix``): steps write their
            outputs there and read their inputs from it by digest, so no task passes an
            artifact per input (what lets a fan-in of thousands of calls fit in one Workflow).
        namespace: ``metadata.namespace``, if any.
        artifact_key_prefix: Store outputs as key-only S3 artifacts under this key prefix
            (``<prefix>/<workflow name>/<task>/<file>``); bucket, endpoint and credentials come
            from the artifact repository the cluster configures.
        artifact_repository: ``configmap`` or ``configmap:key``: which configured artifact
            repository to use (``spec.artifactRepositoryRef``); default: the cluster's default.
        remote_cache: The remote cache every pod consults before running its step and uploads
            to (``http(s)://host/prefix`` or ``s3://bucket/prefix``): ``AXL_REMOTE_CACHE`` in
            each container's environment.
        cache_secret: ``secret`` or ``secret:key``: the Kubernetes Secret holding the remote
            cache's signing secret, given to each container as ``AXL_CACHE_SECRET`` through a
            ``secretKeyRef`` (key default: ``secret``).
    """

    kind: str = "Workflow"
    image: str | None = None
    store: str | None = None
    namespace: str | None = None
    artifact_key_prefix: str | None = None
    artifact_repository: str | None = None
    remote_cache: str | None = None
    cache_secret: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(
                f"Argo kind {self.kind!r} is not one axl emits", hint=f"use {' or '.join(KINDS)}"
            )
        if self.artifact_key_prefix is not None:
            prefix = self.artifact_key_prefix.strip("/")
            if not prefix or "{{" in prefix or "//" in prefix:
                raise UsageError(
                    f"artifact key prefix {self.artifact_key_prefix!r} is not a plain S3 key "
                    "prefix",
                    hint="e.g. --artifact-repo axl/churn",
                )
            object.__setattr__(self, "artifact_key_prefix", prefix)
        if self.artifact_repository is not None:
            configmap, colon, key = self.artifact_repository.partition(":")
            if not DNS1123_SUBDOMAIN.match(configmap) or (colon and not key):
                raise UsageError(
                    f"artifact repository {self.artifact_repository!r} is not CONFIGMAP[:KEY]",
                    hint="e.g. --artifact-repo-ref artifact-repositories:minio",
                )
        if self.remote_cache is not None:
            _check_remote(self.remote_cache)
        if self.store is not None:
            _check_store(self.store)
        if self.cache_secret is not None:
            if self.remote_cache is None:
                raise UsageError(
                    "--cache-secret-ref signs remote cache records, but no --remote-cache is given",
                    hint="add --remote-cache URL",
                )
            name, colon, key = self.cache_secret.partition(":")
            if not DNS1123_SUBDOMAIN.match(name) or (colon and not _SECRET_KEY.match(key)):
                raise UsageError(
                    f"cache secret {self.cache_secret!r} is not SECRET[:KEY]",
                    hint="name a Kubernetes Secret (and its key), e.g. --cache-secret-ref "
                    "axl-cache:secret",
                )

    @property
    def cache_env(self) -> list[dict[str, Any]]:
        """The environment every container gets for the remote cache (none without one)."""
        if not self.remote_cache:
            return []
        env: list[dict[str, Any]] = [{"name": "AXL_REMOTE_CACHE", "value": self.remote_cache}]
        if self.cache_secret:
            name, _, key = self.cache_secret.partition(":")
            ref = {"name": name, "key": key or SECRET_KEY}
            env.append({"name": "AXL_CACHE_SECRET", "valueFrom": {"secretKeyRef": ref}})
        return env


def _check_remote(url: str) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in REMOTE_SCHEMES or not parts.hostname or "{{" in url:
        raise UsageError(
            f"remote cache {url!r} is not a URL every pod can reach",
            hint="use http(s)://host/prefix or s3://bucket/prefix (a folder would be each "
            "pod's own disk)",
        )
    if parts.password:
        raise UsageError(
            "the remote cache URL holds a password, which would be written into the YAML",
            hint="use a remote that pods reach without one (in-cluster service, s3:// with the "
            "pods' own credentials)",
        )


def _check_store(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3" or not parts.netloc or "{{" in url:
        raise UsageError(
            f"artifact store {url!r} is not one every pod can reach",
            hint="use s3://bucket/prefix (pods need S3 credentials of their own); a folder "
            "would be each pod's own disk",
        )


def emit_workflow(bundle: WorkflowBundle, options: ArgoOptions | None = None) -> dict[str, Any]:
    """The Argo object for ``bundle``'s workflow (without its manifest's ConfigMap).

    Raises:
        EmitError: A params key cannot be an Argo parameter name.
    """
    return emit_objects(bundle, options)[-1]


def emit_objects(
    bundle: WorkflowBundle, options: ArgoOptions | None = None
) -> list[dict[str, Any]]:
    """The Kubernetes objects of ``bundle``'s workflow, in the order to create them: the
    manifest's ConfigMap (when a step other than params needs it), then the Argo object.
    Same arguments, same dicts (and key order).

    Raises:
        EmitError: A params key cannot be an Argo parameter name.
    """
    from axl.runtime._manifest import emit_manifest

    opts = options or ArgoOptions()
    ir = bundle.ir
    manifest = emit_manifest(
        ir,
        code=bundle.code_of,
        environment=bundle.environment,
        sources=bundle.sources,
        data=bundle.data,
    )
    document = {k: v for k, v in manifest.items() if k != "steps"}
    wiring = _wiring(ir, manifest["steps"])
    pods = PodOptions(
        image=opts.image or ir.image,
        key_prefix=opts.artifact_key_prefix,
        env=tuple(opts.cache_env),
        store=opts.store,
    )
    steps = {
        n.name: step_template(ir, n, manifest["steps"][n.name], document, wiring, pods)
        for n in ir.nodes
    }
    shared = {n: s.entry for n, s in steps.items() if ir.get_node(n).kind != "params"}
    ref = None
    if shared:
        ref = manifest_ref.manifest_ref(workflow_name(ir), {**document, "steps": shared})
    templates, names = _templates(ir, steps, ref)
    tasks = [
        _task(ir, n.name, names[n.name], wiring, steps[n.name].parameters, steps[n.name].artifacts)
        for n in ir.nodes
    ]
    spec = _spec(ir, opts, ref)
    spec["templates"] = [{"name": ENTRYPOINT, "dag": {"tasks": tasks}}, *templates]
    workflow = {
        "apiVersion": API_VERSION,
        "kind": opts.kind,
        "metadata": _metadata(ir, opts),
        "spec": spec,
    }
    if ref is None:
        return [workflow]
    labels = {LABEL_WORKFLOW: workflow_name(ir)}
    return [manifest_ref.configmap(ref, labels=labels, namespace=opts.namespace), workflow]


def _spec(
    ir: IRWorkflow, opts: ArgoOptions, ref: manifest_ref.ManifestRef | None
) -> dict[str, Any]:
    """The Workflow's spec but its templates."""
    spec: dict[str, Any] = {"entrypoint": ENTRYPOINT}
    parameters = workflow_parameters(ir)
    if parameters:
        spec["arguments"] = {"parameters": parameters}
    if opts.artifact_repository:
        configmap, _, key = opts.artifact_repository.partition(":")
        spec["artifactRepositoryRef"] = {"configMap": configmap, **({"key": key} if key else {})}
    if ref is not None:
        spec["volumes"] = [ref.volume]
    return spec


def _templates(
    ir: IRWorkflow, steps: dict[str, StepTemplate], ref: manifest_ref.ManifestRef | None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One template per distinct container template (calls of a step function share one),
    named after the function; returns them and each node's template name."""
    table = NameTable()
    table.take(ENTRYPOINT)
    by_content: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for node in ir.nodes:
        template = steps[node.name].template
        if ref is not None and node.kind != "params":
            # The digest is known only now (the manifest holds the entries the templates
            # completed): it goes in before templates are compared.
            args = template["container"]["args"]
            args[args.index("--manifest-digest") + 1] = ref.digest
        content = canonical_json(template)
        if content not in by_content:
            named = {**template, "name": table.take(dns_label(node.step))}
            by_content[content] = named
        names[node.name] = by_content[content]["name"]
    return list(by_content.values()), names


def workflow_name(ir: IRWorkflow) -> str:
    """The workflow's name in Kubernetes: its axl name as a DNS-1123 label."""
    return dns_label(ir.name, WORKFLOW_NAME_MAX)


def workflow_parameters(ir: IRWorkflow) -> list[dict[str, str]]:
    """One workflow parameter per params key, its default the value's canonical JSON text.

    Raises:
        EmitError: A key is not a valid Argo parameter name, or two params steps share a key.
    """
    found: dict[str, dict[str, str]] = {}
    for node in ir.nodes:
        if node.kind != "params":
            continue
        for key, value in sorted(node.param_values.items()):
            if not PARAM_OR_ARTIFACT.match(key):
                raise EmitError(
                    f"params key {key!r} of workflow {ir.name!r} cannot be an Argo parameter name",
                    hint="use letters, digits, '_' and '-' in params keys",
                    file=node.file or None,
                    line=node.line or None,
                )
            if key in found:
                raise EmitError(f"two params steps of workflow {ir.name!r} define {key!r}")
            found[key] = {
                "name": key,
                "value": canonical_json(value),
                "description": f"JSON value of params[{json.dumps(key)}] (quote strings)",
            }
    return list(found.values())


def _wiring(ir: IRWorkflow, entries: dict[str, Any]) -> Wiring:
    wiring = Wiring()
    names = NameTable()
    names.take(ENTRYPOINT)
    for node in ir.nodes:
        wiring.task[node.name] = names.take(dns_label(node.name))
        for output, art in output_names(node, entries[node.name]).items():
            wiring.outputs[(node.name, output)] = art
    return wiring


def _task(
    ir: IRWorkflow,
    name: str,
    template: str,
    wiring: Wiring,
    parameters: list[dict[str, str]],
    artifacts: list[dict[str, str]],
) -> dict[str, Any]:
    node = ir.get_node(name)
    task: dict[str, Any] = {"name": wiring.task[name], "template": template}
    upstream = [wiring.task[up] for up in node.upstream]
    if any(ir.get_node(up).when for up in node.upstream):
        # An upstream that `when` may skip: plain dependencies would count "Skipped" as done and
        # start this task without its input; ".Succeeded" omits it instead (and, transitively,
        # everything after it).
        task["depends"] = " && ".join(f"{up}.Succeeded" for up in upstream)
    elif upstream:
        task["dependencies"] = upstream
    if node.when:
        task["when"] = node.when
    arguments: dict[str, Any] = {}
    if parameters:
        arguments["parameters"] = parameters
    if artifacts:
        arguments["artifacts"] = artifacts
    if arguments:
        task["arguments"] = arguments
    return task


def _metadata(ir: IRWorkflow, opts: ArgoOptions) -> dict[str, Any]:
    name = workflow_name(ir)
    meta: dict[str, Any] = (
        {"generateName": f"{name}-"} if opts.kind == "Workflow" else {"name": name}
    )
    if opts.namespace:
        meta["namespace"] = opts.namespace
    meta["labels"] = {LABEL_WORKFLOW: name}
    meta["annotations"] = {ANNOTATION_HASH: ir.compute_hash()}
    return meta
