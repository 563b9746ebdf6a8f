"""Rehearse an emitted KFP pipeline spec without Docker: what a KFP backend does, in folders.

For each task in dependency order: resolve its executor's placeholders (input artifacts are the
producers' output files, outputs go to ``<root>/<task>/<key>`` whose folder is NOT created, as
under ``kfp.local``), run its command (``python -m axl.runtime.kfp``) in the workspace, and read
its executor output. The real thing (``kfp.local`` with Docker) is in ``test_kfp_local.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TAG = re.compile(r"{{\$\.(inputs|outputs)\.(artifacts|parameters)\['([^']+)'\](?:\.(path|uri))?}}")


@dataclass
class Rehearsal:
    """What each task did."""

    codes: dict[str, int] = field(default_factory=dict)
    #: task -> output key -> the artifact's file.
    outputs: dict[str, dict[str, Path]] = field(default_factory=dict)
    #: task -> its executor output (as written by the runner), if any.
    executor_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)


def rehearse(
    spec: dict[str, Any], root: Path, cwd: Path, arguments: dict[str, str] | None = None
) -> Rehearsal:
    """Run every task of ``spec`` (until one fails) under ``root``, in workspace ``cwd``."""
    done = Rehearsal()
    tasks = spec["root"]["dag"]["tasks"]
    defaults = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    params = {k: _text(v["defaultValue"]) for k, v in defaults.items()} | (arguments or {})
    for name in _order(tasks):
        task = tasks[name]
        component = spec["components"][task["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        inputs = {
            key: done.outputs[a["taskOutputArtifact"]["producerTask"]][
                a["taskOutputArtifact"]["outputArtifactKey"]
            ]
            for key, a in task.get("inputs", {}).get("artifacts", {}).items()
        }
        given = {
            key: params[p["componentInputParameter"]]
            for key, p in task.get("inputs", {}).get("parameters", {}).items()
        }
        keys = component["outputDefinitions"]["artifacts"]
        done.outputs[name] = {key: root / name / key for key in keys}
        output_file = root / name / "executor_output.json"

        def resolve(match: re.Match[str], name: str = name) -> str:
            side, kind, key, _ = match.groups()
            if side == "inputs":
                return given[key] if kind == "parameters" else str(inputs[key])
            return str(done.outputs[name][key])

        argv = [
            _TAG.sub(resolve, a).replace("{{$.outputs.output_file}}", str(output_file))
            for a in container["command"] + container["args"]
        ]
        argv[0] = sys.executable if argv[0] == "python" else argv[0]
        env_vars = {e["name"]: e["value"] for e in container.get("env", [])}
        proc = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, check=False, env=_env(env_vars)
        )
        done.codes[name] = proc.returncode
        done.logs[name] = proc.stdout + proc.stderr
        if output_file.is_file():
            done.executor_outputs[name] = json.loads(output_file.read_text())
        if proc.returncode != 0:
            break
    return done


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def _text(value: Any) -> str:
    """How KFP renders a parameter's value in a placeholder: strings as they are, else JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _order(tasks: dict[str, Any]) -> list[str]:
    order: list[str] = []
    while len(order) < len(tasks):
        for name, task in tasks.items():
            if name not in order and all(d in order for d in task.get("dependentTasks", [])):
                order.append(name)
    return order
