"""The runner under KFP (``python -m axl.runtime.kfp``), rehearsed without Docker.

The rehearsal plays KFP's part (placeholders, per-task folders it does not create, executor
output files); the runner must create the folders, write the executor output that registers
every output artifact, and produce the bytes ``axl run local`` produces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, axl, write
from kfp_helpers import FAILING
from kfp_rehearsal import rehearse

from axl.emit import compile_workflow
from axl.errors import RunnerError
from axl.runtime.kfp import submitted_params


def _spec(workflow: str, cwd: Path) -> dict:
    text = compile_workflow("kfp", workflow, workspace=cwd).text
    return next(yaml.safe_load_all(text))


@pytest.mark.parametrize("workflow", ["examples/tiny.py:Tiny", "examples/fanout.py:FanOut"])
def test_every_step_gives_axl_run_local_s_digests(workflow: str, tmp_path: Path) -> None:
    # fanout: lists and dicts of inputs (fan-in), several outputs, renamed tasks.
    spec = _spec(workflow, REPO)
    root = tmp_path / "root"
    done = rehearse(spec, root, REPO)
    assert set(done.codes) == set(spec["root"]["dag"]["tasks"]), done.logs
    assert set(done.codes.values()) == {0}, done.logs
    local = axl(
        "run",
        "local",
        "-m",
        workflow,
        "--json",
        "--cache-dir",
        str(tmp_path / "c"),
        cwd=REPO,
    )
    assert local.code == 0, local.err
    steps = json.loads(local.out)["steps"]
    for task, output in done.executor_outputs.items():
        step = spec["root"]["dag"]["tasks"][task]["taskInfo"]["name"]
        for key, listed in output["artifacts"].items():
            (artifact,) = listed["artifacts"]
            assert artifact["uri"] == str(root / task / key)  # the folder was made for it
            assert Path(artifact["uri"]).is_file()
            if key == "axl-result":
                record = json.loads(Path(artifact["uri"]).read_text())
                assert record["status"] == "ok"
                assert record["key"] == steps[step]["key"]
                continue
            expected = steps[step]["outputs"][key]
            assert artifact["metadata"]["digest"] == expected["digest"], (task, key)
            assert artifact["metadata"]["handler"] == expected["handler"]
            assert artifact["metadata"]["key"] == steps[step]["key"]
            assert artifact["metadata"]["cached"] is False


def test_submitted_params_reach_the_step(tmp_path: Path) -> None:
    spec = _spec("examples/tiny.py:Tiny", REPO)
    done = rehearse(spec, tmp_path / "root", REPO, {"n": "5"})
    assert done.codes["total"] == 0, done.logs
    made = done.outputs["make"]["out"]
    assert json.loads(made.read_text()) == [0, 1, 2, 3, 4]


def test_params_decode_by_their_compiled_kind() -> None:
    compiled = {"f": 1.0, "s": "x", "l": [1], "b": False, "z": None}
    given = {"f": "1", "s": "--odd=1", "l": "[2, 3]", "b": "true", "z": '{"a": 1}'}
    values = submitted_params(compiled, given)
    assert values == {"f": 1.0, "s": "--odd=1", "l": [2, 3], "b": True, "z": {"a": 1}}
    assert isinstance(values["f"], float)  # KFP may render a whole double as "1"
    with pytest.raises(RunnerError, match="pipeline parameter 'l' is 'oops', which is not JSON"):
        submitted_params(compiled, {"l": "oops"})
    with pytest.raises(RunnerError, match="has no such value"):
        submitted_params(compiled, {"q": "1"})


def test_a_failing_step_leaves_its_result_record_and_exit_code(workspace: Path) -> None:
    write(workspace / "flows.py", FAILING)
    spec = _spec("flows.py:Fails", workspace)
    root = workspace / "root"
    done = rehearse(spec, root, workspace)
    assert done.codes == {"params": 0, "boom": 1}, done.logs
    record = json.loads((root / "boom" / "axl-result").read_text())
    assert record["status"] == "failed"
    assert record["exit_code"] == 1
    assert "no luck with 2" in record["error"]
    assert not (root / "boom" / "out").exists()  # no output of a failed step
    assert list(done.executor_outputs["boom"]["artifacts"]) == ["axl-result"]


def test_a_bad_command_line_is_exit_2_and_one_json_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "axl.runtime.kfp",
            "--step",
            "x",
            "--manifest-json",
            "{}",
            "--input",
            "no-equals-sign",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    event = json.loads(line)
    assert event["level"] == "error"
    assert "--input 'no-equals-sign' is not KEY=VALUE" in event["message"]
