"""The Dask executor's settings, resources and source bundle, without a cluster."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from cluster_helpers import GPU, cli, write_workflow
from conftest import write

from axl.cluster._config import executor_for
from axl.cluster._executor import DaskExecutor
from axl.cluster._resources import dask_resources, effective, satisfiable
from axl.cluster._sources import bundle_bytes
from axl.errors import UsageError


def test_resources_become_numbers() -> None:
    got = dask_resources("s", [("cpu", "500m"), ("memory", "4Gi"), ("gpu", "1"), ("x", "2.5")])
    assert got == {"cpu": 0.5, "memory": 4 * 2**30, "gpu": 1.0, "x": 2.5}
    assert dask_resources("s", [("memory", "512M"), ("cpu", "2")]) == {"memory": 512e6, "cpu": 2}
    with pytest.raises(UsageError, match="resources\\['gpu'\\] = 'lots'"):
        dask_resources("s", [("gpu", "lots")])


def test_a_request_fits_a_worker_that_offers_all_of_it() -> None:
    workers = {"a": {"name": "a", "resources": {"cpu": 4, "gpu": 1}}, "b": {"resources": {}}}
    assert satisfiable({"cpu": 2, "gpu": 1}, workers)
    assert not satisfiable({"cpu": 2, "gpu": 2}, workers)
    assert satisfiable({}, workers)
    assert not satisfiable({}, {})


def test_cpu_and_memory_count_only_once_a_worker_declares_them() -> None:
    plain = {"a": {"resources": {}}}
    assert effective({"cpu": 1, "memory": 2**30, "gpu": 1}, plain) == {"gpu": 1}
    declared = {"a": {"resources": {"cpu": 8}}}
    assert effective({"cpu": 1, "memory": 2**30}, declared) == {"cpu": 1}


def test_settings_come_from_flag_then_environment_then_pyproject(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AXL_EXECUTOR", "AXL_SCHEDULER", "AXL_WARM_ENV", "AXL_WORKER_ENV"):
        monkeypatch.delenv(var, raising=False)
    assert executor_for(executor=None, scheduler=None, warm_env=None, workspace=None) is None
    (workspace / "pyproject.toml").write_text(
        '[project]\nname = "ws"\n[tool.axl]\nexecutor = "dask"\nscheduler = "10.0.0.5:8786"\n'
        "warm_env = true\n"
    )
    got = executor_for(executor=None, scheduler=None, warm_env=None, workspace=None)
    assert isinstance(got, DaskExecutor)
    assert (got.scheduler, got.warm_env, got.lockfile_env) == ("tcp://10.0.0.5:8786", True, True)
    monkeypatch.setenv("AXL_SCHEDULER", "tcp://h:1")
    got = executor_for(executor=None, scheduler=None, warm_env=None, workspace=None)
    assert got is not None
    assert got.scheduler == "tcp://h:1"
    got = executor_for(executor="dask", scheduler="tcp://f:2", warm_env=None, workspace=None)
    assert got is not None
    assert got.scheduler == "tcp://f:2"
    assert executor_for(executor="local", scheduler=None, warm_env=None, workspace=None) is None


def test_bad_settings_are_usage_errors(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AXL_SCHEDULER", raising=False)
    with pytest.raises(UsageError, match="unknown executor 'ray'"):
        executor_for(executor="ray", scheduler=None, warm_env=None, workspace=None)
    with pytest.raises(UsageError, match="needs the scheduler's address"):
        executor_for(executor="dask", scheduler=None, warm_env=None, workspace=None)
    with pytest.raises(UsageError, match="the executor is local"):
        executor_for(executor=None, scheduler="tcp://h:1", warm_env=None, workspace=None)
    monkeypatch.setenv("AXL_PLACEMENT_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="AXL_PLACEMENT_TIMEOUT"):
        executor_for(executor="dask", scheduler="tcp://h:1", warm_env=None, workspace=None)


def test_a_cluster_build_needs_a_shared_store(workspace: Path) -> None:
    write_workflow(workspace, "gpu", GPU)
    res = cli(
        "run", "local", "-m", "gpu.py:Gpu", "--executor", "dask", "--scheduler",
        "tcp://127.0.0.1:9", "--remote-cache", "", cwd=workspace,
    )  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.startswith("error: --executor dask needs a shared store"), res.stderr
    assert "hint:" in res.stderr
    res = cli(
        "run", "local", "-m", "gpu.py:Gpu", "--executor", "dask", "--scheduler",
        "tcp://127.0.0.1:9", "--in-process", cwd=workspace,
    )  # fmt: skip
    assert res.returncode == 2
    assert "--in-process" in res.stderr.splitlines()[0]


def test_a_cached_build_neither_imports_distributed_nor_calls_the_scheduler(
    workspace: Path, tmp_path: Path
) -> None:
    write_workflow(workspace, "gpu", GPU.replace('resources={"gpu": "1"}', ""))
    store = str(tmp_path / "store")
    assert (
        cli("run", "local", "-m", "gpu.py:Gpu", "--remote-cache", store, cwd=workspace).returncode
        == 0
    )
    code = (
        "import sys; from axl.cli import main; "
        "rc = main(['run', 'local', '-m', 'gpu.py:Gpu', '--executor', 'dask', '--scheduler', "
        f"'tcp://127.0.0.1:9', '--remote-cache', {store!r}]); "
        "print(rc, 'distributed' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "0 False", proc.stderr


def test_the_source_bundle_is_deterministic_and_refuses_edited_sources(workspace: Path) -> None:
    write(workspace / "pkg" / "mod.py", "X = 1\n")
    from axl.hashing import file_digest

    sources = {"pkg/mod.py": file_digest(workspace / "pkg" / "mod.py")}
    first = bundle_bytes(workspace, sources)
    assert bundle_bytes(workspace, sources) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert tar.getnames() == ["pkg/mod.py", "pyproject.toml", "uv.lock"]
        assert {m.mtime for m in tar.getmembers()} == {315532800}
    (workspace / "pkg" / "mod.py").write_text("X = 2\n")
    with pytest.raises(UsageError, match="changed while the build ran"):
        bundle_bytes(workspace, sources)


def test_blobs_a_task_reads_are_shipped_and_folders_read_in_place_are_refused() -> None:
    from axl.cluster._executor import _input_digests

    leaf = {
        "input": {"digest": "a" * 64, "handler": "pickle", "extension": "pkl", "mode": "object"}
    }
    url = {"remote": {"digest": "b" * 64, "remote": {"url": "https://h/x"}}}
    args = {"x": leaf, "y": {"list": [leaf, url, {"dict": {"k": {"const": 1}}}]}}
    assert _input_digests(args) == ["a" * 64]
    folder = {"folder": {"source": {"kind": "dir", "location": "data/"}, "digest": "c" * 64}}
    with pytest.raises(UsageError, match="folder input data/ is read in place"):
        _input_digests({"d": folder})
