"""``axl compile``: translate a workflow for another system (``--target argo``: Workflow YAML).

Each target is an emitter registered by name in :mod:`axl.emit`; options that only some targets
take are passed through by name, and a target refuses the ones it does not take.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from axl.cli._app import ConfigOpt, ParamsOpt, WorkflowOpt, WorkspaceOpt, app
from axl.emit import compile_workflow, target_names, write_output


@app.command("compile")
def compile_command(
    module: WorkflowOpt,
    target: Annotated[
        str, typer.Option("--target", "-t", help=f"What to emit: {', '.join(target_names())}.")
    ],
    params: ParamsOpt = None,
    out: Annotated[
        str | None,
        typer.Option("--out", "-o", help="The file to write (default: standard output)."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="argo: Workflow (default) or WorkflowTemplate."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="The image steps run in, ideally pinned: repo/name@sha256:... "
            "(default: the workflow's image).",
        ),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="argo: metadata.namespace.")
    ] = None,
    artifact_repo: Annotated[
        str | None,
        typer.Option(
            "--artifact-repo",
            help="argo: store outputs as key-only S3 artifacts under this key prefix "
            "(bucket and credentials come from the cluster's artifact repository).",
        ),
    ] = None,
    artifact_repo_ref: Annotated[
        str | None,
        typer.Option(
            "--artifact-repo-ref",
            help="argo: CONFIGMAP[:KEY] naming a configured artifact repository "
            "(default: the cluster's default).",
        ),
    ] = None,
    remote_cache: Annotated[
        str | None,
        typer.Option(
            "--remote-cache",
            metavar="URL",
            help="argo, kfp: every pod consults this remote cache (http(s)://host/prefix or "
            "s3://bucket/prefix) before running its step, and uploads to it.",
        ),
    ] = None,
    cache_secret_ref: Annotated[
        str | None,
        typer.Option(
            "--cache-secret-ref",
            metavar="SECRET[:KEY]",
            help="argo, kfp: the Kubernetes Secret (key default: secret) that pods read "
            "AXL_CACHE_SECRET from, to sign and check remote cache records.",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            help="argo: pods write their outputs to this artifact store (s3://bucket/prefix) "
            "and read their inputs from it by digest, instead of passing Argo artifacts "
            "(for large fan-ins).",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Compile a workflow for another system; validate the result before writing it.

    --target argo writes the ConfigMap holding the workflow's manifest and the Argo Workflow
    (or WorkflowTemplate): `kubectl create -f FILE` creates both.
    --target kfp writes a Kubeflow Pipelines v2 pipeline spec: upload it with
    `kfp pipeline create -p NAME FILE` or kfp.Client().upload_pipeline(FILE).
    --target dagster writes a Python module defining a Dagster job: run it with
    `dagster dev -f FILE` or `dagster job execute -f FILE`.
    """
    from axl._loader import reading_root

    root, _ = reading_root(module, workspace)
    compiled = compile_workflow(
        target,
        module,
        params_file=params,
        workspace=root,
        config=config,
        options={
            "kind": kind,
            "image": image,
            "namespace": namespace,
            "artifact_repo": artifact_repo,
            "artifact_repo_ref": artifact_repo_ref,
            "remote_cache": remote_cache,
            "cache_secret_ref": cache_secret_ref,
            "store": store,
        },
    )
    for warning in compiled.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if out is None:
        sys.stdout.write(compiled.text)
        return
    write_output(Path(out), compiled.text)
    typer.echo(f"wrote {out}: {compiled.summary}")
