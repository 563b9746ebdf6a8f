"""The Argo Workflows emitter: a workflow -> its manifest's ConfigMap and one ``Workflow`` (or
``WorkflowTemplate``), as one YAML file of two documents.

``emit_objects`` builds the objects (dicts; ``emit_workflow`` the Argo one alone), ``validate``
checks the Argo object against Argo's schema and the semantic rules Argo applies at submission
(``validate_objects`` both objects, sizes included), ``dump_yaml`` writes them byte-stably.
``compile_argo`` does all three; ``compile_target`` is what ``axl compile --target argo`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axl.emit import Compiled, WorkflowBundle
from axl.emit.argo._emit import ArgoOptions, emit_objects, emit_workflow, workflow_name
from axl.emit.argo._validate import Findings, Problem, check, validate, validate_objects
from axl.emit.argo._yaml import dump_yaml
from axl.errors import UsageError

__all__ = [
    "ArgoOptions",
    "Findings",
    "Problem",
    "check",
    "compile_argo",
    "compile_target",
    "dump_yaml",
    "emit_objects",
    "emit_workflow",
    "validate",
    "validate_objects",
    "workflow_name",
]

#: Option names of `axl compile` (and the BUILD rule) -> ArgoOptions fields.
OPTIONS = {
    "kind": "kind",
    "image": "image",
    "namespace": "namespace",
    "artifact_repo": "artifact_key_prefix",
    "artifact_repo_ref": "artifact_repository",
    "remote_cache": "remote_cache",
    "cache_secret_ref": "cache_secret",
    "store": "store",
}


def compile_argo(bundle: WorkflowBundle, options: ArgoOptions | None = None) -> Compiled:
    """Emit, validate and dump. Same bundle and options, same bytes.

    Raises:
        EmitError: The workflow cannot be emitted, or the result fails validation.
    """
    objects = emit_objects(bundle, options)
    warnings = [*validate_objects(objects), *data_notes(bundle, options or ArgoOptions())]
    texts = [dump_yaml(item) for item in objects]
    document = objects[-1]
    steps = len(bundle.ir.nodes)
    templates = len(document["spec"]["templates"]) - 1
    summary = (
        f"{document['kind']} {workflow_name(bundle.ir)}: {steps} steps, {templates} templates, "
        f"{_kib(texts[-1])}"
    )
    if len(objects) > 1:
        summary += f"; ConfigMap {objects[0]['metadata']['name']}: {_kib(texts[0])}"
    return Compiled("---\n".join(texts), tuple(warnings), summary)


def _kib(text: str) -> str:
    return f"{max(1, round(len(text.encode()) / 1024))} KiB"


def data_notes(bundle: WorkflowBundle, options: ArgoOptions) -> list[str]:
    """What the user must do so that pods find the workspace data the steps were keyed with."""
    from axl.emit._bundle import image_data_notes
    from axl.emit.argo._pods import data_key

    prefix = options.artifact_key_prefix
    if prefix is None:
        return [f"{note}, or pass --artifact-repo" for note in image_data_notes(bundle)]
    declared = {src.ident: src for node in bundle.ir.nodes for src in node.sources}
    return [
        f"upload {declared[ident].kind} {declared[ident].location} to "
        f"{data_key(prefix, digest)} in the artifact repository before submitting (the pods "
        "refuse other bytes)"
        for ident, digest in bundle.data.items()
    ]


def compile_target(bundle: WorkflowBundle, options: Mapping[str, Any]) -> Compiled:
    """The ``argo`` compile target: ``options`` as given to ``axl compile`` (None: not given).

    Raises:
        UsageError: An option that does not apply to Argo.
    """
    for name, value in options.items():
        if value is not None and name not in OPTIONS:
            raise UsageError(
                f"--{name.replace('_', '-')} does not apply to --target argo",
                hint=f"argo takes: {', '.join('--' + k.replace('_', '-') for k in OPTIONS)}",
            )
    fields = {OPTIONS[k]: v for k, v in options.items() if v is not None}
    return compile_argo(bundle, ArgoOptions(**fields))
