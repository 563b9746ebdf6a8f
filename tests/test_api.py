"""``axl.build()`` and ``axl.results()``: the engine from Python, on the CLI's cache.

Builds run for real (workers, cache, run records); the command line runs in fresh processes.
Each test writes its workflow under a module name of its own: the API imports it into this
process, and two tests must not see each other's module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from itertools import count
from pathlib import Path

import pytest
from conftest import axl as axl_cli
from conftest import write

import axl
from axl.errors import UsageError

_SEQ = count()

WF = """
from axl import Workflow, step


def bump(x):
    return x + 1


class {cls}(Workflow):
    @step
    def params(self) -> dict:
        return {{"n": 3}}

    @step
    def make(self, n: int) -> list:
        return list(range(n))

    @step
    def total(self, xs: list) -> int:
        return bump(sum(xs))

    @step(outputs=("low", "high"))
    def split(self, xs: list) -> tuple:
        return xs[:1], xs[1:]

    def graph(self):
        xs = self.make(self.params()["n"])
        return self.total(xs), self.split(xs)
"""


def _module(root: Path, body: str = WF, cls: str = "Flow") -> tuple[str, str]:
    """Write ``body`` as a new module; its file spec and its module name."""
    name = f"apiwf{next(_SEQ)}_{os.getpid()}"
    write(root / f"{name}.py", body.format(cls=cls))
    return f"{name}.py:{cls}", name


def _flow(root: Path, name: str) -> type[axl.Workflow]:
    """The class ``Flow`` of module ``name``, imported as a user would."""
    import importlib

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    cls = importlib.import_module(name).Flow
    assert isinstance(cls, type)
    assert issubclass(cls, axl.Workflow)
    return cls


def _statuses(report: dict[str, object]) -> dict[str, str]:
    steps = report["steps"]
    assert isinstance(steps, dict)
    return {name: step["status"] for name, step in steps.items()}


def _cli_json(*args: str) -> dict[str, object]:
    res = axl_cli(*args, "--json")
    assert res.code == 0, res.err + res.out
    data = json.loads(res.out)
    assert isinstance(data, dict)
    return data


def test_cli_then_api_hits_the_cli_cache(workspace: Path) -> None:
    spec, name = _module(workspace)
    first = _cli_json("run", "local", "-m", spec)
    assert set(_statuses(first).values()) == {"ran"}

    by_spec = axl.build(spec)
    assert {s.status for s in by_spec.steps.values()} == {"cached"}
    cls = _flow(workspace, name)
    by_class = axl.build(cls, jobs=2)
    assert {s.status for s in by_class.steps.values()} == {"cached"}
    steps = first["steps"]
    assert isinstance(steps, dict)
    for step in by_class.steps.values():
        assert step.key == steps[step.name]["key"]
        assert step.source == "local"
    assert by_class["total"] == 4
    assert by_class.output("split", "high") == [1, 2]
    assert by_class["split"] == ([0], [1, 2])  # several outputs: a tuple in declared order
    assert by_class["params"] == {"n": 3}  # the params step: all its values


def test_api_then_cli_and_label_hit_the_api_cache(workspace: Path) -> None:
    spec, name = _module(workspace)
    write(workspace / "BUILD", f'axl_workflow(name = "flow", workflow = "{spec}")\n')
    cls = _flow(workspace, name)
    built = axl.build(cls)
    assert built.ok
    assert built.status == "ok"
    assert {s.status for s in built.steps.values()} == {"ran"}
    assert all(s.seconds >= 0 and s.key for s in built.steps.values())

    assert set(_statuses(_cli_json("run", "local", "-m", spec)).values()) == {"cached"}
    assert set(_statuses(_cli_json("build", "//:flow")).values()) == {"cached"}
    by_label = axl.build("//:flow")
    assert {s.status for s in by_label.steps.values()} == {"cached"}
    assert by_label["total"] == 4


def test_options_params_and_rerun(workspace: Path) -> None:
    spec, name = _module(workspace)
    cls = _flow(workspace, name)
    assert axl.build(cls, params={"n": 5}, in_process=True)["total"] == 11
    write(workspace / "p.yaml", "n: 5\n")
    from_file = axl.build(spec, params="p.yaml")
    assert {s.status for s in from_file.steps.values()} == {"cached"}
    again = axl.build(cls, params=workspace / "p.yaml", rerun="total")
    assert again.steps["total"].status == "ran"
    assert again.steps["total"].reason == "--rerun total was given"
    assert again.steps["make"].status == "cached"
    cache = workspace / "elsewhere"
    fresh = axl.build(cls, cache_dir=cache, no_cache=False)
    assert {s.status for s in fresh.steps.values()} == {"ran"}
    assert (cache / "runs" / "Flow" / f"{fresh.run_id}.json").is_file()
    with pytest.raises(UsageError, match="no step 'totl'"):
        fresh["totl"]
    with pytest.raises(UsageError, match="has several outputs: low, high"):
        fresh.output("split")
    with pytest.raises(Exception, match="parameter 'm' is not defined"):
        axl.build(cls, params={"m": 1})


FAILING = """
from axl import Workflow, step


