"""Undeclared inputs (#26): what a step reads that its key does not cover, through the real CLI.

Every build is a fresh ``axl`` process on a throwaway workspace; the runner tests run
``python -m axl.runtime`` for real and read its JSON log lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import Result, axl, write
from runtime_helpers import emit, forget_modules, runner, save

from axl.runtime import _audit

WF = """
import os
from pathlib import Path

import axl


class Flow(axl.Workflow):
    @axl.step
    def raw(self) -> int:
        with open("data/raw.csv") as f:
            return len(f.read())

    @axl.step
    def size(self, n: int) -> int:
        return n + int(os.environ.get("MODEL_SIZE", "0"))

    @axl.step(env={"DECLARED": "1"})
    def keyed(self, n: int) -> int:
        return n + int(os.environ["DECLARED"])

    @axl.step
    def lazy(self, n: int) -> int:
        import pandas  # imported inside the step: its files are the environment's, not data

        import helpers  # a workspace module imported lazily: its source is code, not data

        return n + len(pandas.__name__) + helpers.ONE

    @axl.step(io_handler="text")
    def table(self, n: int) -> str:
        return f"a,b\\n{n},2\\n"

    @axl.step(input_mode="path")
    def declared(self, csv: Path) -> int:
        # A path-mode input: the file axl hands the step is declared (its digest is in the key).
        return len(Path(csv).read_text())

    @axl.step
    def declared_file(self, csv: str, folder: str) -> int:
        # Declared with File/Dir (#16): the snapshot, the folder, and the original path are keyed.
        with open(csv) as f:
            size = len(f.read())
        with open("data/raw.csv") as f:
            size += len(f.read())
        return size + len(os.listdir(folder))

    @axl.step
    def scratch(self, n: int) -> int:
        # A file the step writes and reads back is its own, not an input.
        Path("tmp-scratch.txt").write_text(str(n))
        value = int(Path("tmp-scratch.txt").read_text())
        os.remove("tmp-scratch.txt")
        os.environ["SET_HERE"] = "x"
        return value + len(os.environ["SET_HERE"])

    @axl.step
    def ignored(self, n: int) -> int:
        return n + len(Path("cfg/settings.txt").read_text())

    def graph(self):
        n = self.raw()
        return (
            self.size(n),
            self.keyed(n),
            self.lazy(n),
            self.declared(self.table(n)),
            self.declared_file(axl.File("data/raw.csv"), axl.Dir("data")),
            self.scratch(n),
            self.ignored(n),
        )
