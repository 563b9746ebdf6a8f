"""Reference checks: DAG tasks, their arguments, and every ``{{...}}`` variable in a template.

Argo resolves these when the workflow is submitted (or linted); a reference that names nothing
fails the whole submission. These checks find the same mistakes without a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axl.emit.argo._names import DNS1123_LABEL

if TYPE_CHECKING:
    from axl.emit.argo._validate import Findings

_TAG = re.compile(r"{{(.*?)}}", re.DOTALL)
_DEPENDS_TOKEN = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*)(?:\.([A-Za-z]+))?")
_RESULTS = frozenset(
    {
        "Succeeded",
        "Failed",
        "Errored",
        "Skipped",
        "Omitted",
        "Daemoned",
        "AnySucceeded",
        "AllFailed",
    }
)
_LOCATIONS = ("raw", "s3", "gcs", "git", "http", "artifactory", "hdfs", "oss", "azure", "plugin")
_WORKFLOW_VARS = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "serviceAccountName",
        "mainEntrypoint",
        "priority",
        "duration",
        "status",
        "failures",
        "creationTimestamp",
        "scheduledTime",
        "parameters",
        "parameters.json",
        "labels.json",
        "annotations.json",
    }
)
_WORKFLOW_MAPS = ("labels.", "annotations.", "creationTimestamp.", "outputs.")
_LOCAL_VARS = frozenset({"pod.name", "node.name", "retries", "steps.name", "tasks.name", "item"})
_TASK_ATTRS = frozenset(
    {"id", "ip", "status", "exitCode", "startedAt", "finishedAt", "hostNodeName", "outputs.result"}
)


@dataclass(frozen=True)
class Context:
    """What references may name, across the whole object."""

    templates: dict[str, dict[str, Any]]
    workflow_parameters: set[str]


def check_template_refs(
    template: dict[str, Any], where: str, ctx: Context, found: Findings
) -> None:
    """Check the DAG of ``template`` (if any) and every variable it uses."""
    tasks: dict[str, dict[str, Any]] = {}
    if "dag" in template:
        tasks = _check_dag(template, f"{where}.dag", ctx, found)
    for at, tag in _tags(template, where):
        problem = _resolve(tag, template, tasks, ctx)
        if problem:
            found.error(at, f"{{{{{tag}}}}}: {problem}")


# -- DAG --------------------------------------------------------------------------------------


def _check_dag(
    template: dict[str, Any], where: str, ctx: Context, found: Findings
) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = {}
    for i, task in enumerate(template["dag"].get("tasks", [])):
        name = task.get("name", "")
        if not DNS1123_LABEL.match(name):
            found.error(f"{where}.tasks[{i}].name", f"{name!r} is not a DNS-1123 label")
        if name in tasks:
            found.error(f"{where}.tasks[{i}].name", f"a second task named {name!r}")
        tasks.setdefault(name, task)
    deps: dict[str, list[str]] = {}
    for i, task in enumerate(template["dag"].get("tasks", [])):
        at = f"{where}.tasks[{i}]"
        deps[task.get("name", "")] = _dependencies(task, at, tasks, found)
        target = task.get("template")
        if target is not None and target not in ctx.templates:
            found.error(f"{at}.template", f"names no template: {target!r}")
        elif target is not None:
            _check_arguments(task, at, ctx.templates[target], found)
    cycle = _cycle(deps)
    if cycle:
        found.error(f"{where}.tasks", "dependency cycle: " + " -> ".join(cycle))
        return tasks
    ancestors = _ancestors(deps)
    for i, task in enumerate(template["dag"].get("tasks", [])):
        for j, art in enumerate(task.get("arguments", {}).get("artifacts", [])):
            at = f"{where}.tasks[{i}].arguments.artifacts[{j}].from"
            _check_from(art.get("from"), at, task, template, tasks, ancestors, ctx, found)
    return tasks


def _dependencies(
    task: dict[str, Any], at: str, tasks: dict[str, Any], found: Findings
) -> list[str]:
    names = list(task.get("dependencies", []))
    if "depends" in task:
        if names:
            found.error(at, "a task may have dependencies or depends, not both")
        for match in _DEPENDS_TOKEN.finditer(task["depends"]):
            name, result = match.groups()
            if result is not None and result not in _RESULTS:
                found.error(f"{at}.depends", f"{name}.{result}: unknown task result {result!r}")
            names.append(name)
    for name in names:
        if name not in tasks:
            found.error(at, f"depends on {name!r}, which is not a task of this DAG")
        elif name == task.get("name"):
            found.error(at, "a task cannot depend on itself")
    return [n for n in names if n in tasks]


def _check_arguments(
    task: dict[str, Any], at: str, template: dict[str, Any], found: Findings
) -> None:
    """The task passes what the template needs, and nothing it does not declare."""
    args = task.get("arguments", {})
    for kind in ("parameters", "artifacts"):
        declared = {item.get("name"): item for item in template.get("inputs", {}).get(kind, [])}
        given = [item.get("name") for item in args.get(kind, [])]
        for name in given:
            if name not in declared:
                found.error(
                    f"{at}.arguments.{kind}",
                    f"passes {name!r}, which template {template.get('name')!r} does not take",
                )
        for name, item in declared.items():
            if name not in given and _required(item, kind):
                found.error(
                    f"{at}.arguments.{kind}",
                    f"template {template.get('name')!r} needs {kind[:-1]} {name!r}, not passed",
                )


def _required(item: dict[str, Any], kind: str) -> bool:
    if kind == "parameters":
        return "value" not in item and "default" not in item and "valueFrom" not in item
    return not item.get("optional") and not any(loc in item for loc in _LOCATIONS)


def _check_from(
    text: Any,
    at: str,
    task: dict[str, Any],
    template: dict[str, Any],
    tasks: dict[str, dict[str, Any]],
    ancestors: dict[str, set[str]],
    ctx: Context,
    found: Findings,
) -> None:
    """``from`` names an output artifact of a task this one depends on, or a DAG input."""
    if text is None:
        return
    match = re.fullmatch(r"{{\s*(.*?)\s*}}", text)
    if match is None:
        found.error(at, f"{text!r} is not one {{{{...}}}} reference")
        return
    parts = match.group(1).split(".")
    if len(parts) == 3 and parts[:2] == ["inputs", "artifacts"]:
        if parts[2] not in _names(template, "inputs", "artifacts"):
            found.error(at, f"the DAG template has no input artifact {parts[2]!r}")
        return
    if len(parts) != 5 or parts[0] != "tasks" or parts[2:4] != ["outputs", "artifacts"]:
        found.error(at, f"{text!r} is not {{{{tasks.<task>.outputs.artifacts.<name>}}}}")
        return
    source, artifact = parts[1], parts[4]
    if source not in tasks:
        found.error(at, f"names task {source!r}, which is not in this DAG")
        return
    if source not in ancestors.get(task.get("name", ""), set()):
        found.error(at, f"reads task {source!r} without depending on it")
    produced = ctx.templates.get(tasks[source].get("template", ""))
    if produced is None:
        return  # the task's template names nothing: reported once, at the task
    if artifact not in _names(produced, "outputs", "artifacts"):
        found.error(
            at, f"task {source!r} (template {produced.get('name')!r}) has no output {artifact!r}"
        )


def _cycle(deps: dict[str, list[str]]) -> list[str]:
    """A dependency cycle as a list of task names (first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start, first in deps.items():
        if state.get(start):
            continue
        state[start] = 1
        path = [start]
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(first))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(deps.get(child, []))))
    return []


