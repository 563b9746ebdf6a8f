"""Null-build benchmarks (issue #4): a warm ``axl build`` must cost little more than Python.

Run: ``python bench/bench_null_build.py`` (or ``make bench``). Prints a markdown table of
whole-process wall times (median of 5 after one warm-up):

* ``python -c pass`` and ``python -c "import axl"``: the floor;
* a warm ``axl build //examples:churn`` (nothing changed: no step runs, the workflow module and
  pandas/sklearn are not imported);
* a warm null build of a generated 1,000-step workflow target.

The CPU column (user + system time of the process) is steadier than wall time on a shared, busy
machine.

Timings use a bytecode cache in a temporary folder (``PYTHONPYCACHEPREFIX``), as an installed
package has; the ``no .pyc`` column shows the same runs with ``PYTHONDONTWRITEBYTECODE=1`` and
no cache (every module compiled from source on each run).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 5
STEPS = 1000


def generated_workflow(n: int) -> str:
    """A workflow module with ``n`` distinct steps: step i reads step i-1 and step i // 2."""
    lines = [
        "from axl import Workflow, step",
        "",
        "",
        "class Big(Workflow):",
        "    @step",
        "    def s0(self) -> int:",
        "        return 0",
    ]
    for i in range(1, n):
        lines += [
            "",
            "    @step",
            f"    def s{i}(self, a: int, b: int) -> int:",
            f"        return (a + b + {i}) % 1000003",
        ]
    lines += ["", "    def graph(self):", "        out = [self.s0()]"]
    lines += [f"        out.append(self.s{i}(out[{i - 1}], out[{i // 2}]))" for i in range(1, n)]
    lines += ["        return out[-1]", ""]
    return "\n".join(lines)


def make_workspace(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "big"\nversion = "0"\n')
    (root / "big.py").write_text(generated_workflow(n))
    (root / "BUILD").write_text('axl_workflow(name = "big", workflow = "big.py:Big")\n')


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def median(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    timed(argv, cwd, env)  # warm-up: OS caches, .pyc files
    runs = [timed(argv, cwd, env) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="axl-bench-null-"))
    try:
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        with_pyc = {**base, "PYTHONPYCACHEPREFIX": str(tmp / "pyc")}
        no_pyc = {**base, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "none")}
        py = sys.executable
        churn = [py, "-m", "axl", "build", "//examples:churn", "--cache-dir", str(tmp / "c1")]
        big_ws = tmp / "big"
        make_workspace(big_ws, STEPS)
        big = [py, "-m", "axl", "build", "//:big", "--cache-dir", str(tmp / "c2"), "-j", "2"]
        t0 = time.perf_counter()
        timed(churn, REPO, with_pyc)
        cold_churn = time.perf_counter() - t0
        t0 = time.perf_counter()
        timed(big, big_ws, with_pyc)
        cold_big = time.perf_counter() - t0
        rows = [
            ("`python -c pass`", [py, "-c", "pass"], REPO),
            ('`python -c "import axl"`', [py, "-c", "import axl"], REPO),
            ("warm `axl build //examples:churn` (6 steps)", churn, REPO),
            (f"warm `axl build //:big` ({STEPS} steps)", big, big_ws),
        ]
        print("| command | wall (median of 5) | CPU | wall, no .pyc |")
        print("|---|---|---|---|")
        for name, argv, cwd in rows:
            wall, cpu = median(argv, cwd, with_pyc)
            no_pyc_wall, _ = median(argv, cwd, no_pyc)
            print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | {no_pyc_wall:.3f} s |")
        print(
            f"\ncold builds (first run, steps executed): churn {cold_churn:.1f} s, "
            f"{STEPS}-step {cold_big:.1f} s"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