class {cls}(Workflow):
    @step
    def good(self) -> int:
        return 1

    @step
    def bad(self, x: int) -> int:
        raise ValueError(f"boom {{x}}")

    @step
    def after(self, y: int) -> int:
        return y

    @step
    def other(self, x: int) -> int:
        return x * 10

    def graph(self):
        g = self.good()
        return self.after(self.bad(g)), self.other(g)
"""


def test_a_failing_step_raises_one_exception_with_its_report(workspace: Path) -> None:
    _, name = _module(workspace, FAILING)
    cls = _flow(workspace, name)
    with pytest.raises(axl.BuildFailed) as caught:
        axl.build(cls, keep_going=True, in_process=True)
    exc = caught.value
    assert exc.step is not None
    assert exc.step.name == "bad"
    assert exc.step.status == "failed"
    assert "ValueError: boom 1" in (exc.step.error or "")
    assert 'raise ValueError(f"boom {x}")' in (exc.step.traceback or "")
    assert "step 'bad' failed" in str(exc)
    assert 'raise ValueError(f"boom {x}")' in str(exc)
    assert exc.result.steps["after"].status == "skipped"
    assert exc.result["other"] == 10  # what succeeded stays readable
    assert isinstance(exc, axl.BuildFailed)
    assert exc.exit_code == 1

    result = axl.build(cls, raise_on_failure=False, in_process=True)
    assert not result.ok
    assert result.status == "failed"
    assert [s.name for s in result.failures()] == ["bad"]
    assert result.steps["good"].status == "cached"
    with pytest.raises(UsageError, match="step 'bad' of 'Flow' has no outputs: it failed"):
        result["bad"]


HANDLERS = """
import numpy as np
import pandas as pd
import pyarrow as pa

from axl import Workflow, step


class {cls}(Workflow):
    @step(io_handler="json")
    def as_json(self) -> dict:
        return {{"a": [1, 2]}}

    @step(io_handler="pickle")
    def as_pickle(self) -> set:
        return {{1, 2, 3}}

    @step(io_handler="parquet")
    def as_parquet(self) -> pd.DataFrame:
        return pd.DataFrame({{"x": [1, 2, 3]}})

    @step(io_handler="arrow")
    def as_arrow(self) -> pa.Table:
        return pa.table({{"y": ["a", "b"]}})

    @step(io_handler="npy")
    def as_npy(self) -> np.ndarray:
        return np.arange(4)

    @step(io_handler="text")
    def as_text(self) -> str:
        return "héllo"

    def graph(self):
        return (self.as_json(), self.as_pickle(), self.as_parquet(), self.as_arrow(),
                self.as_npy(), self.as_text())
"""

READ_BACK = """
import sys
import axl

