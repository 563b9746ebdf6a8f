"""A local rehearsal of an emitted Argo Workflow: what the controller and its pods would do.

:func:`rehearse` walks the entrypoint DAG in dependency order and, for each task, does what Argo
does for a container template:

0. mounts the ConfigMap volumes its container names (the ConfigMaps given with the Workflow);
1. substitutes ``{{workflow.parameters.*}}`` / ``{{inputs.parameters.*}}`` / ``{{workflow.name}}``
   in the task's arguments and the whole template (raw artifact data included, as Argo does);
2. evaluates the task's ``when`` (comparisons, ``&&``, ``||``, ``!`` on literals);
3. places each input artifact at its declared path: ``raw`` data written out, ``from`` copied
   from the producing task's saved output artifact;
4. runs the container's ``command`` + ``args`` as a subprocess (``python`` is this interpreter,
   the working folder is the workspace, standing in for the image's);
5. saves each declared output artifact (the file must exist at its path, as a single file).

Each pod gets its own filesystem: every path under ``/axl`` is rewritten to
``<work>/pods/<task>/axl/...``. Nothing here knows axl's runner: only the YAML's commands, paths
and artifact wiring are exercised, so a rehearsal that succeeds shows they fit together.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TAG = re.compile(r"{{\s*([^{}]*?)\s*}}")
_DEPENDS = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*)(?:\.([A-Za-z]+))?")
POD_ROOT = "/axl"


class RehearsalError(Exception):
    """The workflow would not run as emitted."""


@dataclass
class TaskRun:
    """One task of the rehearsal."""

    task: str
    template: str
    #: Succeeded, Failed, Skipped (when was false), Omitted (an upstream did not run), Assumed
    #: (not run: outside ``run_only``; counts as succeeded for the tasks after it)
    phase: str
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    argv: list[str] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)


def rehearse(
    document: dict[str, Any] | list[dict[str, Any]],
    *,
    workspace: Path,
    work: Path,
    parameters: dict[str, str] | None = None,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    secrets: dict[tuple[str, str], str] | None = None,
    run_only: Collection[str] | None = None,
) -> dict[str, TaskRun]:
    """Run ``document`` (a Workflow as a dict) locally; returns each task's run, in run order.

    Args:
        document: The emitted Workflow, or the emitted objects (ConfigMaps, then the Workflow).
        workspace: The working folder of every container (the image's workspace).
        work: An empty folder for pod filesystems and saved artifacts.
        parameters: Submit-time overrides (``argo submit -p name=value``).
        python: The interpreter that stands in for the image's ``python``.
        env: Extra environment for every container.
        secrets: The cluster's Secrets, ``(name, key) -> value``, for ``secretKeyRef`` env.
        run_only: Run only these tasks; the others are "Assumed" (their results must be where
            the tasks that run look for them, e.g. in a store).

    Raises:
        RehearsalError: The DAG or a template is broken (a missing template, artifact or
            variable; an output file that was not written). A step that fails is not an error:
            its run has phase "Failed" and its dependents are omitted.
    """
    objects = document if isinstance(document, list) else [document]
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    workflow = next(o for o in objects if o["kind"] != "ConfigMap")
    spec = workflow["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    params = {
        p["name"]: p.get("value", "") for p in spec.get("arguments", {}).get("parameters", [])
    }
    for name, value in (parameters or {}).items():
        if name not in params:
            raise RehearsalError(f"workflow has no parameter {name!r}")
        params[name] = value
    globals_ = {f"workflow.parameters.{k}": v for k, v in params.items()}
    globals_["workflow.name"] = "rehearsal"
    templates = {t["name"]: t for t in spec["templates"]}
    dag = templates[spec["entrypoint"]]["dag"]
    runs: dict[str, TaskRun] = {}
    for task in _order(dag["tasks"]):
        name = task["name"]
        template = templates.get(task["template"])
        if template is None:
            raise RehearsalError(f"task {name!r}: no template {task['template']!r}")
        run = TaskRun(name, template["name"], "Omitted")
        runs[name] = run
        if not _may_start(task, runs):
            continue
        if run_only is not None and name not in run_only:
            run.phase = "Assumed"
            continue
        when = task.get("when")
        if when is not None and not evaluate_when(_substitute(when, globals_, f"task {name}")):
            run.phase = "Skipped"
            continue
        pod = work / "pods" / name
        _mount_volumes(name, template, volumes, configmaps, pod)
        _stage_inputs(task, template, runs, globals_, pod)
        values = _locals(task, template, globals_)
        environ = {**os.environ, **(env or {})}
        _container_env(run, template, values, pod, environ, secrets)
        _run_container(run, template, values, pod, workspace, python, environ)
        if run.phase == "Succeeded":
            _save_outputs(run, template, pod, work / "artifacts" / name)
    return runs


# -- the DAG ----------------------------------------------------------------------------------


def _deps(task: dict[str, Any]) -> list[tuple[str, str | None]]:
    if "depends" in task:
        return [(m.group(1), m.group(2)) for m in _DEPENDS.finditer(task["depends"])]
    return [(name, None) for name in task.get("dependencies", [])]


def _order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {t["name"]: t for t in tasks}
    order: list[dict[str, Any]] = []
    done: set[str] = set()
    while len(order) < len(tasks):
        ready = [
            t
            for t in tasks
            if t["name"] not in done and all(d in done for d, _ in _deps(t) if d in by_name)
        ]
        if not ready:
            raise RehearsalError("the DAG has a cycle or a dependency on a missing task")
        for task in ready:
            order.append(task)
            done.add(task["name"])
    return order


def _may_start(task: dict[str, Any], runs: dict[str, TaskRun]) -> bool:
    """Argo's rules, for what this emitter writes: plain dependencies need each upstream
    Succeeded or Skipped; ``depends`` terms ``t.Succeeded`` need exactly that."""
    for name, result in _deps(task):
        if name not in runs:
            raise RehearsalError(f"task {task['name']!r} depends on unknown task {name!r}")
        phase = runs[name].phase
        if phase == "Assumed":
            phase = "Succeeded"
        if (result is None and phase not in ("Succeeded", "Skipped")) or (
            result is not None and phase != result
        ):
            return False
    return True


# -- one pod ----------------------------------------------------------------------------------


def _locals(
    task: dict[str, Any], template: dict[str, Any], globals_: dict[str, str]
) -> dict[str, str]:
    given = {p["name"]: p for p in task.get("arguments", {}).get("parameters", [])}
    values = dict(globals_)
    for declared in template.get("inputs", {}).get("parameters", []):
        name = declared["name"]
        item = given.get(name, declared)
        if "value" not in item:
            raise RehearsalError(f"task {task['name']!r}: parameter {name!r} has no value")
        values[f"inputs.parameters.{name}"] = _substitute(item["value"], globals_, task["name"])
    return values


def _mount_volumes(
    task: str,
    template: dict[str, Any],
    volumes: dict[str, dict[str, Any]],
    configmaps: dict[str, dict[str, Any]],
    pod: Path,
) -> None:
    """Write the data of each ConfigMap the container mounts as files under its mount path."""
    for mount in template.get("container", {}).get("volumeMounts", []):
        volume = volumes.get(mount["name"])
        if volume is None or "configMap" not in volume:
            raise RehearsalError(
                f"task {task!r}: mount {mount['name']!r} names no ConfigMap volume"
            )
        name = volume["configMap"]["name"]
        if name not in configmaps:
            raise RehearsalError(
                f"task {task!r}: ConfigMap {name!r} does not exist (the pod would not start)"
            )
        folder = _pod_path(mount["mountPath"], pod)
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in configmaps[name].get("data", {}).items():
            (folder / key).write_text(value, encoding="utf-8")


def _stage_inputs(
    task: dict[str, Any],
    template: dict[str, Any],
    runs: dict[str, TaskRun],
    globals_: dict[str, str],
    pod: Path,
) -> None:
    given = {a["name"]: a for a in task.get("arguments", {}).get("artifacts", [])}
    values = _locals(task, template, globals_)
    for art in template.get("inputs", {}).get("artifacts", []):
        dest = _pod_path(art["path"], pod)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if "raw" in art:
            data = _substitute(art["raw"]["data"], values, f"{task['name']}: raw {art['name']}")
            dest.write_text(data, encoding="utf-8")
            continue
        source = given.get(art["name"], {}).get("from")
        if source is None:
            raise RehearsalError(f"task {task['name']!r}: input artifact {art['name']!r} not given")
        match = re.fullmatch(r"{{tasks\.([^.]+)\.outputs\.artifacts\.([^.]+)}}", source)
        if match is None:
            raise RehearsalError(f"task {task['name']!r}: cannot resolve from {source!r}")
        upstream, output = match.groups()
        produced = runs.get(upstream)
        if produced is None or output not in produced.outputs:
            raise RehearsalError(
                f"task {task['name']!r}: {source} does not exist (not produced, or the task "
                "does not depend on its producer)"
            )
        shutil.copyfile(produced.outputs[output], dest)


def _run_container(
    run: TaskRun,
    template: dict[str, Any],
    values: dict[str, str],
    pod: Path,
    workspace: Path,
    python: str,
    environ: dict[str, str],
) -> None:
    container = template["container"]
    argv = [*container.get("command", []), *container.get("args", [])]
    argv = [_pod_text(_substitute(a, values, template["name"]), pod) for a in argv]
    if argv[:1] == ["python"]:
        argv[0] = python
    run.argv = argv
    proc = subprocess.run(
        argv, cwd=workspace, env=environ, capture_output=True, text=True, check=False
    )
    run.exit_code, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    run.phase = "Succeeded" if proc.returncode == 0 else "Failed"


def _container_env(
    run: TaskRun,
    template: dict[str, Any],
    values: dict[str, str],
    pod: Path,
    environ: dict[str, str],
    secrets: dict[tuple[str, str], str] | None,
) -> None:
    """Add the container's ``env`` to ``environ``: values substituted, Secrets looked up."""
    container = template.get("container")
    if container is None:
        raise RehearsalError(f"template {template['name']!r} is not a container template")
    for item in container.get("env", []):
        if "valueFrom" in item:
            ref = item["valueFrom"].get("secretKeyRef")
            if ref is None:
                raise RehearsalError(f"task {run.task!r}: env {item['name']!r}: unsupported source")
            found = (secrets or {}).get((ref["name"], ref["key"]))
            if found is None:
                raise RehearsalError(
                    f"task {run.task!r}: Secret {ref['name']!r} has no key {ref['key']!r} "
                    "(the pod would not start)"
                )
            environ[item["name"]] = found
            continue
        environ[item["name"]] = _pod_text(_substitute(item["value"], values, run.task), pod)


def _save_outputs(run: TaskRun, template: dict[str, Any], pod: Path, store: Path) -> None:
    store.mkdir(parents=True, exist_ok=True)
    for art in template.get("outputs", {}).get("artifacts", []):
        path = _pod_path(art["path"], pod)
        if not path.is_file():
            raise RehearsalError(
                f"task {run.task!r}: output artifact {art['name']!r} was not written at "
                f"{art['path']}\n--- stderr ---\n{run.stderr[-3000:]}"
            )
        saved = store / art["name"]
        shutil.copyfile(path, saved)
        run.outputs[art["name"]] = saved


# -- text -------------------------------------------------------------------------------------


def _substitute(text: str, values: dict[str, str], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise RehearsalError(f"{where}: {{{{{name}}}}} cannot be resolved")
        return values[name]

    return _TAG.sub(one, text)


def _pod_path(path: str, pod: Path) -> Path:
    if path != POD_ROOT and not path.startswith(POD_ROOT + "/"):
        raise RehearsalError(f"path {path!r} is outside {POD_ROOT}, which the rehearsal maps")
    return pod / path.lstrip("/")


def _pod_text(text: str, pod: Path) -> str:
    if text == POD_ROOT or text.startswith(POD_ROOT + "/"):
        return str(_pod_path(text, pod))
    return text


def evaluate_when(expression: str) -> bool:
    """An Argo ``when`` after substitution: literals compared and combined."""
    text = re.sub(r"&&", " and ", expression)
    text = re.sub(r"\|\|", " or ", text)
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    tree = ast.parse(text.strip(), mode="eval")
    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.Compare)
    allowed += (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Constant, ast.USub)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise RehearsalError(f"when {expression!r}: the rehearsal cannot evaluate it")
    return bool(eval(compile(tree, "<when>", "eval"), {"__builtins__": {}}))
