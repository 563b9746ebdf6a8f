"""Run by KFP itself: the emitted churn pipeline under ``kfp.local`` and its ``DockerRunner``.

The churn image is baked with ``axl build-image`` on the suite's private Docker engine, the spec
compiled with ``axl compile --target kfp --image <its local tag>``, and KFP's own local runner
runs it: it finds the local tag (pulls nothing) through ``DOCKER_HOST``, and its containers use
the host's network (the engine has no bridge; ``DockerRunner(network_mode="host")`` is KFP's own
run option), so the runner reaches the nginx remote cache on loopback.

What KFP reports is not what these tests trust: ``kfp.local`` can call a container that exited
non-zero a success (kubeflow/pipelines#13332). They read the runner's own result records and
exit codes (``axl-result``) and the executor output files the runner writes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from docker_fixtures import DockerEngine
from image_helpers import CHURN, CHURN_ARGS, make_churn_workspace
from kfp_helpers import FAILING, load_checked
from nginx_fixtures import Nginx
from test_image_build import AXL, build_image, built

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILS = "examples/kfp_fails.py:Fails"


@pytest.fixture(scope="module")
def churn_kfp(
    docker_engine: DockerEngine, docker_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A churn workspace (with a failing workflow beside it) and its image's local tag."""
    ws = make_churn_workspace(tmp_path_factory.mktemp("kfp") / "ws")
    (ws / "examples" / "kfp_fails.py").write_text(FAILING.lstrip())
    args = [*CHURN_ARGS, "--base", docker_base_image, "--include", "examples/kfp_fails.py"]
    image = built(build_image(docker_engine, ws, CHURN, *args, "--json"))
    (tag,) = [t for t in image["tags"] if t.rsplit(":", 1)[1] == image["key"][:32]]
    return ws, tag


def _axl(ws: Path, engine: DockerEngine, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AXL, *args], cwd=ws, env=engine.env(), capture_output=True, text=True, check=False
    )


def _compile(ws: Path, engine: DockerEngine, workflow: str, *args: str) -> Path:
    out = ws / f"{workflow.rsplit(':', 1)[1]}.kfp.yaml"
    proc = _axl(ws, engine, "compile", "--target", "kfp", "-m", workflow, "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return out


def _run_in_kfp(spec: Path, root: Path, **arguments: Any) -> dict[str, dict[str, Any]]:
    """``kfp.local`` runs ``spec``; returns each task's artifacts as its executor output lists
    them, with the result record (``axl-result``) read."""
    from kfp import components, local

    load_checked(spec)
    local.init(
        runner=local.DockerRunner(network_mode="host"),
        pipeline_root=str(root),
        raise_on_error=False,
    )
    components.load_component_from_file(str(spec))(**arguments)
    (run,) = root.iterdir()
    tasks: dict[str, dict[str, Any]] = {}
    for folder in sorted(run.iterdir()):
        output = json.loads((folder / "executor_output.json").read_text())
        listed = {k: v["artifacts"][0] for k, v in output["artifacts"].items()}
        record = json.loads(Path(listed["axl-result"]["uri"]).read_text())
        tasks[folder.name] = {"artifacts": listed, "record": record}
    return tasks


def test_kfp_local_runs_churn_with_axl_s_digests_then_all_from_the_remote_cache(
    docker_engine: DockerEngine,
    churn_kfp: tuple[Path, str],
    nginx: Nginx,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws, tag = churn_kfp
    params = "examples/churn.yaml"
    local = _axl(
        ws,
        docker_engine,
        "run",
        "local",
        "-m",
        CHURN,
        "-p",
        params,
        "--json",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--remote-cache",
        "",
    )
    assert local.returncode == 0, local.stderr
    expected = json.loads(local.stdout)["steps"]
    spec = _compile(
        ws, docker_engine, CHURN, "-p", params, "--image", tag, "--remote-cache", nginx.url
    )

    first = _run_in_kfp(spec, tmp_path / "first")
    shown = capsys.readouterr().out
    assert f"Found image '{tag}'" in shown  # a local tag, through DOCKER_HOST
    assert "Pulling image" not in shown
    assert '"event":"run"' in shown  # the step code ran (the log lines the second run lacks)
    assert set(first) == set(expected)
    for task, got in first.items():
        step = got["record"]["step"]
        assert (got["record"]["status"], got["record"]["cached"]) == ("ok", False), got["record"]
        outputs = {k: v for k, v in got["artifacts"].items() if k != "axl-result"}
        assert outputs, task
        for key, artifact in outputs.items():
            want = expected[step]["outputs"][key]
            assert artifact["metadata"]["digest"] == want["digest"], (task, key)
            assert artifact["metadata"]["handler"] == want["handler"], (task, key)
            data = Path(artifact["uri"]).read_bytes()
            assert len(data) == want["size"], (task, key)

    second = _run_in_kfp(spec, tmp_path / "second")
    shown = capsys.readouterr().out
    assert '"event":"run"' not in shown.replace(" ", "")  # no step code ran
    for task, got in second.items():
        assert (got["record"]["status"], got["record"]["cached"]) == ("ok", True), task
        assert got["record"]["key"] == first[task]["record"]["key"]
        for key, artifact in got["artifacts"].items():
            if key != "axl-result":
                assert artifact["metadata"]["cached"] is True
                before = Path(first[task]["artifacts"][key]["uri"]).read_bytes()
                assert Path(artifact["uri"]).read_bytes() == before, (task, key)
    # The keys are axl's: what the pods uploaded, `axl run local` finds (all remote hits).
    again = _axl(
        ws,
        docker_engine,
        "run",
        "local",
        "-m",
        CHURN,
        "-p",
        params,
        "--json",
        "--cache-dir",
        str(tmp_path / "laptop"),
        "--remote-cache",
        nginx.url,
    )
    assert again.returncode == 0, again.stderr
    steps = json.loads(again.stdout)["steps"]
    assert {s["status"] for s in steps.values()} == {"cached"}
    assert {s["source"] for s in steps.values()} == {"remote"}


def test_a_failing_step_is_known_by_the_runner_s_record_not_kfp_s_state(
    docker_engine: DockerEngine, churn_kfp: tuple[Path, str], tmp_path: Path
) -> None:
    ws, tag = churn_kfp
    spec = _compile(ws, docker_engine, FAILS, "--image", tag)
    root = tmp_path / "root"
    tasks = _run_in_kfp(spec, root)
    assert tasks["params"]["record"]["status"] == "ok"
    record = tasks["boom"]["record"]
    assert (record["status"], record["exit_code"]) == ("failed", 1)
    assert "ValueError: no luck with 2" in record["traceback"]
    assert list(tasks["boom"]["artifacts"]) == ["axl-result"]  # no output of a failed step