def _ancestors(deps: dict[str, list[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, direct in deps.items():
        seen: set[str] = set()
        stack = list(direct)
        while stack:
            up = stack.pop()
            if up not in seen:
                seen.add(up)
                stack.extend(deps.get(up, []))
        out[name] = seen
    return out


# -- variables --------------------------------------------------------------------------------


def _tags(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``{{...}}`` tag in the strings of ``value``, with where it is."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            for match in _TAG.finditer(item):
                yield at, match.group(1)
        elif isinstance(item, dict):
            # An artifact's `from` is checked on its own (_check_from), with a better message.
            stack.extend((f"{at}.{k}", v) for k, v in reversed(list(item.items())) if k != "from")
        elif isinstance(item, list):
            stack.extend((f"{at}[{i}]", v) for i, v in reversed(list(enumerate(item))))


def _resolve(
    tag: str, template: dict[str, Any], tasks: dict[str, dict[str, Any]], ctx: Context
) -> str | None:
    """Why ``tag`` names nothing, or None when it resolves."""
    name = tag.strip()
    if name.startswith("="):
        return None  # an expression: evaluated by Argo, not a plain reference
    if name in _LOCAL_VARS or name.startswith("item."):
        return None
    head, _, rest = name.partition(".")
    if head == "workflow":
        if rest.startswith("parameters.") and rest != "parameters.json":
            param = rest.removeprefix("parameters.")
            known = param in ctx.workflow_parameters
            return None if known else f"no workflow parameter {param!r}"
        if rest in _WORKFLOW_VARS or rest.startswith(_WORKFLOW_MAPS):
            return None
        return f"Argo has no workflow variable {rest!r}"
    if head in ("inputs", "outputs"):
        return _resolve_io(head, rest, template)
    if head == "tasks" and tasks:
        task, _, attr = rest.partition(".")
        if task not in tasks:
            return f"no task {task!r} in this DAG"
        produced = ctx.templates.get(tasks[task].get("template", ""))
        return None if produced is None else _resolve_task_attr(attr, produced)
    return "not a variable Argo knows here"


def _resolve_io(side: str, rest: str, template: dict[str, Any]) -> str | None:
    kind, _, name = rest.partition(".")
    if kind not in ("parameters", "artifacts") or not name:
        return None if rest == "parameters" else f"not a variable Argo knows: {side}.{rest}"
    if kind == "artifacts" or side == "outputs":
        name = name.removesuffix(".path")
    if name not in _names(template, side, kind):
        return f"template {template.get('name')!r} declares no {side} {kind[:-1]} {name!r}"
    return None


def _resolve_task_attr(attr: str, produced: dict[str, Any]) -> str | None:
    if attr in _TASK_ATTRS:
        return None
    for kind in ("parameters", "artifacts"):
        prefix = f"outputs.{kind}."
        if attr.startswith(prefix):
            name = attr.removeprefix(prefix)
            if name in _names(produced, "outputs", kind):
                return None
            return f"template {produced.get('name')!r} has no output {kind[:-1]} {name!r}"
    return f"tasks have no attribute {attr!r}"


def _names(template: dict[str, Any], side: str, kind: str) -> set[str]:
    return {item.get("name", "") for item in template.get(side, {}).get(kind, [])}
