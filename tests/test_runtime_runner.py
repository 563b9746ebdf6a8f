"""``python -m axl.runtime`` end to end: real subprocesses, real files, real manifests."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import emit, forget_modules, runner, save, topological, write_flow

from axl.exec import BuildOptions
from axl.exec._session import run_local
from axl.runtime._artifacts import open_artifact_store


@pytest.fixture
def flow(workspace: Path) -> Path:
    forget_modules()
    write_flow(workspace)
    return workspace


def _in_process_digests(root: Path, spec: str) -> dict[str, dict[str, str]]:
    report = run_local(
        spec, workspace=root, cache_dir=root / "inproc-cache", options=BuildOptions(in_process=True)
    )
    assert report.ok, report.to_json()
    return {
        name: {out: rec.digest for out, rec in step.outputs.items()}
        for name, step in report.steps.items()
    }


def test_store_flow_runs_every_step_like_in_process(flow: Path) -> None:
    """A Dagster-style run: one manifest without digests, a store, a run id; each step finds its
    upstream's result record in the store."""
    manifest, ir = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    store = flow / "store"
    results: dict[str, dict[str, Any]] = {}
    for step in topological(ir):
        run = runner(
            "--manifest", path, "--step", step, "--store", store, "--run-id", "r1", cwd=flow
        )
        assert run.code == 0, run.err
        assert run.events("done"), run.logs
        results[step] = json.loads((store / "runs" / "r1" / f"{step}.json").read_text())
        if step == "make":
            # The step's prints pass through on stdout, untouched; stderr carries JSON only.
            assert "making 4 values" in run.out
            assert "a note on stderr" in run.out
    expected = _in_process_digests(flow, "flow.py:Flow")
    for step, record in results.items():
        assert record["status"] == "ok"
        assert record["key"] is not None
        for out, data in record["outputs"].items():
            assert data["digest"] == expected[step][out], (step, out)
            assert (store / "cas" / data["digest"][:2] / data["digest"]).is_file()
    # The auto handler was decided at run time and recorded.
    assert results["total"]["outputs"]["out"]["handler"] in ("json", "pickle")
    # path mode: the step saw a file carrying the upstream's extension.
    size = json.loads(
        (store / "cas").joinpath(_blob(results["size"]["outputs"]["out"])).read_text()
    )
    assert size["suffix"] == ".pkl"
    assert size["bytes"] == results["make"]["outputs"]["out"]["size"]


def _blob(out: dict[str, Any]) -> str:
    return f"{out['digest'][:2]}/{out['digest']}"


