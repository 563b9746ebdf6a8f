"""IR -> a Kubeflow Pipelines v2 pipeline spec (and its Kubernetes platform spec), as dicts.

Pure: no files, no cluster, no ``kfp`` import. The shape is what ``kfp.compiler.Compiler``
writes for container components: ``components`` (one ``comp-<task>`` per step),
``deploymentSpec.executors`` (one ``exec-<task>`` container each), ``root.dag.tasks`` wiring
them through artifacts, ``root.inputDefinitions`` holding the params as pipeline parameters.
The second document, a ``PlatformSpec``, gives each executor's pod axl's annotations and label
(and, with a cache secret, the secret as an environment variable), as ``kfp-kubernetes`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from axl.emit._bundle import WorkflowBundle
from axl.emit.argo._emit import SECRET_KEY
from axl.emit.argo._names import PARAM_OR_ARTIFACT, dns_label
from axl.emit.kfp._steps import parameter_default, parameter_type, step_spec, wire
from axl.errors import EmitError
from axl.ir import IRNode, IRWorkflow

SCHEMA_VERSION = "2.1.0"
#: Who wrote the spec (``kfp-<version>`` when the KFP SDK compiles one).
SDK_VERSION = "axl"
#: KFP's pipeline names: lowercase letters, digits and '-', at most 128 characters.
PIPELINE_NAME_MAX = 128


@dataclass(frozen=True)
class KfpOptions:
    """How to emit.

    Attributes:
        image: The image every step runs in (default: the workflow's ``image``). Pin it by
            digest (``repo/name@sha256:...``) so the pods run the code that was compiled.
        remote_cache: The remote cache every task's runner consults before running its step
            and uploads to (``http(s)://host/prefix`` or ``s3://bucket/prefix``).
        cache_secret: ``secret`` or ``secret:key``: the Kubernetes Secret holding the remote
            cache's signing secret, given to each container as ``AXL_CACHE_SECRET``.
    """

    image: str | None = None
    remote_cache: str | None = None
    cache_secret: str | None = None

    def __post_init__(self) -> None:
        from axl.emit.argo import ArgoOptions

        # The same rules as on Argo (URLs every pod reaches, no password in the file,
        # SECRET[:KEY] names), checked by the one place that knows them.
        ArgoOptions(remote_cache=self.remote_cache, cache_secret=self.cache_secret)

    @property
    def cache_env(self) -> list[dict[str, str]]:
        """The environment every container gets for the remote cache (none without one)."""
        return (
            [{"name": "AXL_REMOTE_CACHE", "value": self.remote_cache}] if self.remote_cache else []
        )

    @property
    def kubernetes(self) -> dict[str, Any]:
        """The Kubernetes config every executor gets: the cache secret as an env variable."""
        if not self.cache_secret:
            return {}
        name, _, key = self.cache_secret.partition(":")
        return {
            "secretAsEnv": [
                {
                    "secretName": name,
                    "secretNameParameter": {"runtimeValue": {"constant": name}},
                    "keyToEnv": [{"secretKey": key or SECRET_KEY, "envVar": "AXL_CACHE_SECRET"}],
                    "optional": False,
                }
            ]
        }


def pipeline_name(ir: IRWorkflow) -> str:
    """The pipeline's name in KFP: the workflow's name, lowercase, other characters '-'."""
    return dns_label(ir.name, PIPELINE_NAME_MAX)


def emit_pipeline(
    bundle: WorkflowBundle, options: KfpOptions | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline spec and platform spec of ``bundle``'s workflow. Same arguments, same dicts.

    Raises:
        EmitError: A params key cannot be a KFP parameter name, or a step asks for a resource
            KFP has no field for.
    """
    from axl.runtime._manifest import emit_manifest

    opts = options or KfpOptions()
    ir = bundle.ir
    manifest = emit_manifest(
        ir,
        code=bundle.code_of,
        environment=bundle.environment,
        sources=bundle.sources,
        data=bundle.data,
    )
    document = {k: v for k, v in manifest.items() if k != "steps"}
    name = pipeline_name(ir)
    wiring = wire(ir, manifest["steps"], reserved=name)
    components: dict[str, Any] = {}
    executors: dict[str, Any] = {}
    tasks: dict[str, Any] = {}
    platform: dict[str, Any] = {}
    for node in ir.nodes:
        _refuse_when(ir, node)
        step = step_spec(
            ir,
            node,
            manifest["steps"][node.name],
            document,
            wiring,
            image=opts.image or ir.image,
            env=opts.cache_env,
            kubernetes=opts.kubernetes,
        )
        task = wiring.task[node.name]
        components[f"comp-{task}"] = step.component
        executors[f"exec-{task}"] = step.executor
        tasks[task] = step.task
        platform[f"exec-{task}"] = step.kubernetes
    root: dict[str, Any] = {"dag": {"tasks": tasks}}
    parameters = pipeline_parameters(ir)
    if parameters:
        root["inputDefinitions"] = {"parameters": parameters}
    spec = {
        "pipelineInfo": {
            "name": name,
            "displayName": ir.name,
            "description": f"axl workflow {ir.name} (hash {ir.compute_hash()[:16]})",
        },
        "sdkVersion": SDK_VERSION,
        "schemaVersion": SCHEMA_VERSION,
        "root": root,
        "components": components,
        "deploymentSpec": {"executors": executors},
    }
    platform_spec = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": platform}}}}
    return spec, platform_spec


def _refuse_when(ir: IRWorkflow, node: IRNode) -> None:
    """A condition would need KFP's own control flow (``dsl.If``), which axl does not emit yet:
    running the step unconditionally would be another program under the same name."""
    if node.when:
        from axl.emit.kfp._steps import display_file

        raise EmitError(
            f"step {node.name!r} of workflow {ir.name!r} has a condition (when={node.when!r}), "
            "which the KFP target does not emit yet",
            hint="compile it for Argo (--target argo), or remove `when` for KFP",
            file=display_file(node.file),
            line=node.line or None,
        )


def pipeline_parameters(ir: IRWorkflow) -> dict[str, Any]:
    """One pipeline input parameter per params key, typed, its default the compiled value.

    Raises:
        EmitError: A key is not a valid parameter name, or two params steps share a key.
    """
    found: dict[str, Any] = {}
    for node in ir.nodes:
        if node.kind != "params":
            continue
        for key, value in sorted(node.param_values.items()):
            if not PARAM_OR_ARTIFACT.match(key):
                raise EmitError(
                    f"params key {key!r} of workflow {ir.name!r} cannot be a KFP parameter name",
                    hint="use letters, digits, '_' and '-' in params keys",
                    file=node.file or None,
                    line=node.line or None,
                )
            if key in found:
                raise EmitError(f"two params steps of workflow {ir.name!r} define {key!r}")
            kind = parameter_type(value)
            text = " (JSON text)" if kind == "STRING" and not isinstance(value, str) else ""
            found[key] = {
                "parameterType": kind,
                "defaultValue": parameter_default(value),
                "isOptional": True,
                "description": f"params[{json.dumps(key)}]{text}",
            }
    return found
