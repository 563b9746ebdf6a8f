"""Argo at scale: a workflow of thousands of calls fits in one Workflow object, and still runs.

``examples/wide.py``: a params step, 2,000 calls of one step over constants, and a fan-in of
their list. With ``--store`` every call costs one small DAG task and one manifest line; the
size budget below is what a regression trips.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_helpers import bundle_from, example_bundle, local_run, template
from argo_rehearsal import rehearse
from conftest import REPO, axl

from axl.emit.argo import ArgoOptions, compile_argo, dump_yaml, emit_objects, validate_objects
from axl.errors import EmitError
from axl.runtime._artifacts import S3Store

WIDE = ["-m", "examples/wide.py:Wide"]
CALLS = 2000
#: Bytes of Workflow YAML per DAG task, on average, for the 2,000-call fan-out with a store.
BUDGET_PER_TASK = 500


@pytest.fixture(scope="module")
def wide() -> Any:
    return example_bundle("examples/wide.py:Wide")


def test_a_2000_call_fan_out_stays_within_the_size_budget(wide: Any) -> None:
    compiled = compile_argo(wide, ArgoOptions(store="s3://bucket/axl"))
    configmap, workflow = yaml.safe_load_all(compiled.text)
    tasks = template(workflow, "main")["dag"]["tasks"]
    assert len(tasks) == CALLS + 2
    # One template per step function, whatever the number of calls.
    assert [t["name"] for t in workflow["spec"]["templates"]] == ["main", "params", "work", "total"]
    workflow_bytes = len(dump_yaml(workflow).encode())
    per_task = workflow_bytes / len(tasks)
    assert per_task <= BUDGET_PER_TASK, f"{per_task:.0f} bytes per DAG task"
    assert len(compiled.text.encode()) < 1024 * 1024  # Workflow and ConfigMap together
    # The fan-in passes nothing per upstream call: no artifact, only its name.
    total = next(t for t in tasks if t["name"] == "total")
    assert total["arguments"] == {"parameters": [{"name": "step", "value": "total"}]}
    # The manifest: one line per call, each a few dozen bytes.
    lines = configmap["data"]["manifest.json"].splitlines()
    work = [line for line in lines if line.startswith('  "work-')]
    assert len(work) == CALLS - 1
    assert max(len(line) for line in work) < 80, max(work, key=len)


def test_without_a_store_the_same_workflow_fits_but_is_warned_about(wide: Any) -> None:
    # Argo artifacts: each call passes its input and its upstream's record, and the fan-in
    # takes 2 x 2,000 artifacts: under Kubernetes' limit, but over the warning threshold.
    objects = emit_objects(wide)
    warnings = validate_objects(objects)
    assert any("over 512 KiB" in w for w in warnings), warnings
    per_task = len(dump_yaml(objects[-1]).encode()) / (CALLS + 2)
    assert per_task > BUDGET_PER_TASK  # why big fan-ins want --store


def test_a_workflow_over_the_limit_is_a_size_error_not_an_axl_bug(workspace: Path) -> None:
    source = (REPO / "examples" / "wide.py").read_text().replace("CALLS = 2000", "CALLS = 4000")
    bundle = bundle_from(workspace, source, "Wide")
    with pytest.raises(EmitError) as caught:
        compile_argo(bundle)
    message, hint = caught.value.message, caught.value.hint or ""
    assert "KiB, over the 1536 KiB Kubernetes allows for one object" in message
    assert "(a size limit of Kubernetes, not a bug in axl)" in message
    # The biggest contributors, biggest first: the fan-in's template and the calls' tasks.
    assert "template 'total' (8000 input artifacts)" in message
    assert "4000 DAG task(s) of template 'work' (8000 input artifacts passed)" in message
    assert "bug in axl's Argo emitter" not in hint
    assert "--store s3://bucket/prefix" in hint
    assert "withParam" in hint
    assert "split the workflow" in hint


def test_the_cli_reports_the_size_error_on_two_lines(workspace: Path) -> None:
    source = (REPO / "examples" / "wide.py").read_text().replace("CALLS = 2000", "CALLS = 4000")
    (workspace / "huge.py").write_text(source)
    result = axl("compile", "-t", "argo", "-m", "huge.py:Wide", cwd=workspace)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 2, result.err
    assert lines[0].startswith("error: the Argo Workflow 'wide' is ")
    assert lines[1].startswith("hint: pass --store s3://bucket/prefix")


@pytest.mark.slow
@pytest.mark.integration
def test_the_2000_call_fan_out_runs_its_first_and_last_calls_and_the_fan_in(
    s3_bucket: str, tmp_path: Path
) -> None:
    store = f"s3://{s3_bucket}/axl"
    objects = emit_objects(example_bundle("examples/wide.py:Wide"), ArgoOptions(store=store))
    local = local_run(WIDE, tmp_path / "cache")
    ran = {"params", "work", "work-1999", "total"}
    # The 1,998 calls in between are not run here (2,000 pods would take minutes): their
    # outputs go into the store as the local build made them, under the run's records, where
    # the fan-in's pod looks for them.
    _publish(S3Store(s3_bucket, "axl", store), local, tmp_path / "cache", skip=ran)
    runs = rehearse(objects, workspace=REPO, work=tmp_path / "argo", run_only=ran)
    assert {n for n, r in runs.items() if r.phase != "Assumed"} == ran
    for name in sorted(ran):
        run = runs[name]
        assert run.phase == "Succeeded", f"{name}: {run.stderr[-3000:]}"
        record = json.loads(run.outputs["axl-result"].read_text())
        assert record["key"] == local[name]["key"], name
        digests = {o: rec["digest"] for o, rec in record["outputs"].items()}
        assert digests == {o: rec["digest"] for o, rec in local[name]["outputs"].items()}, name
    # The fan-in read its 2,000 inputs from the store, no artifact passed.
    events = [json.loads(line) for line in runs["total"].stderr.splitlines()]
    sources = {e["source"] for e in events if e["event"] == "input"}
    assert sources == {store}
    assert sum(1 for e in events if e["event"] == "input") == CALLS


def _publish(store: S3Store, local: dict[str, Any], cache: Path, skip: set[str]) -> None:
    """Each step's outputs (blobs) and result record (``runs/rehearsal/<step>.json``) in the
    store, as the runner would have written them."""

    def one(name: str) -> None:
        outputs = {}
        for out, rec in local[name]["outputs"].items():
            digest = rec["digest"]
            store.upload_blob(cache / "cas" / digest[:2] / digest, digest, rec["size"])
            outputs[out] = {k: rec[k] for k in ("digest", "size", "handler", "extension")}
        record = {"status": "ok", "step": name, "outputs": outputs}
        store.put_object(f"runs/rehearsal/{name}.json", json.dumps(record).encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, [n for n in local if n not in skip]))


def test_the_store_comes_from_the_flag_the_rule_or_the_run_config(workspace: Path) -> None:
    source = (REPO / "examples" / "wide.py").read_text().replace("CALLS = 2000", "CALLS = 3")
    (workspace / "flows.py").write_text(source)
    (workspace / "prod.yaml").write_text("version: 1\nargo:\n  store: s3://prod/axl\n")
    (workspace / "BUILD").write_text(
        'axl_workflow(name = "wide", workflow = "flows.py:Wide")\n'
        'argo_workflow(name = "wide_argo", workflow = ":wide", store = "s3://rule/axl")\n'
    )

    def store_of(text: str) -> str:
        _, workflow = yaml.safe_load_all(text)
        args = template(workflow, "work")["container"]["args"]
        return str(args[args.index("--store") + 1])

    flag = axl("compile", "-t", "argo", "-m", "flows.py:Wide", "--store", "s3://b/p", cwd=workspace)
    assert store_of(flag.out) == "s3://b/p"
    config = axl(
        "compile", "-t", "argo", "-m", "flows.py:Wide", "--config", "prod.yaml", cwd=workspace
    )
    assert store_of(config.out) == "s3://prod/axl"
    built = axl("build", "//:wide_argo", cwd=workspace)
    assert built.code == 0, built.err
    assert store_of((workspace / "workspace/targets/wide_argo.yaml").read_text()) == "s3://rule/axl"
    bad = axl("compile", "-t", "argo", "-m", "flows.py:Wide", "--store", "/mnt/x", cwd=workspace)
    assert (bad.code, bad.err.splitlines()[0]) == (
        2,
        "error: artifact store '/mnt/x' is not one every pod can reach",
    )


def test_with_a_store_workspace_data_still_comes_from_the_artifact_repository() -> None:
    bundle = example_bundle("examples/movies.py:MovieStats")
    options = ArgoOptions(store="s3://bucket/axl", artifact_key_prefix="axl/movies")
    _, workflow = emit_objects(bundle, options)
    load = template(workflow, "load")
    # The upstream's output comes from the store; the data file, keyed at compile time, is
    # still an input artifact by digest, in the folder the runner reads it from.
    (data,) = load["inputs"]["artifacts"]
    assert data["s3"]["key"].startswith("axl/movies/data/")
    args = load["container"]["args"]
    assert args[args.index("--inputs") + 1] == "/axl/inputs"
    assert data["path"].startswith("/axl/inputs/")
    assert "artifacts" not in template(workflow, "main")["dag"]["tasks"][1].get("arguments", {})
