"""The local rehearsal: the emitted YAML's commands, paths and artifact wiring actually run.

Each rehearsal runs every container's command through the real runner (``python -m
axl.runtime``), with artifacts placed at the declared paths under a temporary root, and must
produce the same output digests as ``axl run local``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_helpers import OPTIONS_WORKFLOW, bundle_from, local_run, template, workflow_manifest
from argo_rehearsal import RehearsalError, TaskRun, evaluate_when, rehearse
from conftest import REPO

from axl.emit.argo import emit_objects
from axl.hashing import file_digest

GOLDEN = REPO / "tests" / "golden" / "argo"


def _local_digests(args: list[str], cache: Path, cwd: Path = REPO) -> dict[str, dict[str, str]]:
    """Step -> output -> digest, from ``axl run local --json`` in a fresh cache."""
    steps = local_run(args, cache, cwd)
    return {
        name: {out: rec["digest"] for out, rec in step["outputs"].items()}
        for name, step in steps.items()
    }


def _rehearsed_digests(document: Any, runs: dict[str, TaskRun]) -> dict[str, Any]:
    """Step -> output -> digest of the artifact files the rehearsal saved (checked against each
    step's result record)."""
    digests: dict[str, dict[str, str]] = {}
    if isinstance(document, list):
        document = document[-1]
    for run in runs.values():
        assert run.phase == "Succeeded", f"{run.task}: {run.phase}\n{run.stderr[-3000:]}"
        tmpl = template(document, run.template)
        record = json.loads(run.outputs["axl-result"].read_text())
        assert record["status"] == "ok"
        step = record["step"]
        files = {a["name"]: a["path"].rsplit("/", 1)[1] for a in tmpl["outputs"]["artifacts"]}
        digests[step] = {}
        for name, out in record["outputs"].items():
            art = next(a for a, f in files.items() if f == out["path"])
            assert file_digest(run.outputs[art]) == out["digest"], (step, name)
            digests[step][name] = out["digest"]
    return digests


def _rehearse_golden(case: str, tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, TaskRun]]:
    objects = list(yaml.safe_load_all((GOLDEN / f"{case}.yaml").read_text(encoding="utf-8")))
    runs = rehearse(objects, workspace=REPO, work=tmp_path / "argo")
    return objects, runs


def test_tiny_rehearsal_matches_a_local_run(tmp_path: Path) -> None:
    document, runs = _rehearse_golden("tiny", tmp_path)
    assert [r.task for r in runs.values()] == ["params", "make", "total"]
    local = local_run(["-m", "examples/tiny.py:Tiny"], tmp_path / "cache")
    assert _rehearsed_digests(document, runs) == {
        name: {out: rec["digest"] for out, rec in step["outputs"].items()}
        for name, step in local.items()
    }
    # The manifest's environment names the dependencies only; each pod's runner adds its own
    # Python and platform, so on this machine the pods' keys are axl run local's keys.
    manifest = workflow_manifest(document)
    assert set(manifest["environment"]) == {"dependencies"}
    for run in runs.values():
        record = json.loads(run.outputs["axl-result"].read_text())
        assert record["key"] == local[record["step"]]["key"], record["step"]
    # The `auto` output's handler travelled in make's result record to total's pod.
    record = json.loads(runs["make"].outputs["axl-result"].read_text())
    assert (record["outputs"]["out"]["handler"], record["outputs"]["out"]["path"]) == (
        "json",
        "out",
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "args"),
    [
        ("churn", ["-m", "examples/churn_workflow.py:ChurnWorkflow", "-p", "examples/churn.yaml"]),
        ("fanout", ["-m", "examples/fanout.py:FanOut"]),
    ],
)
def test_example_rehearsal_matches_a_local_run(case: str, args: list[str], tmp_path: Path) -> None:
    document, runs = _rehearse_golden(case, tmp_path)
    assert _rehearsed_digests(document, runs) == _local_digests(args, tmp_path / "cache")


def test_submit_time_parameters_and_when(workspace: Path, tmp_path: Path) -> None:
    document = emit_objects(bundle_from(workspace, OPTIONS_WORKFLOW, "Opts"))
    runs = rehearse(document, workspace=workspace, work=tmp_path / "default")
    phases = {name: run.phase for name, run in runs.items()}
    # use_gpu is false: the conditional step is skipped, and the step reading it omitted.
    assert phases == {
        "params": "Succeeded",
        "load-data": "Succeeded",
        "fit-model": "Skipped",
        "report": "Omitted",
    }
    runs = rehearse(
        document,
        workspace=workspace,
        work=tmp_path / "override",
        parameters={"use_gpu": "true", "rows": "6", "mode": '"slow"'},
    )
    assert {r.phase for r in runs.values()} == {"Succeeded"}
    assert json.loads(runs["report"].outputs["out"].read_text()) == "slow:6"
    assert json.loads(runs["params"].outputs["out"].read_text()) == {
        "mode": "slow",
        "rows": 6,
        "use_gpu": True,
    }
    # The params step's key follows the values it ran with.
    key = json.loads(runs["params"].outputs["axl-result"].read_text())["key"]
    again = rehearse(document, workspace=workspace, work=tmp_path / "again")
    assert json.loads(again["params"].outputs["axl-result"].read_text())["key"] != key


def test_a_submitted_parameter_that_is_not_json_is_named(workspace: Path, tmp_path: Path) -> None:
    document = emit_objects(bundle_from(workspace, OPTIONS_WORKFLOW, "Opts"))
    runs = rehearse(document, workspace=workspace, work=tmp_path / "w", parameters={"mode": "fast"})
    assert (runs["params"].phase, runs["params"].exit_code) == ("Failed", 2)
    (error,) = [json.loads(line) for line in runs["params"].stderr.splitlines()]
    assert "the value of params key 'mode' is not JSON: 'fast'" in error["message"]
    assert "workflow parameter 'mode'" in error["message"]
    assert "quote strings" in error["hint"]


def test_a_wrong_output_path_is_caught(workspace: Path, tmp_path: Path) -> None:
    document = emit_objects(bundle_from(workspace, OPTIONS_WORKFLOW, "Opts"))
    broken = copy.deepcopy(document)
    template(broken[-1], "load-data")["outputs"]["artifacts"][0]["path"] = "/axl/outputs/out.pkl"
    with pytest.raises(RehearsalError, match="'out' was not written at /axl/outputs/out.pkl"):
        rehearse(broken, workspace=workspace, work=tmp_path / "w")


def test_a_wrong_input_path_fails_the_step(workspace: Path, tmp_path: Path) -> None:
    document = emit_objects(bundle_from(workspace, OPTIONS_WORKFLOW, "Opts"))
    broken = copy.deepcopy(document)
    inputs = template(broken[-1], "load-data")["inputs"]["artifacts"]
    next(a for a in inputs if a["name"] == "rows")["path"] = "/axl/inputs/count.json"
    runs = rehearse(broken, workspace=workspace, work=tmp_path / "w")
    assert runs["load-data"].phase == "Failed"
    assert runs["load-data"].exit_code == 2  # the runner could not run it
    assert "is missing" in runs["load-data"].stderr
    assert runs["fit-model"].phase == "Omitted"


def test_when_expressions() -> None:
    assert evaluate_when("true == true")
    assert not evaluate_when("false == true")
    assert evaluate_when("3 > 2 && !(1 == 2) || false")
    with pytest.raises(RehearsalError, match="cannot evaluate"):
        evaluate_when("__import__('os')")
