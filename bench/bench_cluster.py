"""The Dask executor (issue #22): a cluster build against a local one, in the same run.

Run: ``python bench/bench_cluster.py`` (or ``make bench``). Starts a real ``dask scheduler`` and
two ``dask worker`` processes on 127.0.0.1 (2 threads each, their own folders), with a folder as
the shared store, and builds, each cold (empty client cache, a fresh store): the 200-wide fan-out
of ``bench_engine`` and the churn example, with ``axl run local`` (forked pool), ``axl run local
--subprocess`` (one runner process per step, what every worker runs) and ``--executor dask``.
Then the same cluster build again (all cached: no task is sent).

"Overhead per step" is (cluster wall - local wall) / steps run: what the cluster adds per step on
this machine, where client, scheduler, workers and runners share the same cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import FANOUT

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

AXL = [sys.executable, "-m", "axl"]


def _build(args: list[str], cwd: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    proc = subprocess.run(
        [*AXL, *args, "--json"], cwd=cwd, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"axl {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def _ran(report: dict[str, object]) -> int:
    steps = report["steps"]
    assert isinstance(steps, dict)
    return sum(1 for s in steps.values() if s["status"] == "ran" and s.get("worker", "x"))


def main() -> None:
    from dask_fixtures import DaskCluster

    base = Path(tempfile.mkdtemp(prefix="axl-bench-cluster-"))
    try:
        ws = base / "ws"
        ws.mkdir()
        (ws / "pyproject.toml").write_text('[project]\nname = "b"\nversion = "0"\n')
        (ws / "uv.lock").write_text("version = 1\n")
        (ws / "fan.py").write_text(FANOUT)
        workloads = [
            ("200-wide fan-out", ws, ["run", "local", "-m", "fan.py:Fan"]),
            (
                "churn",
                ROOT,
                [
                    "run",
                    "local",
                    "-m",
                    "examples/churn_workflow.py:ChurnWorkflow",
                    "-p",
                    "examples/churn.yaml",
                ],
            ),
        ]
        with DaskCluster(base / "dask") as cluster:
            cluster.add_worker("w1")
            cluster.add_worker("w2")
            print("| workload | steps | local s | local --subprocess s | cluster s | cluster "
                  "null build s | overhead per step ms |")  # fmt: skip
            print("|---|---:|---:|---:|---:|---:|---:|")
            for n, (name, cwd, cmd) in enumerate(workloads):
                run = base / f"run{n}"
                local, _ = _build([*cmd, "--cache-dir", str(run / "l")], cwd)
                sub, _ = _build([*cmd, "--subprocess", "--cache-dir", str(run / "s")], cwd)
                dask = [*cmd, "--cache-dir", str(run / "c"), "--executor", "dask"]
                dask += ["--scheduler", cluster.address, "--remote-cache", str(run / "store")]
                cold, report = _build(dask, cwd)
                null, _ = _build(dask, cwd)
                steps = _ran(report)
                per_step = (cold - local) / steps * 1000
                print(
                    f"| {name} | {steps} | {local:.2f} | {sub:.2f} | {cold:.2f} | {null:.2f} "
                    f"| {per_step:.0f} |"
                )
                sys.stdout.flush()
    finally:
        shutil.rmtree(base, ignore_errors=True)
        os.environ.pop("AXL_WORKER_CACHE", None)


if __name__ == "__main__":
    main()