def test_files_flow_like_an_argo_pod(flow: Path) -> None:
    """An Argo-style run: inputs arrive as files at fixed paths, outputs are written to fixed
    paths; no store at all."""
    manifest, ir = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    steps = manifest["steps"]
    produced: dict[tuple[str, str], Path] = {}
    for step in topological(ir):
        inputs, outputs = flow / "pods" / step / "in", flow / "pods" / step / "out"
        inputs.mkdir(parents=True)
        for leaf in _leaves(steps[step]["inputs"]):
            upstream = leaf["from"]["step"]
            _copy(produced[(upstream, leaf["from"]["output"])], inputs / leaf["path"])
            if "record" in leaf:  # an "auto" handler: the upstream's record says which one
                _copy(flow / "pods" / upstream / "out" / "axl-result.json", inputs / leaf["record"])
        run = runner(
            "--manifest", path, "--step", step, "--inputs", inputs, "--outputs", outputs, cwd=flow
        )
        assert run.code == 0, run.err
        for out in steps[step]["outputs"]:
            produced[(step, out["name"])] = outputs / out["path"]
            assert (outputs / out["path"]).is_file()
        record = json.loads((outputs / "axl-result.json").read_text())
        assert record["status"] == "ok"
    make = pickle.loads(produced[("make", "out")].read_bytes())
    assert make["values"] == [0, 1, 2, 3]
    assert make["pair"] == (1, "a")
    assert json.loads(produced[("size", "out")].read_text())["suffix"] == ".pkl"


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def _leaves(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    from axl.runtime._manifest import iter_leaves

    return iter_leaves(inputs)


def test_auto_handler_input_is_read_from_the_upstream_record(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    out = flow / "make-out"
    assert (
        runner("--manifest", path, "--step", "params", "--outputs", flow / "p", cwd=flow).code == 0
    )
    inputs = flow / "make-in"
    inputs.mkdir()
    shutil.copyfile(flow / "p" / "n.json", inputs / "n.json")
    assert (
        runner(
            "--manifest", path, "--step", "make", "--inputs", inputs, "--outputs", out, cwd=flow
        ).code
        == 0
    )
    # Pretend make's handler was unknown when the manifest was made: the runner must learn it
    # from make's result record, passed beside the file.
    leaf = manifest["steps"]["split"]["inputs"]["data"]["input"]
    leaf.update(handler="auto", extension="", path="data", record="data.record.json")
    path = save(flow / "m2.json", manifest)
    split_in = flow / "split-in"
    split_in.mkdir()
    shutil.copyfile(out / manifest["steps"]["make"]["outputs"][0]["path"], split_in / "data")
    shutil.copyfile(out / "axl-result.json", split_in / "data.record.json")
    run = runner(
        "--manifest",
        path,
        "--step",
        "split",
        "--inputs",
        split_in,
        "--outputs",
        flow / "s",
        cwd=flow,
    )
    assert run.code == 0, run.err
    evens = manifest["steps"]["split"]["outputs"][0]
    assert evens["name"] == "evens"
    record = json.loads((flow / "s" / "axl-result.json").read_text())
    assert record["outputs"]["evens"]["path"] == evens["path"]
    assert (flow / "s" / evens["path"]).is_file()
    # Without the record the runner cannot know the handler: exit 2, said clearly.
    (split_in / "data.record.json").unlink()
    run = runner(
        "--manifest",
        path,
        "--step",
        "split",
        "--inputs",
        split_in,
        "--outputs",
        flow / "t",
        cwd=flow,
    )
    assert run.code == 2
    assert "'auto'" in run.errors[-1]["message"]


def test_a_step_that_raises_exits_1_and_writes_no_output(workspace: Path) -> None:
    forget_modules()
    write_flow(workspace)
    manifest, _ = emit("flow.py:Broken", workspace)
    path = save(workspace / "m.json", manifest)
    store = workspace / "store"
    for step in ("params", "make"):
        assert (
            runner(
                "--manifest", path, "--step", step, "--store", store, "--run-id", "r", cwd=workspace
            ).code
            == 0
        )
    out = workspace / "boom-out"
    run = runner(
        "--manifest",
        path,
        "--step",
        "boom",
        "--store",
        store,
        "--run-id",
        "r",
        "--outputs",
        out,
        cwd=workspace,
    )
    assert run.code == 1
    failed = run.events("failed")
    assert len(failed) == 1
    line = failed[0]
    assert line["level"] == "error"
    assert line["workflow"] == "Broken"
    assert line["step"] == "boom"
    assert line["exception"]["type"] == "ValueError"
    assert "boom: the data is bad" in line["exception"]["message"]
    assert "raise ValueError" in line["exception"]["traceback"]
    assert "about to fail" in run.out
    assert [p.name for p in out.iterdir()] == ["axl-result.json"]  # no output file
    record = json.loads((out / "axl-result.json").read_text())
    assert record["status"] == "failed"
    assert "outputs" not in record
    assert json.loads((store / "runs" / "r" / "boom.json").read_text())["status"] == "failed"


def test_a_missing_input_exits_2(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    (flow / "empty").mkdir()
    run = runner(
        "--manifest",
        path,
        "--step",
        "split",
        "--inputs",
        flow / "empty",
        "--outputs",
        flow / "o",
        cwd=flow,
    )
    assert run.code == 2
    message = run.errors[-1]["message"]
    assert "input 'data' (output 'out' of step 'make') is missing" in message
    leaf = manifest["steps"]["split"]["inputs"]["data"]["input"]
    assert str(flow / "empty" / leaf["path"]) in message
    assert not (flow / "o" / "evens.pkl").exists()


def test_an_input_file_with_another_digest_is_refused(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    leaf = manifest["steps"]["split"]["inputs"]["data"]["input"]
    leaf["digest"] = "0" * 64
    path = save(flow / "m.json", manifest)
    inputs = flow / "in"
    inputs.mkdir()
    (inputs / leaf["path"]).write_bytes(pickle.dumps({"values": [1]}))
    run = runner(
        "--manifest", path, "--step", "split", "--inputs", inputs, "--outputs", flow / "o", cwd=flow
    )
    assert run.code == 2
    assert "expects 000000000000" in run.errors[-1]["message"]


def test_changed_source_is_refused(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    source = flow / "flow.py"
    source.write_text(source.read_text().replace("making {n} values", "making {n} VALUES"))
    run = runner("--manifest", path, "--step", "make", "--store", flow / "s", cwd=flow)
    assert run.code == 2
    assert "flow.py differs from the one this step was keyed with" in run.errors[-1]["message"]


def test_code_that_differs_from_the_key_parts_is_refused(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    manifest.pop("sources")  # only the code check stands between the manifest and the run
    parts = manifest["steps"]["make"]["key_parts"]["code"]
    ident = next(iter(parts))
    parts[ident] = "f" * 64
    path = save(flow / "m.json", manifest)
    run = runner("--manifest", path, "--step", "make", "--store", flow / "s", cwd=flow)
    assert run.code == 2
    assert "differs from the code it was keyed with" in run.errors[-1]["message"]


def test_a_key_that_does_not_match_is_refused(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    manifest["steps"]["params"]["key"] = "a" * 64
    path = save(flow / "m.json", manifest)
    run = runner("--manifest", path, "--step", "params", "--outputs", flow / "o", cwd=flow)
    assert run.code == 2
    assert "does not match the key of its parts" in run.errors[-1]["message"]


def test_unknown_input_handler_exits_2(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    manifest["steps"]["split"]["inputs"]["data"]["input"]["handler"] = "nope"
    path = save(flow / "m.json", manifest)
    store = flow / "store"
    for step in ("params", "make"):
        assert (
            runner(
                "--manifest", path, "--step", step, "--store", store, "--run-id", "r", cwd=flow
            ).code
            == 0
        )
    run = runner("--manifest", path, "--step", "split", "--store", store, "--run-id", "r", cwd=flow)
    assert run.code == 2
    assert "IO handler 'nope'" in run.errors[-1]["message"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda m: m.update(manifest_version=99), "manifest_version 99"),
        (lambda m: m.update(surprise=1), "Additional properties are not allowed ('surprise'"),
        (lambda m: m["steps"]["make"].update(colour="red"), "invalid at steps/make"),
        (
            lambda m: m["steps"]["make"]["outputs"][0].update(path="../../etc/passwd"),
            "invalid at steps/make/outputs/0/path: path '../../etc/passwd' escapes",
        ),
        (
            lambda m: m["steps"]["split"]["inputs"]["data"]["input"].update(path="/etc/passwd"),
            "invalid at steps/split/inputs/data/input/path: path '/etc/passwd' escapes",
        ),
    ],
    ids=["version", "unknown-top-field", "unknown-step-field", "output-escape", "input-escape"],
)
def test_bad_manifests_exit_2(flow: Path, mutate: Any, expected: str) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    mutate(manifest)
    path = save(flow / "m.json", manifest)
    run = runner("--manifest", path, "--step", "make", "--outputs", flow / "o", cwd=flow)
    assert run.code == 2
    assert expected in run.errors[-1]["message"]
    # Only the result record, saying why: no output.
    assert [p.name for p in (flow / "o").iterdir()] == ["axl-result.json"]
    record = json.loads((flow / "o" / "axl-result.json").read_text())
    assert record["status"] == "error"
    assert record["exit_code"] == 2
    assert expected in record["error"]


def test_corrupt_and_missing_manifests_exit_2(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    text = json.dumps(manifest)
    bad = flow / "bad.json"
    bad.write_text(text[: len(text) // 2])
    run = runner("--manifest", bad, "--step", "make", "--outputs", flow / "o", cwd=flow)
    assert run.code == 2
    assert "is not valid JSON" in run.errors[-1]["message"]
    run = runner(
        "--manifest", flow / "nope.json", "--step", "make", "--outputs", flow / "o", cwd=flow
    )
    assert run.code == 2
    assert "cannot read manifest" in run.errors[-1]["message"]
    good = save(flow / "m.json", manifest)
    run = runner("--manifest", good, "--step", "nosuch", "--outputs", flow / "o", cwd=flow)
    assert run.code == 2
    assert "no step 'nosuch'" in run.errors[-1]["message"]
    run = runner("--manifest", good, "--step", "make", cwd=flow)
    assert run.code == 2
    assert "nowhere to put" in run.errors[-1]["message"]
    run = runner("--step", "make", cwd=flow)
    assert run.code == 2
    assert "no --manifest" in run.errors[-1]["message"]


def test_options_come_from_the_environment(flow: Path) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    run = runner(
        cwd=flow,
        env={"AXL_MANIFEST": str(path), "AXL_STEP": "params", "AXL_OUTPUTS": str(flow / "o")},
    )
    assert run.code == 0, run.err
    assert json.loads((flow / "o" / "n.json").read_text()) == 4


def test_s3_store_flow_skips_blobs_already_uploaded(
    flow: Path, s3_bucket: str, s3_env: Any
) -> None:
    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    url = f"s3://{s3_bucket}/flow"
    args = ("--manifest", path, "--store", url, "--run-id", "r")
    assert runner(*args, "--step", "params", cwd=flow).code == 0
    first = runner(*args, "--step", "make", cwd=flow)
    assert first.code == 0, first.err
    assert [e["skipped"] for e in first.events("upload")] == [False]
    again = runner(*args, "--step", "make", cwd=flow)
    assert again.code == 0, again.err
    assert [e["skipped"] for e in again.events("upload")] == [True]
    # Inputs came from the bucket, found through params' result record; the log blob is there.
    assert [e["source"] for e in again.events("input")] == [url]
    record = json.loads(open_artifact_store(url).get_object("runs/r/make.json") or b"{}")
    assert open_artifact_store(url).has_blob(record["log_digest"])


def test_the_container_entrypoint_is_the_runner(flow: Path) -> None:
    import os
    import subprocess
    import sys

    from conftest import REPO

    manifest, _ = emit("flow.py:Flow", flow)
    path = save(flow / "m.json", manifest)
    env = {**os.environ, "AXL_PYTHON": sys.executable, "AXL_WORKSPACE": str(flow)}
    entry = str(REPO / "runner" / "entrypoint.sh")
    args = ["--manifest", str(path), "--outputs", str(flow / "o")]
    ok = subprocess.run(
        [entry, *args, "--step", "params"], env=env, cwd="/", capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads((flow / "o" / "n.json").read_text()) == 4
    bad = subprocess.run(
        [entry, *args, "--step", "nosuch"], env=env, cwd="/", capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert json.loads(bad.stderr.splitlines()[-1])["level"] == "error"
