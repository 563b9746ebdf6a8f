"""The Kubeflow Pipelines emitter: a workflow -> a KFP v2 pipeline spec (YAML).

``emit_pipeline`` builds the spec and its Kubernetes platform spec (dicts), ``check`` finds the
reference problems KFP's SDK does not, ``sdk_problems`` loads the text with KFP's own SDK (the
``kfp`` extra), ``compile_kfp`` does it all and dumps byte-stable YAML. ``compile_target`` is what
``axl compile --target kfp`` calls.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from axl.emit import Compiled, WorkflowBundle
from axl.emit._bundle import image_data_notes
from axl.emit.argo._yaml import dump_yaml
from axl.emit.kfp._check import Findings, Problem, check, sdk_problems, validate
from axl.emit.kfp._emit import KfpOptions, emit_pipeline, pipeline_name
from axl.errors import UsageError

__all__ = [
    "Findings",
    "KfpOptions",
    "Problem",
    "check",
    "compile_kfp",
    "compile_target",
    "dump_spec",
    "emit_pipeline",
    "pipeline_name",
    "sdk_problems",
    "validate",
]

#: Option names of `axl compile` (and the BUILD rule) -> KfpOptions fields.
OPTIONS = {"image": "image", "remote_cache": "remote_cache", "cache_secret_ref": "cache_secret"}


def dump_spec(spec: Mapping[str, Any], platform: Mapping[str, Any]) -> str:
    """The two documents as one YAML file, as ``kfp.compiler`` writes them."""
    return dump_yaml(dict(spec)) + "---\n" + dump_yaml(dict(platform))


def sdk_available() -> bool:
    """Whether KFP's SDK (the ``kfp`` extra, with ``kfp-kubernetes``) is installed, without
    importing it."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("kfp", "kfp.kubernetes"))
    except (ImportError, ValueError):  # a parent that is not a package, a blocked module
        return False


def compile_kfp(
    bundle: WorkflowBundle, options: KfpOptions | None = None, *, sdk: bool | None = None
) -> Compiled:
    """Emit, check and dump. Same bundle and options, same bytes.

    Args:
        bundle: The workflow.
        options: How to emit.
        sdk: Also load the result with KFP's SDK (default: when the ``kfp`` extra is installed).

    Raises:
        EmitError: The workflow cannot be emitted, or the result fails the checks.
    """
    spec, platform = emit_pipeline(bundle, options)
    text = dump_spec(spec, platform)
    use_sdk = sdk_available() if sdk is None else sdk
    warnings = validate(spec, platform, text if use_sdk else None)
    warnings.extend(image_data_notes(bundle))
    steps = len(bundle.ir.nodes)
    size = max(1, round(len(text.encode()) / 1024))
    summary = f"KFP pipeline {pipeline_name(bundle.ir)}: {steps} steps, {size} KiB"
    if not use_sdk:
        warnings.append(
            "kfp is not installed, so KFP's SDK did not check the spec: "
            "pip install 'axl-build[kfp]'"
        )
    return Compiled(text, tuple(warnings), summary)


def compile_target(bundle: WorkflowBundle, options: Mapping[str, Any]) -> Compiled:
    """The ``kfp`` compile target: ``options`` as given to ``axl compile`` (None: not given).

    Raises:
        UsageError: An option that does not apply to KFP.
    """
    for name, value in options.items():
        if value is not None and name not in OPTIONS:
            raise UsageError(
                f"--{name.replace('_', '-')} does not apply to --target kfp",
                hint=f"kfp takes: {', '.join('--' + k.replace('_', '-') for k in OPTIONS)}",
            )
    fields = {OPTIONS[k]: v for k, v in options.items() if v is not None}
    return compile_kfp(bundle, KfpOptions(**fields))