r = axl.results("Handlers")
assert not any(m in sys.modules for m in ("numpy", "pandas", "pyarrow")), "loaded eagerly"
assert r["as_json"] == {"a": [1, 2]}
assert r["as_pickle"] == {1, 2, 3}
assert r["as_text"] == "héllo"
assert not any(m in sys.modules for m in ("numpy", "pandas", "pyarrow")), "loaded eagerly"
assert r["as_npy"].tolist() == [0, 1, 2, 3]
assert "numpy" in sys.modules and "pyarrow" not in sys.modules
assert r["as_arrow"].column("y").to_pylist() == ["a", "b"]
assert r["as_parquet"]["x"].tolist() == [1, 2, 3]
assert r["as_json"] is r["as_json"]  # read once
print(sorted(k for k in sys.modules if k.startswith("apiwf")))
"""


def test_outputs_load_lazily_by_their_handler(workspace: Path) -> None:
    spec, _ = _module(workspace, HANDLERS, cls="Handlers")
    built = _cli_json("run", "local", "-m", spec)
    assert set(_statuses(built).values()) == {"ran"}
    handlers = {
        name: next(iter(step["outputs"].values()))["handler"]  # type: ignore[index]
        for name, step in built["steps"].items()  # type: ignore[union-attr]
    }
    assert handlers == {
        "as_json": "json",
        "as_pickle": "pickle",
        "as_parquet": "parquet",
        "as_arrow": "arrow",
        "as_npy": "npy",
        "as_text": "text",
    }
    proc = subprocess.run(
        [sys.executable, "-c", READ_BACK], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"  # the workflow's module was never imported

    # Each output is read when asked for: a blob gone from the cache fails only its own read.
    result = axl.results("Handlers")
    result.path("as_text").unlink()
    assert result["as_json"] == {"a": [1, 2]}
    with pytest.raises(UsageError, match="output of step 'as_text' .* is no longer in the cache"):
        result["as_text"]


MARKED = """
import os
from pathlib import Path

from axl import Workflow, step

with open(os.environ["AXL_TEST_MARKER"], "a") as marker:
    marker.write("imported\\n")


class {cls}(Workflow):
    @step
    def make(self) -> list:
        return [1, 2, 3]

    @step
    def total(self, xs: list) -> int:
        return sum(xs)

    def graph(self):
        return self.total(self.make())
"""


def test_last_build_reads_without_importing_the_workflow(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = workspace / "marker.txt"
    monkeypatch.setenv("AXL_TEST_MARKER", str(marker))
    spec, name = _module(workspace, MARKED, cls="Marked")
    first = _cli_json("run", "local", "-m", spec)
    _cli_json("run", "local", "-m", spec, "--rerun", "total")
    assert marker.read_text().count("imported") == 2
    read = (
        "import sys, axl\n"
        "r = axl.results('Marked')\n"
        f"print(r['total'], r.run_id, r.steps['total'].status, {name!r} in sys.modules)\n"
        f"old = axl.results('Marked', run={first['run']!r})\n"
        "print(old.run_id, old.steps['total'].status, old['total'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", read], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    last, old = proc.stdout.splitlines()
    assert last.split()[0] == "6"
    assert last.split()[2:] == ["ran", "False"]
    assert last.split()[1] != first["run"]
    assert old.split() == [str(first["run"]), "ran", "6"]
    assert marker.read_text().count("imported") == 2  # the marker proves nothing was imported
    with pytest.raises(UsageError, match="no runs of workflow 'Nope'"):
        axl.results("Nope")


SCRIPT = """
import axl
from axl import Workflow, step


class Scripted(Workflow):
    @step
    def make(self) -> list:
        return [1, 2, 3]

    @step
    def total(self, xs: list) -> int:
        return sum(xs)

    def graph(self):
        return self.total(self.make())


if __name__ == "__main__":
    result = axl.build(Scripted)
    print("total", result["total"], result.steps["total"].status)
