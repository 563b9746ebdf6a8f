"""Workflows and loaders shared by the Argo tests."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import REPO, write

from axl.emit import WorkflowBundle, load_bundle

_COUNTER = itertools.count()

#: Every step option the emitter translates, and a `when` that a params value decides.
OPTIONS_WORKFLOW = """
from axl import Workflow, step


class Opts(Workflow):
    @step
    def params(self) -> dict:
        return {"rows": 4, "mode": "fast", "use_gpu": False}

    @step(
        resources={"cpu": "2", "memory": "1Gi", "gpu": "1"},
        retries=3,
        env={"OMP_NUM_THREADS": "1"},
        io_handler="json",
    )
    def load_data(self, rows: int) -> list:
        return list(range(rows))

    @step(when="{{workflow.parameters.use_gpu}} == true", io_handler="json")
    def fit_model(self, data: list, mode: str) -> dict:
        return {"mode": mode, "n": len(data)}

    @step(io_handler="json")
    def report(self, fit: dict) -> str:
        return f"{fit['mode']}:{fit['n']}"

    def graph(self):
        p = self.params()
        data = self.load_data(p["rows"])
        return self.report(self.fit_model(data, p["mode"]))
"""


def bundle_from(root: Path, source: str, cls: str, params: Path | None = None) -> WorkflowBundle:
    """Write ``source`` as a fresh module of the workspace ``root`` and load its ``cls``.

    Each call gets its own module name: Python caches modules by name for the whole session.
    """
    name = f"argo_wf_{next(_COUNTER)}"
    write(root / f"{name}.py", source)
    return load_bundle(f"{root / name}.py:{cls}", workspace=root, params_file=params)


def example_bundle(spec: str, params: str | None = None) -> WorkflowBundle:
    """An example of the repository (``examples/tiny.py:Tiny``)."""
    return load_bundle(
        str(REPO / spec.partition(":")[0]) + ":" + spec.partition(":")[2],
        workspace=REPO,
        params_file=REPO / params if params else None,
    )


def template(document: dict[str, Any], name: str) -> dict[str, Any]:
    """The template called ``name``."""
    found = [t for t in document["spec"]["templates"] if t["name"] == name]
    assert len(found) == 1, name
    return found[0]


def task(document: dict[str, Any], name: str) -> dict[str, Any]:
    """The DAG task called ``name``."""
    dag = template(document, document["spec"]["entrypoint"])["dag"]
    found = [t for t in dag["tasks"] if t["name"] == name]
    assert len(found) == 1, name
    return found[0]


def manifest_of(tmpl: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """The IO manifest the params template carries inline, its input parameters substituted."""
    art = next(a for a in tmpl["inputs"]["artifacts"] if a["name"] == "axl-manifest")
    text = art["raw"]["data"]
    for name, value in parameters.items():
        text = text.replace("{{inputs.parameters." + name + "}}", value)
    assert not re.search(r"{{.*}}", text), "unsubstituted parameters left"
    data: dict[str, Any] = json.loads(text)
    return data


def workflow_manifest(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The workflow's manifest, as the runner reads it from its ConfigMap (expanded)."""
    from axl.runtime._manifest_shared import expand

    (configmap,) = [o for o in objects if o["kind"] == "ConfigMap"]
    data: dict[str, Any] = json.loads(configmap["data"]["manifest.json"])
    return expand(data, "manifest")


def local_run(
    args: list[str], cache: Path, cwd: Path = REPO, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Step -> its report, from ``axl run local --json`` in a fresh cache."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "run", "local", *args, "--json", "--cache-dir", str(cache)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    steps: dict[str, Any] = json.loads(proc.stdout)["steps"]
    return steps
