"""Helpers shared by the Dagster tests: a workflow that leaves a trace of every step it runs,
compiling it into a job module, importing that module, and reading what a Dagster run did."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from conftest import write

from axl.emit import load_bundle, write_output
from axl.emit.dagster import compile_dagster

_COUNTER = itertools.count()

#: Each step appends its name to marker.log beside the module: a line per run of its code, so
#: a test can tell a cache hit (no line) from a run. Exercises fan-in (a list and a dict with a
#: constant), several outputs, a path-mode input, auto and json handlers, params and prints.
FLOW = """
import os
from pathlib import Path

from axl import Workflow, step

MARKER = Path(__file__).with_name("marker.log")


def mark(name: str) -> None:
    with MARKER.open("a") as f:
        f.write(f"{name} {os.getpid()}\\n")


class Flow(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 4, "offset": 10}

    @step
    def make(self, n: int) -> list:
        mark("make")
        print(f"making {n} values")
        return list(range(n))

    @step(outputs=("evens", "odds"))
    def split(self, xs: list) -> tuple:
        mark("split")
        return [x for x in xs if x % 2 == 0], [x for x in xs if x % 2]

    @step(io_handler="json")
    def total(self, parts: list, offset: int) -> int:
        mark("total")
        return sum(sum(p) for p in parts) + offset

    @step(io_handler="json", input_mode={"raw": "path"})
    def report(self, sums: dict, raw: Path) -> dict:
        mark("report")
        return {"sums": sums, "raw_bytes": Path(raw).stat().st_size}

    def graph(self):
        p = self.params()
        xs = self.make(p["n"])
        evens, odds = self.split(xs)
        total = self.total([evens, odds], p["offset"])
        return self.report({"total": total, "first": 1}, xs)


class Broken(Flow):
    @step(retries=1)
    def boom(self, xs: list) -> list:
        mark("boom")
        raise ValueError(f"boom after {len(xs)} values")

    def graph(self):
        p = self.params()
        return self.total([self.boom(self.make(p["n"]))], p["offset"])


class Volatile(Flow):
    @step(cache=False)
    def make(self, n: int) -> list:
        mark("make")
        return list(range(n))
"""

FLOW_STEPS = ["make", "split", "total", "report"]

#: Names Dagster or Python cannot take as they are: a step named like a builtin, an argument
#: named like an op parameter, node names with '-' and spaces, params keys that cannot be config
#: fields, values that need ``Any``, quotes and newlines in strings, a ``when`` condition.
ODD = """
from axl import Workflow, step


class Odd(Workflow):
    @step
    def params(self) -> dict:
        return {
            "a b": 1,
            "class": 2,
            "json": 3,
            "ints": [1, 2],
            "mixed": [1, "x"],
            "nested": {"k": None},
            "flag": True,
            "text": 'say "hi"\\n',
        }

    @step(io_handler="json")
    def sum(self, context: int, config: list, axl: dict) -> int:
        return context + len(config) + len(axl)

    @step(io_handler="json", when="{{inputs.parameters.flag}} == true")
    def echo(self, value: int, texts: dict) -> list:
        return [value, texts]

    def graph(self):
        p = self.params()
        first = self.sum(p["class"], p["mixed"], p["nested"])
        second = self.sum(p["a b"], p["ints"], {"x": first}, name="sum-again")
        return self.echo(second, {"t": p["text"], "9": first, "if": p["json"]}, name="lambda")
"""


def write_workspace(root: Path, module: str = "dagster_flow") -> Path:
    """A workspace holding :data:`FLOW` as ``<module>.py``; returns the module's path."""
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    return write(root / f"{module}.py", FLOW)


def compile_job(root: Path, spec: str, out: Path, params: Path | None = None) -> Path:
    """``axl compile --target dagster`` in-process: the job module of ``spec`` at ``out``."""
    bundle = load_bundle(spec, workspace=root, params_file=params)
    write_output(out, compile_dagster(bundle).text)
    return out


def import_job(path: Path) -> ModuleType:
    """Import a generated module under a fresh name (Python caches modules by name)."""
    name = f"dagster_job_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def marks(root: Path) -> list[tuple[str, int]]:
    """``(step, process id)`` of every run of a step's code so far."""
    path = root / "marker.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(name, int(pid)) for name, pid in (line.split() for line in lines)]


def run_config(cache: Path, **resource: Any) -> dict[str, Any]:
    """Run config pointing the ``axl`` resource at a cache folder (and any other fields)."""
    return {"resources": {"axl": {"config": {"cache_dir": str(cache), **resource}}}}


def outputs_of(events: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """``(axl step, output) -> metadata`` of every STEP_OUTPUT event (values unwrapped)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        if event.event_type_value != "STEP_OUTPUT":
            continue
        metadata = {
            k: getattr(v, "value", v) for k, v in event.event_specific_data.metadata.items()
        }
        found[(metadata["axl step"], metadata["axl output"])] = metadata
    return found


def digests_of(outputs: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {ref: meta["digest"] for ref, meta in outputs.items()}


def report_digests(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``(step, output) -> digest`` of an ``axl run local --json`` report."""
    return {
        (step, out): rec["digest"]
        for step, data in report["steps"].items()
        for out, rec in data["outputs"].items()
    }


def report_keys(report: dict[str, Any]) -> dict[str, str]:
    return {step: data["key"] for step, data in report["steps"].items()}
