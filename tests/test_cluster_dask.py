"""``--executor dask`` against a real Dask scheduler and two workers on loopback.

Each worker has its own folder (no shared ``.axl/``); the shared store is a real nginx WebDAV
server, or a folder. The processes are started and stopped by PID (tests/dask_fixtures.py).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from cluster_helpers import (
    GPU,
    SLOW,
    WHERE,
    cli,
    digests,
    finish,
    lockfile_project,
    processing_on,
    report_of,
    runners,
    start_cli,
    wait_until,
    write_workflow,
)
from conftest import REPO
from dask_fixtures import DaskCluster
from nginx_fixtures import Nginx, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _dask(cluster: DaskCluster, store: str) -> tuple[str, ...]:
    return ("--executor", "dask", "--scheduler", cluster.address, "--remote-cache", store)


def test_churn_on_the_cluster_has_axl_builds_digests(
    dask_cluster: DaskCluster, nginx: Nginx, tmp_path: Path
) -> None:
    # w1 declares cpu and memory, w2 is a plain `dask worker`: once one worker declares them,
    # train's request (cpu=1, memory=1Gi) counts, so only w1 can run it.
    dask_cluster.add_worker("w1", resources="cpu=4 memory=8e9")
    dask_cluster.add_worker("w2")
    local = cli("build", "//examples:churn", "--json", "--cache-dir", str(tmp_path / "l"), cwd=REPO)
    assert local.returncode == 0, local.stderr
    args = ("build", "//examples:churn", "--json", "--cache-dir", str(tmp_path / "c"))
    first = cli(*args, *_dask(dask_cluster, nginx.url), cwd=REPO)
    assert first.returncode == 0, first.stderr
    report = report_of(first.stdout)
    assert digests(report) == digests(report_of(local.stdout))
    ran = {n: s for n, s in report["steps"].items() if n != "params"}
    assert {s["status"] for s in ran.values()} == {"ran"}
    assert {s["worker"] for s in ran.values()} <= {"w1", "w2"}
    assert ran["train"]["worker"] == "w1"
    assert "worker" not in report["steps"]["params"]  # no user code: the client makes it
    assert dask_cluster.tasks_started() == len(ran)

    second = cli(*args, *_dask(dask_cluster, nginx.url), cwd=REPO)
    assert second.returncode == 0, second.stderr
    assert {s["status"] for s in report_of(second.stdout)["steps"].values()} == {"cached"}
    assert dask_cluster.tasks_started() == len(ran)  # the second build sent no task


def test_a_worker_killed_mid_step_still_gives_a_green_build(
    dask_cluster: DaskCluster, workspace: Path, tmp_path: Path
) -> None:
    write_workflow(workspace, "slow", SLOW)
    folders = {name: dask_cluster.add_worker(name) for name in ("w1", "w2")}
    local = cli("run", "local", "-m", "slow.py:Slow", "--json", "--cache-dir", "l", cwd=workspace)
    assert local.returncode == 0, local.stderr
    store = str(tmp_path / "store")  # a shared folder as the store
    proc = start_cli(
        "run", "local", "-m", "slow.py:Slow", "--json", "--cache-dir", "c",
        *_dask(dask_cluster, store), cwd=workspace,
    )  # fmt: skip
    names = wait_until(lambda: dask_cluster.on_scheduler(processing_on("slow")), what="slow")
    wait_until(lambda: runners(folders[names[0]], "slow"), what="the runner of step slow")
    dask_cluster.kill_worker(names[0])
    # The killed worker's runner dies with it: no stray copy of the step goes on.
    wait_until(lambda: not runners(folders[names[0]], "slow"), timeout=5, what="stray runner")
    code, out, err = finish(proc)
    assert code == 0, err
    report = report_of(out)
    assert digests(report) == digests(report_of(local.stdout))
    survivor = ({"w1", "w2"} - {names[0]}).pop()
    assert report["steps"]["slow"]["worker"] == survivor


def test_a_resource_no_worker_offers_fails_clearly(
    dask_cluster: DaskCluster, workspace: Path, tmp_path: Path
) -> None:
    write_workflow(workspace, "gpu", GPU)
    dask_cluster.add_worker("w1")
    started = time.monotonic()
    res = cli(
        "run", "local", "-m", "gpu.py:Gpu", "--json", *_dask(dask_cluster, str(tmp_path / "s")),
        cwd=workspace, AXL_PLACEMENT_TIMEOUT="1",
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    step = report_of(res.stdout)["steps"]["fit"]
    assert step["status"] == "error"
    assert "no worker of the Dask cluster" in step["error"]
    assert "gpu=1" in step["error"]
    assert time.monotonic() - started < 60
    assert report_of(res.stdout)["steps"]["make"]["status"] == "ran"


def test_an_unreachable_scheduler_is_one_error(workspace: Path, tmp_path: Path) -> None:
    write_workflow(workspace, "gpu", GPU)
    address = f"tcp://127.0.0.1:{free_port()}"
    res = cli(
        "run", "local", "-m", "gpu.py:Gpu", "--executor", "dask", "--scheduler", address,
        "--remote-cache", str(tmp_path / "s"), cwd=workspace, AXL_SCHEDULER_TIMEOUT="1",
    )  # fmt: skip
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert address in errors[0]
    assert "Traceback" not in res.stderr


def test_a_scheduler_lost_mid_build_is_one_error_and_keeps_completed_steps(
    dask_cluster: DaskCluster, workspace: Path, tmp_path: Path
) -> None:
    write_workflow(workspace, "slow", SLOW)
    dask_cluster.add_worker("w1")
    proc = start_cli(
        "run", "local", "-m", "slow.py:Slow", "--cache-dir", "c",
        *_dask(dask_cluster, str(tmp_path / "s")), cwd=workspace,
    )  # fmt: skip
    wait_until(lambda: dask_cluster.on_scheduler(processing_on("slow")), what="slow")
    dask_cluster.kill_scheduler()
    code, _out, err = finish(proc)
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert dask_cluster.address in errors[0]
    again = cli("run", "local", "-m", "slow.py:Slow", "--json", "--cache-dir", "c", cwd=workspace)
    steps = report_of(again.stdout)["steps"]
    assert steps["make"]["status"] == "cached"
    assert steps["slow"]["status"] == "ran"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_the_client_cancels_its_cluster_tasks(
    sig: signal.Signals, dask_cluster: DaskCluster, workspace: Path, tmp_path: Path
) -> None:
    write_workflow(workspace, "slow", SLOW)
    (workspace / "p.yaml").write_text("pause: 12\n")
    folder = dask_cluster.add_worker("w1")
    proc = start_cli(
        "run", "local", "-m", "slow.py:Slow", "--cache-dir", "c", "-p", "p.yaml",
        *_dask(dask_cluster, str(tmp_path / "s")), cwd=workspace,
    )  # fmt: skip
    wait_until(lambda: runners(folder, "slow"), what="the runner of step slow")
    proc.send_signal(sig)
    code, _out, err = finish(proc)
    assert code in (130, -signal.SIGTERM, 143), err
    wait_until(lambda: dask_cluster.running_axl_tasks() == 0, timeout=10, what="cancellation")
    # The runner of the cancelled step is killed on the worker (it would sleep 12 s more).
    wait_until(lambda: not runners(folder, "slow"), timeout=5, what="the runner to be killed")
    assert dask_cluster.tasks_started() == 2  # make, slow; report never went out


def test_sources_that_differ_on_a_worker_are_refused(
    dask_cluster: DaskCluster, workspace: Path, tmp_path: Path
) -> None:
    write_workflow(workspace, "gpu", GPU.replace('resources={"gpu": "1"}', ""))
    folder = dask_cluster.add_worker("w1")
    args = ("run", "local", "-m", "gpu.py:Gpu", "--json", *_dask(dask_cluster, str(tmp_path / "s")))
    assert cli(*args, cwd=workspace).returncode == 0
    (unpacked,) = (folder / "cache" / "src").iterdir()
    (unpacked / "gpu.py").write_text((unpacked / "gpu.py").read_text() + "\n# edited\n")
    res = cli(*args, "--no-cache", cwd=workspace)
    assert res.returncode == 1
    step = report_of(res.stdout)["steps"]["make"]
    assert step["status"] == "error"
    assert "differs from the one this step was keyed with" in step["error"]


def test_warm_env_makes_the_environment_once_per_lockfile_on_every_worker(
    dask_cluster: DaskCluster, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    lockfile_project(project, REPO)
    write_workflow(project, "where", WHERE)
    folders = [dask_cluster.add_worker(name) for name in ("w1", "w2")]
    args = ("run", "local", "-m", "where.py:Where", "--json", "--cache-dir", "c")
    args += (*_dask(dask_cluster, str(tmp_path / "s")), "--warm-env")
    first = cli(*args, cwd=project)
    assert first.returncode == 0, first.stderr
    logs = [f / "cache" / "envs" / "syncs.log" for f in folders]
    assert [len(log.read_text().splitlines()) for log in logs] == [1, 1]  # up front, everywhere
    again = cli(*args, "--no-cache", cwd=project)
    assert again.returncode == 0, again.stderr
    assert [len(log.read_text().splitlines()) for log in logs] == [1, 1]  # reused
    # The steps ran inside the environment made from uv.lock, not in the workers' own Python.
    (lock_digest,) = {line.split()[0] for log in logs for line in log.read_text().splitlines()}
    prefix_step = report_of(first.stdout)["steps"]["prefix"]
    blob = Path(prefix_step["outputs"]["out"]["path"]).read_bytes()
    assert lock_digest.encode() in blob
    # A new lockfile digest is a new environment, made once per worker that needs it (lazily:
    # worker_env = "lockfile" without the up-front warm-up).
    with (project / "uv.lock").open("a") as handle:
        handle.write("\n")
    lazy = cli(*args[:-1], cwd=project, AXL_WORKER_ENV="lockfile")
    assert lazy.returncode == 0, lazy.stderr
    counts = [len(log.read_text().splitlines()) for log in logs]
    assert sum(counts) - 2 in (1, 2)
    assert max(counts) == 2
