"""Helpers shared by the runner tests (tests/test_runtime_*.py): a small workflow, manifest
emission in-process, and running ``python -m axl.runtime`` for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl._loader import load_workflow, split_spec
from axl._params import load_params
from axl.exec._session import live_code
from axl.graph import environment_part
from axl.ir import IRWorkflow, build_ir
from axl.runtime._manifest import emit_manifest, manifest_json, project_sources

#: A workflow exercising object and path modes, pickle round trips, constants, fan-in, several
#: outputs, an auto-detected handler, prints on stdout and stderr, and a step that raises.
FLOW = '''
import sys
from pathlib import Path

from axl import Workflow, step


class Point:
    """A user class: its pickle must round-trip through the runner."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)


class Flow(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 4, "offset": 10}

    @step
    def make(self, n: int) -> dict:
        print(f"making {n} values")
        print("a note on stderr", file=sys.stderr)
        return {"values": list(range(n)), "pair": (1, "a"), "point": Point(n, -n)}

    @step(outputs=("evens", "odds"))
    def split(self, data: dict) -> tuple:
        values = data["values"]
        return [v for v in values if v % 2 == 0], [v for v in values if v % 2]

    @step(input_mode={"data": "path"}, io_handler="json")
    def size(self, data: Path) -> dict:
        return {"bytes": Path(data).stat().st_size, "suffix": Path(data).suffix}

    @step
    def check(self, data: dict) -> bool:
        assert data["point"] == Point(len(data["values"]), -len(data["values"]))
        assert data["pair"] == (1, "a")
        return True

    @step(io_handler="auto")
    def total(self, parts: list, offset: int, ok: bool) -> dict:
        return {"total": sum(sum(p) for p in parts) + offset, "ok": ok}

    def graph(self):
        p = self.params()
        data = self.make(p["n"])
        evens, odds = self.split(data)
        return self.size(data), self.total([evens, odds], p["offset"], self.check(data))


class Broken(Flow):
    @step
    def boom(self, data: dict) -> int:
        print("about to fail")
        raise ValueError("boom: the data is bad")

    def graph(self):
        return self.boom(self.make(self.params()["n"]))
'''


#: Module names the runner tests load from throwaway workspaces (each test has its own).
TEST_MODULES = ("flow", "odd", "extra", "tiny", "fanout", "churn_workflow")


def forget_modules() -> None:
    """Drop the test workflows' modules, so the next load reads the current workspace's files."""
    for name in TEST_MODULES:
        sys.modules.pop(name, None)


def write_flow(root: Path, name: str = "flow.py") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(FLOW).lstrip())
    return path


def load(spec: str, root: Path, params: Path | None = None) -> tuple[type[Any], IRWorkflow]:
    """Load a workflow fresh (tests reuse module names across workspaces)."""
    target, _ = split_spec(spec)
    module = target[:-3].replace("/", ".") if target.endswith(".py") else target
    sys.modules.pop(module, None)
    cls = load_workflow(spec, root)
    overrides = load_params(params) if params is not None else None
    return cls, build_ir(cls, overrides, params)


def emit(spec: str, root: Path, params: Path | None = None) -> tuple[dict[str, Any], IRWorkflow]:
    """The whole-workflow manifest, as an emitter would make it."""
    cls, ir = load(spec, root, params)
    code, _ = live_code(cls, root)
    manifest = emit_manifest(
        ir,
        code=code,
        environment=environment_part(ir, root),
        sources=project_sources(root),
    )
    return manifest, ir


def save(path: Path, manifest: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest_json(manifest))
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str
    logs: list[dict[str, Any]] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.logs if line["event"] == name]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [line for line in self.logs if line["level"] == "error"]


def runner(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m axl.runtime`` for real; every stderr line must be a JSON object."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl.runtime", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )
    logs = []
    for line in proc.stderr.splitlines():
        record = json.loads(line)  # fails the test when a line is not JSON
        assert isinstance(record, dict)
        assert {"time", "level", "workflow", "step", "event"} <= set(record), record
        logs.append(record)
    return Run(proc.returncode, proc.stdout, proc.stderr, logs)


def topological(ir: IRWorkflow) -> list[str]:
    return ir.topological_order()