"""


def test_a_script_builds_with_python_file_py(workspace: Path) -> None:
    write(workspace / "script.py", SCRIPT)
    run = [sys.executable, "script.py"]
    proc = subprocess.run(run, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "total 6 ran"
    proc = subprocess.run(run, capture_output=True, text=True, check=False)
    assert proc.stdout.splitlines()[-1] == "total 6 cached"
    # Steps defined in a script's __main__ have the keys the CLI gives the same file.
    assert set(_statuses(_cli_json("run", "local", "-m", "script.py:Scripted")).values()) == {
        "cached"
    }


def test_progress_prints_plain_lines_when_asked(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, name = _module(workspace)
    cls = _flow(workspace, name)
    axl.build(cls, progress=True, in_process=True)
    out = capsys.readouterr().out
    assert "  running  make" in out
    assert "  ran      total" in out
    assert out.splitlines()[-1].startswith("Flow: ok in ")
    axl.build(cls)  # not a terminal, not a notebook: quiet by default
    assert capsys.readouterr().out == ""


def test_import_axl_stays_light() -> None:
    code = textwrap.dedent(
        """
        import sys
        import axl
        heavy = [m for m in ("axl.exec", "axl.graph", "axl.cache", "axl.io", "rich", "yaml")
                 if m in sys.modules]
        print(heavy)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_mypy_sees_the_result_types(tmp_path: Path) -> None:
    from conftest import REPO
    from test_typing import _NOTE, _marked

    source = REPO / "tests" / "typing" / "reveal_results.py"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", str(tmp_path), source],
        cwd=REPO,  # so that pyproject.toml's [tool.mypy] (strict) applies
        capture_output=True,
        text=True,
        check=False,
    )
    assert "error:" not in proc.stdout, proc.stdout
    revealed = {}
    for line in proc.stdout.replace("builtins.", "").splitlines():
        match = _NOTE.match(line)
        if match:
            revealed[int(match["line"])] = match["type"]
    expected = _marked(source, "T")
    assert len(expected) >= 10
    assert revealed == expected


def test_a_module_edited_after_its_import_is_refused(workspace: Path) -> None:
    import importlib

    spec, name = _module(workspace)
    cls = _flow(workspace, name)
    assert axl.build(cls, in_process=True)["total"] == 4
    path = workspace / spec.partition(":")[0]
    path.write_text(path.read_text().replace("x + 1", "x + 10"))
    # Its key would digest the new text while the imported (old) code runs: by class or spec.
    for ref in (cls, spec):
        with pytest.raises(UsageError, match=r"changed after it was imported \(`bump` differs\)"):
            axl.build(ref, in_process=True)
    cls = importlib.reload(sys.modules[name]).Flow
    assert axl.build(cls, in_process=True)["total"] == 13
    path.write_text(path.read_text().replace("def bump", "LIMIT = 1\n\n\ndef bump"))
    importlib.reload(sys.modules[name])
    path.write_text(path.read_text().replace("LIMIT = 1", "LIMIT = 2"))
    with pytest.raises(UsageError, match=r"\(`LIMIT` differs\)"):
        axl.build(cls, in_process=True)


def test_remote_cache_hits_show_their_source(workspace: Path, tmp_path: Path) -> None:
    _, name = _module(workspace)
    cls = _flow(workspace, name)
    remote = str(tmp_path / "remote")  # a folder every machine mounts: the simplest remote
    first = axl.build(cls, remote_cache=remote, cache_dir=tmp_path / "ci", in_process=True)
    assert {s.status for s in first.steps.values()} == {"ran"}
    laptop = axl.build(cls, remote_cache=remote, cache_dir=tmp_path / "laptop", jobs=1)
    assert {(s.status, s.source) for s in laptop.steps.values()} == {("cached", "remote")}
    assert laptop["total"] == 4
    assert laptop.cache_dir == tmp_path / "laptop"


def test_what_the_api_refuses(workspace: Path) -> None:
    spec, name = _module(workspace)
    write(workspace / "BUILD", f'axl_workflow(name = "flow", workflow = "{spec}")\n')
    with pytest.raises(UsageError, match="params for //:flow must be a file"):
        axl.build("//:flow", params={"n": 1})
    with pytest.raises(UsageError, match="must name one axl_workflow target"):
        axl.build("//:all")
    assert not (workspace / ".axl" / "runs").exists()  # refused before building anything
    with pytest.raises(UsageError, match="takes a workflow class"):
        axl.build(_flow(workspace, name)())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="results\\(\\) takes a workflow's name"):
        axl.results(spec)
    with pytest.raises(Exception, match="has no class 'Nope'"):
        axl.build(f"{spec.partition(':')[0]}:Nope")
