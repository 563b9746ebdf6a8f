"""``axl build`` and ``axl query`` through the real console script, in throwaway workspaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import axl, write

WORKFLOW = """
from axl import Workflow, step


class Sum(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 3}

    @step
    def make(self, n: int) -> list:
        return list(range(n))

    @step(io_handler="json")
    def total(self, xs: list) -> int:
        return sum(xs)

    def graph(self):
        return self.total(self.make(self.params()["n"]))
"""

FAILING = """
from axl import Workflow, step


class Boom(Workflow):
    @step
    def explode(self) -> int:
        raise RuntimeError("kaboom")

    def graph(self):
        return self.explode()
"""


@pytest.fixture
def ws(workspace: Path) -> Path:
    write(workspace / "pkg" / "wf.py", WORKFLOW)
    write(workspace / "pkg" / "boom.py", FAILING)
    write(workspace / "pkg" / "ten.yaml", "n: 10\n")
    write(
        workspace / "pkg" / "BUILD",
        """
        axl_workflow(name = "sum", workflow = "wf.py:Sum")
        axl_workflow(name = "sum10", workflow = "wf.py:Sum", params = "ten.yaml")
        """,
    )
    return workspace


def total(report: dict) -> int:
    return int(json.loads(Path(report["steps"]["total"]["outputs"]["out"]["path"]).read_text()))


def test_build_twice_second_run_all_cached(ws: Path) -> None:
    first = axl("build", "//pkg:sum")
    assert first.code == 0, first.err
    assert "//pkg:sum  (load: no earlier load)" in first.out
    assert "(3 ran)" in first.out
    second = axl("build", "//pkg:sum")
    assert second.code == 0, second.err
    assert "//pkg:sum  (load: cached)" in second.out
    assert "(3 cached)" in second.out


def test_json_one_target_prints_its_report(ws: Path) -> None:
    res = axl("build", "//pkg:sum10", "--json")
    assert res.code == 0, res.err
    report = json.loads(res.out)
    assert report["ok"] is True
    assert set(report["steps"]) == {"params", "make", "total"}
    assert total(report) == 45  # the rule's params file: n = 10


def test_json_several_targets_keyed_by_label(ws: Path) -> None:
    res = axl("build", "//pkg:all", "--json", "-j", "1")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert sorted(data) == ["//pkg:sum", "//pkg:sum10"]
    assert total(data["//pkg:sum"]) == 3
    assert total(data["//pkg:sum10"]) == 45


def test_params_option_overrides_the_rule(ws: Path) -> None:
    write(ws / "four.yaml", "n: 4\n")
    res = axl("build", "//pkg:sum10", "--params", "four.yaml", "--json")
    assert res.code == 0, res.err
    assert total(json.loads(res.out)) == 6
    res = axl("build", "//pkg:all", "--params", "four.yaml")
    assert res.code == 2
    assert "--params needs exactly one workflow target" in res.err


def test_relative_labels_from_a_package_folder(ws: Path) -> None:
    res = axl("build", ":sum", cwd=ws / "pkg")
    assert res.code == 0, res.err
    assert "//pkg:sum" in res.out


def test_failures_keep_going_and_deps(ws: Path) -> None:
    write(
        ws / "pkg" / "BUILD",
        """
        axl_workflow(name = "boom", workflow = "boom.py:Boom")
        axl_workflow(name = "after", workflow = "wf.py:Sum", deps = [":boom"])
        axl_workflow(name = "sum", workflow = "wf.py:Sum")
        """,
    )
    res = axl("build", "//pkg:all", "-j", "1")
    assert res.code == 1
    assert "kaboom" in res.out
    assert "//pkg:after  skipped: the build stopped after a failure" in res.out
    assert "//pkg:sum  skipped" in res.out
    res = axl("build", "//pkg:all", "-j", "1", "--keep-going", "--json")
    assert res.code == 1
    data = json.loads(res.out)
    assert data["//pkg:boom"]["ok"] is False
    assert data["//pkg:after"] == {
        "ok": False,
        "status": "skipped",
        "reason": "dependency //pkg:boom did not succeed",
    }
    assert data["//pkg:sum"]["ok"] is True


def test_keep_going_past_a_target_that_cannot_load(ws: Path) -> None:
    write(ws / "pkg" / "broken.py", "import not_a_module_anywhere\n")
    write(
        ws / "pkg" / "BUILD",
        """
        axl_workflow(name = "broken", workflow = "broken.py:Nope")
        axl_workflow(name = "sum", workflow = "wf.py:Sum")
        """,
    )
    res = axl("build", "//pkg:all", "-j", "1")
    assert res.code == 2
    assert "not_a_module_anywhere" in res.err
    res = axl("build", "//pkg:all", "-j", "1", "-k")
    assert res.code == 1
    assert "//pkg:broken  failed: " in res.out
    assert "(3 ran)" in res.out


def test_user_errors_are_one_line(ws: Path) -> None:
    write(
        ws / "bad" / "BUILD",
        """
        axl_workflow(name = "x", workflow = "x.py:X")
        axl_image(name = "img", workflow = ":x")
        axl_workflow(name = "nofile", workflow = "missing.py:M")
        """,
    )
    cases = {
        ("//pkg:summ",): "no target '//pkg:summ'",
        ("//pkgg:sum",): "no package //pkgg",
        ("//pkg:a:b",): "malformed label",
        ("//bad:img",): "workflow file x.py does not exist",  # its workflow dep builds first
        ("//bad:nofile",): "workflow file missing.py does not exist",
    }
    for args, message in cases.items():
        res = axl("build", *args)
        assert res.code == 2, (args, res.err)
        assert res.err.startswith("error: ")
        assert message in res.err
        assert "Traceback" not in res.err
    write(ws / "bad" / "BUILD", 'axl_workflow(\n    name = "x",\n    workflow = "x.py:X"\n')
    res = axl("build", "//bad:x")
    assert res.code == 2
    assert "BUILD:1: syntax error" in res.err
    assert "hint: " in res.err


def test_wildcards_skip_bazel_rules(ws: Path) -> None:
    write(ws / "lib" / "BUILD", 'py_library(name = "lib", srcs = glob(["*.py"]))\n')
    res = axl("build", "//lib:all")
    assert res.code == 2
    assert "names no target axl can build" in res.err
    res = axl("build", "//lib:lib")
    assert res.code == 2
    assert "py_library is a Bazel rule" in res.err


def test_query(ws: Path) -> None:
    write(ws / "lib" / "BUILD", 'py_library(name = "lib")\n')
    write(
        ws / "app" / "BUILD",
        'axl_workflow(name = "app", workflow = "a.py:A", deps = ["//pkg:sum"])\n',
    )
    res = axl("query", "//...")
    assert res.code == 0, res.err
    assert res.out.splitlines() == ["//app:app", "//lib:lib", "//pkg:sum", "//pkg:sum10"]
    res = axl("query", "deps(//app)", "--output", "label_kind")
    assert res.out.splitlines() == ["axl_workflow rule //app:app", "axl_workflow rule //pkg:sum"]
    res = axl("query", "//pkg/...", "--output", "json")
    rows = json.loads(res.out)
    assert [r["label"] for r in rows] == ["//pkg:sum", "//pkg:sum10"]
    assert rows[0]["kind"] == "axl_workflow"
    assert rows[0]["line"] == 1
    res = axl("query", "rdeps(//app)")
    assert res.code == 2
    assert "unknown query function rdeps()" in res.err


def test_help_and_usage_errors_go_through_typer(ws: Path) -> None:
    res = axl("build", "--help")
    assert res.code == 0
    assert "//pkg:all" in res.out
    assert "keyed by label" in res.out
    res = axl("build", "//pkg:sum", "--bogus")
    assert res.code == 2
    assert "No such option: --bogus" in res.err
    res = axl("build")
    assert res.code == 2
    assert "Missing argument" in res.err


def test_fast_front_end_declares_the_typer_options() -> None:
    import typer.main

    from axl.cli import app
    from axl.cli._fastbuild import option_names

    command = typer.main.get_command(app).commands["build"]  # type: ignore[attr-defined]
    declared = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    assert {o for o in declared if o.startswith("-")} - {"--help"} == option_names()
