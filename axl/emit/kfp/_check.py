"""Checking an emitted pipeline spec: KFP's own SDK for the types, axl for the references.

:func:`sdk_problems` loads the text the way a KFP user does (``kfp.components``, which parses the
spec into the ``PipelineSpec`` protobuf and rejects unknown fields and wrong types), then parses
what the SDK leaves an untyped ``Struct``: ``deploymentSpec`` into ``PipelineDeploymentConfig``
and each executor's Kubernetes config into ``KubernetesExecutorConfig``. It needs the ``kfp``
extra. :func:`check` needs nothing: it finds what the SDK does not check and a KFP backend would
reject at run time: a ``componentRef``, ``executorLabel``, ``producerTask``, output key,
``dependentTasks`` entry or placeholder that names nothing, a cycle, an executor with no image.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from axl.emit.argo._validate import Findings, Problem
from axl.errors import EmitError

__all__ = ["Findings", "Problem", "check", "sdk_problems", "validate"]

#: ``pipelineInfo.name``: what KFP's backend accepts.
PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
TASK_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TAG = re.compile(r"{{\$(.*?)}}")
_IO = re.compile(r"^\.(inputs|outputs)\.(artifacts|parameters)\['([^']+)'\](\.(path|uri))?$")
_CONSTANT_TAGS = frozenset({".outputs.output_file", "", ".outputMetadataUri"})


def check(spec: Any, platform: Any = None) -> Findings:
    """Every reference problem of ``spec`` (a PipelineSpec as a dict) and ``platform``."""
    found = Findings()
    if not isinstance(spec, dict):
        found.error("", "the pipeline spec is not a mapping")
        return found
    name = spec.get("pipelineInfo", {}).get("name", "")
    if not PIPELINE_NAME.match(name):
        found.error("pipelineInfo.name", f"{name!r} is not a KFP pipeline name")
    components: dict[str, Any] = spec.get("components", {})
    executors: dict[str, Any] = spec.get("deploymentSpec", {}).get("executors", {})
    # kfp.components finds a component named after the pipeline and loads that alone.
    for shadow in (f"comp-{name}", f"exec-{name}"):
        if shadow in components or shadow in executors:
            found.error(shadow, "is named after the pipeline, which KFP loads as the pipeline")
    users = _check_components(components, executors, found)
    for label, executor in executors.items():
        _check_executor(executor, f"deploymentSpec.executors.{label}", users.get(label), found)
    _check_images(executors, found)
    root = spec.get("root", {})
    _check_dag(root, components, found)
    _check_platform(platform, executors, found)
    return found


def validate(spec: dict[str, Any], platform: dict[str, Any], text: str | None = None) -> list[str]:
    """Check ``spec`` (with KFP's SDK too when ``text`` is given); returns the warnings.

    Raises:
        EmitError: Any error, all of them listed: a bug in axl's KFP emitter.
    """
    found = check(spec, platform)
    if text is not None and not found.errors:
        for problem in sdk_problems(text):
            found.errors.append(problem)
    if found.errors:
        shown = "\n  ".join(str(p) for p in found.errors[:20])
        more = len(found.errors) - 20
        raise EmitError(
            "the emitted KFP pipeline spec is invalid (this is a bug in axl's KFP emitter):\n  "
            + shown
            + (f"\n  ... and {more} more" if more > 0 else ""),
            hint="please report it with the workflow; `axl compile --target argo` is unaffected",
        )
    return [str(p) for p in found.warnings]


def sdk_problems(text: str) -> list[Problem]:
    """What KFP's SDK refuses in ``text`` (the emitted YAML). Needs the ``kfp`` extra."""
    import yaml
    from google.protobuf import json_format
    from kfp import components
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    problems: list[Problem] = []
    try:
        components.load_component_from_text(text)
    except Exception as exc:  # noqa: BLE001 - whatever the SDK raises is the finding
        problems.append(Problem("", f"kfp.components: {type(exc).__name__}: {exc}"))
    documents = list(yaml.safe_load_all(text))
    steps: list[tuple[str, Any, Any]] = [
        ("deploymentSpec", documents[0].get("deploymentSpec", {}), pb.PipelineDeploymentConfig())
    ]
    if len(documents) > 1:
        configs = _platform_executors(documents[1])
        steps += [
            (f"platforms.kubernetes.{k}", v, k8s.KubernetesExecutorConfig()) for k, v in configs
        ]
    for where, value, message in steps:
        try:
            json_format.ParseDict(value, message)
        except Exception as exc:  # noqa: BLE001 - ParseError, TypeError, ...: all findings
            problems.append(Problem(where, f"protobuf {type(message).__name__}: {exc}"))
    return problems


# -- components and executors -----------------------------------------------------------------


def _check_components(
    components: dict[str, Any], executors: dict[str, Any], found: Findings
) -> dict[str, dict[str, Any]]:
    """Each container component's executor exists. Returns executor label -> its component."""
    users: dict[str, dict[str, Any]] = {}
    for name, component in components.items():
        where = f"components.{name}"
        if "dag" in component:
            continue
        label = component.get("executorLabel")
        if label not in executors:
            found.error(f"{where}.executorLabel", f"names no executor: {label!r}")
            continue
        if label in users:
            found.error(f"{where}.executorLabel", f"executor {label!r} has two components")
        users[label] = component
    for label in executors:
        if label not in users:
            found.warn(f"deploymentSpec.executors.{label}", "no component uses it")
    return users


def _check_executor(
    executor: dict[str, Any], where: str, component: dict[str, Any] | None, found: Findings
) -> None:
    container = executor.get("container")
    if not isinstance(container, dict):
        found.error(where, "an executor of axl's needs a container")
        return
    if not container.get("image"):
        found.error(f"{where}.container.image", "a container needs an image")
    if component is None:
        return
    for at, tag in _tags(container, f"{where}.container"):
        problem = _resolve(tag, component)
        if problem:
            found.error(at, f"{{{{${tag}}}}}: {problem}")


def _check_images(executors: dict[str, Any], found: Findings) -> None:
    users: dict[str, int] = {}
    for executor in executors.values():
        image = (executor.get("container") or {}).get("image")
        if image and "@sha256:" not in image:
            users[image] = users.get(image, 0) + 1
    for image, count in users.items():
        found.warn(
            "deploymentSpec.executors",
            f"image {image!r} ({count} executors) is not pinned by digest: a tag can move, and "
            "the runner refuses to run a step whose sources differ from the compiled ones; "
            "pass --image repo/name@sha256:...",
        )


def _tags(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        for match in _TAG.finditer(value):
            yield where, match.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tags(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _tags(item, f"{where}[{i}]")


def _resolve(tag: str, component: dict[str, Any]) -> str | None:
    """Why the placeholder ``{{$<tag>}}`` names nothing of ``component``, or None."""
    if tag in _CONSTANT_TAGS:
        return None
    match = _IO.match(tag)
    if match is None:
        return "not a placeholder axl emits"
    side, kind, name, _, attr = match.groups()
    if kind == "parameters" and attr:
        return "a parameter has no .path or .uri"
    if kind == "artifacts" and not attr:
        return "an artifact is passed by .path or .uri"
    block = "inputDefinitions" if side == "inputs" else "outputDefinitions"
    if name not in component.get(block, {}).get(kind, {}):
        return f"the component declares no {side[:-1]} {kind[:-1]} {name!r}"
    return None


# -- the DAG ------------------------------------------------------------------------------------


def _check_dag(root: dict[str, Any], components: dict[str, Any], found: Findings) -> None:
    tasks: dict[str, Any] = root.get("dag", {}).get("tasks", {})
    declared = root.get("inputDefinitions", {}).get("parameters", {})
    deps: dict[str, list[str]] = {}
    for name, task in tasks.items():
        where = f"root.dag.tasks.{name}"
        if not TASK_NAME.match(name):
            found.error(where, f"{name!r} is not a KFP task name")
        ref = task.get("componentRef", {}).get("name")
        component = components.get(ref)
        if component is None:
            found.error(f"{where}.componentRef", f"names no component: {ref!r}")
        deps[name] = []
        for up in task.get("dependentTasks", []):
            if up not in tasks or up == name:
                found.error(f"{where}.dependentTasks", f"{up!r} is not another task of the DAG")
            else:
                deps[name].append(up)
        _check_task_inputs(task, where, component, tasks, components, declared, found)
    from axl.emit.argo._refs import _ancestors, _cycle

    cycle = _cycle(deps)
    if cycle:
        found.error("root.dag.tasks", "dependency cycle: " + " -> ".join(cycle))
        return
    ancestors = _ancestors(deps)
    for name, task in tasks.items():
        for key, arg in task.get("inputs", {}).get("artifacts", {}).items():
            producer = arg.get("taskOutputArtifact", {}).get("producerTask")
            if producer in tasks and producer not in ancestors[name]:
                found.error(
                    f"root.dag.tasks.{name}.inputs.artifacts.{key}",
                    f"reads task {producer!r} without depending on it",
                )


def _check_task_inputs(
    task: dict[str, Any],
    where: str,
    component: dict[str, Any] | None,
    tasks: dict[str, Any],
    components: dict[str, Any],
    declared: dict[str, Any],
    found: Findings,
) -> None:
    wanted = (component or {}).get("inputDefinitions", {})
    given = task.get("inputs", {})
    for key, arg in given.get("artifacts", {}).items():
        at = f"{where}.inputs.artifacts.{key}"
        if component is not None and key not in wanted.get("artifacts", {}):
            found.error(at, "the component declares no such input artifact")
        source = arg.get("taskOutputArtifact")
        if not isinstance(source, dict):
            found.error(at, "axl passes artifacts from tasks only (taskOutputArtifact)")
            continue
        producer = source.get("producerTask")
        if producer not in tasks:
            found.error(f"{at}.producerTask", f"names no task: {producer!r}")
            continue
        made = components.get(tasks[producer].get("componentRef", {}).get("name"), {})
        output = source.get("outputArtifactKey")
        if output not in made.get("outputDefinitions", {}).get("artifacts", {}):
            found.error(f"{at}.outputArtifactKey", f"task {producer!r} has no output {output!r}")
    for key, arg in given.get("parameters", {}).items():
        at = f"{where}.inputs.parameters.{key}"
        if component is not None and key not in wanted.get("parameters", {}):
            found.error(at, "the component declares no such input parameter")
        source = arg.get("componentInputParameter")
        if source not in declared:
            found.error(at, f"names no pipeline parameter: {source!r}")
    for kind in ("artifacts", "parameters"):
        for key, spec in wanted.get(kind, {}).items():
            if key not in given.get(kind, {}) and not spec.get("isOptional"):
                found.error(f"{where}.inputs.{kind}", f"the component needs {key!r}, not passed")


def _check_platform(platform: Any, executors: dict[str, Any], found: Findings) -> None:
    for label, _ in _platform_executors(platform or {}):
        if label not in executors:
            found.error(f"platforms.kubernetes.{label}", "names no executor")


def _platform_executors(platform: dict[str, Any]) -> list[tuple[str, Any]]:
    kubernetes = platform.get("platforms", {}).get("kubernetes", {})
    return list(kubernetes.get("deploymentSpec", {}).get("executors", {}).items())