"""

QUIET = ("keyed", "lazy", "table", "declared", "declared_file", "scratch", "ignored")


@pytest.fixture
def flow(workspace: Path) -> Path:
    write(workspace / "flow.py", WF)
    write(workspace / "helpers.py", "ONE = 1\n")
    write(workspace / "data" / "raw.csv", "a,b\n1,2\n")
    write(workspace / "cfg" / "settings.txt", "fast\n")
    with (workspace / "pyproject.toml").open("a") as f:
        f.write('\n[tool.axl]\nignore_reads = ["cfg"]\n')
    return workspace


def _warnings(result: Result) -> dict[str, str]:
    found = {}
    for line in result.err.splitlines():
        if line.startswith("warning: step `"):
            found[line.split("`")[1]] = line
    return found


def _status(result: Result) -> dict[str, str]:
    return {name: s["status"] for name, s in json.loads(result.out)["steps"].items()}


@pytest.mark.parametrize("mode", [[], ["--in-process"], ["--subprocess"]])
def test_undeclared_reads_warn_and_the_warning_survives_a_cached_rebuild(
    flow: Path, mode: list[str]
) -> None:
    first = axl("run", "local", "-m", "flow:Flow", "--json", *mode, cwd=flow)
    assert first.code == 0, first.err
    warned = _warnings(first)
    assert set(warned) == {"raw", "size"}, first.err
    assert "read data/raw.csv, which are not part of its key" in warned["raw"]
    assert "cache=False" in warned["raw"]
    assert "read $MODEL_SIZE," in warned["size"]
    steps = json.loads(first.out)["steps"]
    assert steps["raw"]["undeclared"] == ["data/raw.csv"]
    assert all("undeclared" not in steps[name] for name in QUIET)

    again = axl("run", "local", "-m", "flow:Flow", "--json", *mode, cwd=flow)
    assert again.code == 0, again.err
    assert set(_status(again).values()) == {"cached"}
    assert _warnings(again) == warned  # repeated from the records: it does not vanish

    explained = axl("explain", "-m", "flow:Flow", "raw", cwd=flow)
    assert explained.code == 0, explained.err
    assert warned["raw"] in explained.out
    assert "warning:" not in axl("explain", "-m", "flow:Flow", "lazy", cwd=flow).out
    shown = axl("show", "last", "--workflow", "Flow", cwd=flow)
    assert warned["raw"] in shown.out
    assert warned["size"] in shown.out


def test_strict_fails_the_step_and_caches_nothing(flow: Path) -> None:
    strict = axl("run", "local", "-m", "flow:Flow", "--strict", "--keep-going", "--json", cwd=flow)
    assert strict.code == 1
    steps = json.loads(strict.out)["steps"]
    assert steps["raw"]["status"] == "failed"
    assert steps["raw"]["error"].startswith("strict inputs: step `raw` read data/raw.csv")
    assert steps["raw"]["outputs"] == {}
    assert steps["ignored"]["status"] == "skipped"  # downstream of raw
    # Nothing was cached: without --strict, raw runs now (and only then warns).
    loose = axl("run", "local", "-m", "flow:Flow", "--json", cwd=flow)
    assert loose.code == 0, loose.err
    assert _status(loose)["raw"] == "ran"
    # A stored result that read undeclared inputs is refused by a strict build too.
    cached = axl("run", "local", "-m", "flow:Flow", "--strict", "--json", cwd=flow)
    assert cached.code == 1
    assert "(recorded when it ran)" in json.loads(cached.out)["steps"]["raw"]["error"]


def test_strict_inputs_per_step_and_per_workflow(flow: Path) -> None:
    text = (flow / "flow.py").read_text()
    (flow / "flow.py").write_text(
        text.replace(
            "    @axl.step\n    def size", "    @axl.step(strict_inputs=True)\n    def size"
        )
    )
    per_step = axl("run", "local", "-m", "flow:Flow", "--keep-going", "--json", cwd=flow)
    assert _status(per_step)["size"] == "failed"
    assert _status(per_step)["raw"] == "ran"  # warned only
    (flow / "flow.py").write_text(
        text.replace(
            "class Flow(axl.Workflow):", "class Flow(axl.Workflow):\n    strict_inputs = True"
        )
    )
    whole = axl("run", "local", "-m", "flow:Flow", "--keep-going", "--json", cwd=flow)
    assert _status(whole)["raw"] == "failed"


def test_strict_is_not_part_of_the_key(flow: Path) -> None:
    """A strict build reuses what a plain build of a clean step stored."""
    pyproject = flow / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('["cfg"]', '["cfg", "data/raw.csv"]'))
    plain = axl("run", "local", "-m", "flow:Flow", "--json", cwd=flow)
    keys = {n: s["key"] for n, s in json.loads(plain.out)["steps"].items()}
    strict = axl("run", "local", "-m", "flow:Flow", "--strict", "--keep-going", "--json", cwd=flow)
    steps = json.loads(strict.out)["steps"]
    assert steps["size"]["status"] == "failed"  # $MODEL_SIZE is still undeclared
    for name in ("raw", *QUIET):
        assert steps[name]["status"] == "cached", name
        assert steps[name]["key"] == keys[name]


def test_the_runner_logs_an_undeclared_event(flow: Path) -> None:
    forget_modules()
    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    store = flow / "store"
    run = runner("--manifest", path, "--step", "raw", "--store", store, "--run-id", "r1", cwd=flow)
    assert run.code == 0, run.err
    (event,) = run.events("undeclared")
    assert event["level"] == "warning"
    assert event["reads"] == ["data/raw.csv"]
    assert event["message"].startswith("step `raw` read data/raw.csv")
    record = json.loads((store / "runs" / "r1" / "raw.json").read_text())
    assert record["undeclared"] == ["data/raw.csv"]
    # Cached: the event comes again, from the action record.
    hit = runner("--manifest", path, "--step", "raw", "--store", store, "--run-id", "r2", cwd=flow)
    assert hit.code == 0, hit.err
    assert hit.events("cached")
    assert hit.events("undeclared")
    # Strict in the manifest (as --strict or strict_inputs=True put it): exit 1, nothing stored.
    manifest["steps"]["raw"]["strict_inputs"] = True
    strict_path = save(flow / "strict.json", manifest)
    failed = runner(
        "--manifest",
        strict_path,
        "--step",
        "raw",
        "--store",
        flow / "s2",
        "--run-id",
        "r3",
        cwd=flow,
    )
    assert failed.code == 1
    assert "strict inputs" in failed.events("failed")[0]["message"]
    assert not list((flow / "s2").glob("ac/**/*.json"))


def test_the_hook_records_nothing_outside_a_step(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("x")
    with _audit.watch() as inside:
        target.read_text()
        os.listdir(tmp_path)
        os.environ.get("AXL_AUDIT_TEST_VAR")
    target.read_text()
    os.environ.get("AXL_AUDIT_TEST_VAR_AFTER")
    assert list(inside.read) == [str(target)]
    assert list(inside.listed) == [str(tmp_path)]
    assert list(inside.env) == ["AXL_AUDIT_TEST_VAR"]
    assert type(os.environ).__name__ == "_Environ"
    policy = _audit.Policy(workspace=str(tmp_path))
    assert _audit.undeclared(inside, policy) == ["x.txt", "./"]


def test_ignore_reads_must_be_a_list(flow: Path) -> None:
    pyproject = flow / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('["cfg"]', '"cfg"'))
    result = axl("run", "local", "-m", "flow:Flow", cwd=flow)
    assert result.code == 2
    assert "error: " in result.err
    assert "ignore_reads must be a list" in result.err
    assert "hint: " in result.err
    assert "Traceback" not in result.err


def test_strict_inputs_is_in_the_ir_only_when_set_and_never_in_the_key() -> None:
    from axl import Workflow, step
    from axl.graph._keys import options_part
    from axl.ir import build_ir, from_dict, to_dict

    class Plain(Workflow):
        @step
        def a(self) -> int:
            return 1

        @step(strict_inputs=False)
        def b(self, x: int) -> int:
            return x

        def graph(self):  # type: ignore[no-untyped-def]
            return self.b(self.a())

    class Strict(Plain):
        strict_inputs = True

    plain, strict = build_ir(Plain), build_ir(Strict)
    assert [n.strict_inputs for n in plain.nodes] == [False, False]
    assert [n.strict_inputs for n in strict.nodes] == [True, False]  # the step's own wins
    assert all("strict_inputs" not in n for n in to_dict(plain)["nodes"])
    assert from_dict(to_dict(strict)) == strict
    assert options_part(strict.nodes[0]) == options_part(plain.nodes[0])
