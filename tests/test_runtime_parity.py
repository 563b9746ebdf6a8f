"""Parity: the churn workflow built in-process, through the subprocess runner, and through the
runner against S3 (a real moto server on loopback) produces identical output digests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from runtime_helpers import emit, forget_modules, runner

from axl.exec import BuildOptions
from axl.exec._report import RAN
from axl.exec._session import run_local
from axl.runtime._artifacts import open_artifact_store
from axl.runtime._subprocess import SubprocessRunner

SPEC = "churn_workflow.py:ChurnWorkflow"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def churn(workspace: Path) -> Path:
    """The example workflow and its params, copied into a throwaway workspace."""
    forget_modules()
    shutil.copy(REPO / "examples" / "churn_workflow.py", workspace)
    (workspace / "churn.yaml").write_text("n_customers: 1500\nn_estimators: 12\n")
    return workspace


def _digests(report: Any) -> dict[str, dict[str, str]]:
    return {
        name: {out: rec.digest for out, rec in step.outputs.items()}
        for name, step in report.steps.items()
    }


def test_churn_in_process_subprocess_and_s3_agree(churn: Path, s3_bucket: str, s3_env: Any) -> None:
    params = churn / "churn.yaml"
    local = run_local(
        SPEC,
        params_file=params,
        workspace=churn,
        cache_dir=churn / "cache-inproc",
        options=BuildOptions(in_process=True),
    )
    assert local.ok, local.to_json()
    expected = _digests(local)

    # 1. Every step through `python -m axl.runtime`, two at a time, from the engine.
    sub = run_local(
        SPEC,
        params_file=params,
        workspace=churn,
        cache_dir=churn / "cache-sub",
        options=BuildOptions(jobs=2, runner=SubprocessRunner(workspace=str(churn))),
    )
    assert sub.ok, sub.to_json()
    assert {s.status for s in sub.steps.values()} == {RAN}
    assert _digests(sub) == expected
    assert {n: s.key for n, s in sub.steps.items()} == {n: s.key for n, s in local.steps.items()}

    # 2. Every step through the runner against S3, as Dagster ops would run it: one manifest
    #    without digests; each step finds its upstream's result record in the bucket.
    manifest, ir = emit(SPEC, churn, params)
    path = churn / "manifest.json"
    path.write_text(json.dumps(manifest))
    url = f"s3://{s3_bucket}/churn"
    store = open_artifact_store(url)
    for step in ir.topological_order():
        run = runner(
            "--manifest", path, "--step", step, "--store", url, "--run-id", "p1", cwd=churn
        )
        assert run.code == 0, run.err
        assert run.events("upload") or step == "params" or run.events("done")
        record = json.loads(store.get_object(f"runs/p1/{step}.json") or b"{}")
        assert record["status"] == "ok"
        assert record["key"] == local.steps[step].key, step
        for out, data in record["outputs"].items():
            assert data["digest"] == expected[step][out], (step, out)
            assert data["url"] == f"{url}/cas/{data['digest']}"
            blob = churn / "check" / data["digest"]
            assert store.download_blob(data["digest"], blob)  # present, and verified
    evaluate = json.loads(store.get_object("runs/p1/evaluate.json") or b"{}")
    report = churn / "evaluate.json"
    assert store.download_blob(evaluate["outputs"]["out"]["digest"], report)
    assert 0.5 < json.loads(report.read_text())["accuracy"] <= 1.0
