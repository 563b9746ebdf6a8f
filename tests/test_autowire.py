"""Graphs inferred from parameter names: the same IR, keys and digests as an explicit graph(),
valid Argo and Dagster emissions, and clear errors for names that match nothing or too much."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import axl, write
from dagster_helpers import report_digests, report_keys

from axl import ir as ir_mod
from axl.emit import load_bundle
from axl.emit.argo import check, emit_workflow

FLOW = """
from axl import Workflow, step


class Auto(Workflow):
    name = "pipe"

    @step
    def params(self) -> dict:
        return {"rows": 6, "frac": 0.5}

    @step(io_handler="json")
    def source(self, rows: int) -> list:
        return list(range(rows))

    @step(outputs=("train", "test"), io_handler="json")
    def split(self, source: list, frac: float):
        cut = int(len(source) * frac)
        return source[:cut], source[cut:]

    @step(io_handler="json")
    def fit(self, train: list, scale: int = 2) -> int:
        return sum(train) * scale

    @step(io_handler="json")
    def score(self, fit: int, test: list) -> dict:
        return {"fit": fit, "test": sum(test)}


class Explicit(Auto):
    def graph(self):
        p = self.params()
        train, test = self.split(self.source(p["rows"]), p["frac"])
        return self.score(self.fit(train), test)
"""


@pytest.fixture
def flow(workspace: Path) -> Path:
    return write(workspace / "flow.py", FLOW)


def _ir(flow: Path, cls: str) -> ir_mod.IRWorkflow:
    return load_bundle(f"{flow}:{cls}", workspace=flow.parent).ir


def test_the_inferred_ir_is_the_explicit_one(flow: Path) -> None:
    auto, explicit = _ir(flow, "Auto"), _ir(flow, "Explicit")
    assert auto.inferred
    assert not explicit.inferred
    # Only the class differs (the twin is a subclass); nodes, edges, options and results agree.
    same = {"qualname": "-"}
    assert {**ir_mod.to_dict(auto), **same} == {**ir_mod.to_dict(explicit), **same}
    fit = auto.get_node("fit")
    assert dict(fit.args) == {"train": ir_mod.Ref("split", "train")}  # `scale` keeps its default
    assert [str(r.node) for r in auto.results] == ["score"]


def test_builds_with_the_keys_and_digests_of_its_explicit_twin(flow: Path) -> None:
    reports = {}
    for cls in ("Auto", "Explicit"):
        res = axl("run", "local", "-m", f"flow.py:{cls}", "--json", "--cache-dir", f"c-{cls}")
        assert res.code == 0, res.err
        reports[cls] = json.loads(res.out)
    assert report_keys(reports["Auto"]) == report_keys(reports["Explicit"])
    assert report_digests(reports["Auto"]) == report_digests(reports["Explicit"])
    assert set(report_keys(reports["Auto"])) == {"params", "source", "split", "fit", "score"}


def test_validate_says_the_graph_was_inferred(flow: Path) -> None:
    res = axl("validate", "-m", "flow.py:Auto")
    assert res.code == 0, res.err
    assert "graph inferred from parameter names" in res.out
    res = axl("validate", "-m", "flow.py:Explicit")
    assert res.code == 0, res.err
    assert "inferred" not in res.out


def test_the_argo_emission_validates(flow: Path) -> None:
    document = emit_workflow(load_bundle(f"{flow}:Auto", workspace=flow.parent))
    assert check(document).errors == []
    explicit = emit_workflow(load_bundle(f"{flow}:Explicit", workspace=flow.parent))
    assert document["spec"]["templates"][0] == explicit["spec"]["templates"][0]  # the DAG


@pytest.mark.integration
@pytest.mark.slow
def test_the_dagster_job_runs_with_the_digests_of_axl_run_local(flow: Path) -> None:
    from dagster_helpers import compile_job, digests_of, import_job, outputs_of, run_config

    job = import_job(compile_job(flow.parent, f"{flow}:Auto", flow.parent / "job.py"))
    result = job.pipe.execute_in_process(run_config=run_config(flow.parent / "cache-dagster"))
    assert result.success
    res = axl("run", "local", "-m", "flow.py:Explicit", "--json", "--cache-dir", "c-local")
    assert res.code == 0, res.err
    assert digests_of(outputs_of(result.all_events)) == report_digests(json.loads(res.out))


BAD = {
    "unmatched": (
        """
        @step
        def b(self, aa: list) -> int:
            return len(aa)
        """,
        "parameter 'aa' matches no step, step output or param",
        "did you mean 'a'?",
    ),
    "ambiguous": (
        """
        @step(outputs=("n", "m"))
        def b(self, a: list):
            return 1, 2

        @step
        def c(self, n: int) -> int:
            return n
        """,
        "parameter 'n' is ambiguous: it names output 'n' of step 'b', output 'n' of step 'params'",
        "rename the parameter, or define graph(self)",
    ),
    "cycle": (
        """
        @step
        def b(self, c: int) -> int:
            return c

        @step
        def c(self, b: int) -> int:
            return b
        """,
        "the inferred graph of workflow 'W' has a cycle through steps b, c",
        "a step cannot read its own output",
    ),
    "varargs": (
        """
        @step
        def b(self, *parts: int) -> int:
            return 0
        """,
        "parameter '*parts' cannot be wired by name",
        "name every parameter",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_names_that_match_nothing_or_too_much_are_errors(workspace: Path, case: str) -> None:
    steps, message, hint = BAD[case]
    body = "\n".join("    " + line for line in _dedent(steps).splitlines())
    write(
        workspace / "bad.py",
        "from axl import Workflow, step\n\n\nclass W(Workflow):\n"
        "    @step\n    def params(self) -> dict:\n        return {'n': 1}\n\n"
        "    @step\n    def a(self, n: int) -> list:\n        return [n]\n\n" + body + "\n",
    )
    res = axl("validate", "-m", "bad.py:W")
    assert res.code == 2, res.out + res.err
    lines = res.err.splitlines()
    assert len(lines) == 2, res.err
    assert lines[0].startswith("error: ")
    assert "bad.py:" in lines[0]
    assert message in lines[0]
    assert lines[1].startswith("hint: ")
    assert hint in lines[1]


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")
