"""A real Dask cluster on loopback: ``dask scheduler`` and ``dask worker`` processes.

A pytest plugin (listed in ``pytest_plugins`` in conftest.py). :class:`DaskCluster` starts the
scheduler and workers of the ``distributed`` package installed in this environment (the ``dask``
extra), bound to 127.0.0.1 with their dashboards off, each in its own folder (its own
``AXL_WORKER_CACHE``: workers share no disk with the client or with each other), and stops them
by PID. Usable outside pytest (``bench/bench_cluster.py``) as a context manager.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import free_port

BIN = Path(sys.executable).parent


class DaskCluster:
    """A scheduler and named workers, each a process this object started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        folder = self.base / "scheduler"
        folder.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._spawn(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--no-dashboard"],
            folder,
            {},
        )
        self._wait(lambda info: True, "the scheduler")

    def add_worker(self, name: str, resources: str = "", nthreads: int = 2, **env: str) -> Path:
        """Start worker ``name``; returns its folder (its ``AXL_WORKER_CACHE`` is ``cache/``)."""
        folder = self.base / name
        folder.mkdir(parents=True, exist_ok=True)
        argv = [str(BIN / "dask"), "worker", self.address, "--host", "127.0.0.1"]
        argv += ["--no-dashboard", "--no-nanny", "--name", name, "--nthreads", str(nthreads)]
        argv += ["--local-directory", str(folder / "dask")]
        if resources:
            argv += ["--resources", resources]
        self.workers[name] = self._spawn(
            argv, folder, {"AXL_WORKER_CACHE": str(folder / "cache"), **env}
        )
        self._wait(lambda info: name in {w["name"] for w in info["workers"].values()}, name)
        return folder

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker (no goodbye to the scheduler)."""
        proc = self.workers.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def kill_scheduler(self) -> None:
        proc, self.scheduler = self.scheduler, None
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def tasks_started(self) -> int:
        """How many ``axl-`` tasks the scheduler has been given (from its transition log)."""

        def count(dask_scheduler: Any) -> int:  # nested: pickled by value for the scheduler
            return sum(
                1
                for t in dask_scheduler.transition_log
                if str(t.key).startswith("axl-") and t.start == "released" and t.finish == "waiting"
            )

        return int(self.on_scheduler(count))

    def on_scheduler(self, fn: Any) -> Any:
        from distributed import Client

        with Client(self.address, timeout=10, set_as_default=False) as client:
            return client.run_on_scheduler(fn)

    def running_axl_tasks(self) -> int:
        def live(dask_scheduler: Any) -> int:
            return sum(1 for key in dask_scheduler.tasks if str(key).startswith("axl-"))

        return int(self.on_scheduler(live))

    def stop(self) -> None:
        procs = [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]
        self.workers, self.scheduler = {}, None
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _spawn(self, argv: list[str], folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (folder / "log").open("ab")
        try:
            return subprocess.Popen(
                argv,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, **env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"},
            )
        finally:
            log.close()

    def _wait(self, ready: Any, what: str, timeout: float = 30.0) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with Client(self.address, timeout=2, set_as_default=False) as client:
                    while time.monotonic() < deadline:
                        if ready(client.scheduler_info()):
                            return
                        time.sleep(0.1)
            except (OSError, TimeoutError) as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"{what} did not come up within {timeout} s: {last}")

    def __enter__(self) -> DaskCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A running scheduler (no workers yet: the test adds them); stopped at the end."""
    cluster = DaskCluster(tmp_path / "dask")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
