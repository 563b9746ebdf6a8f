"""Engine benchmarks (issue #3): whole-process wall time and peak memory, cold and warm.

Run: ``python bench/bench_engine.py`` (or ``make bench``). Prints a markdown table.
Each figure is the median of several runs in one session; compare ratios, not absolutes, since
the machine is shared.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

AXL = [sys.executable, "-m", "axl"]

CHAIN = """
from axl import Workflow, step


class Chain(Workflow):
    @step
    def first(self) -> int:
        return 0

    @step
    def inc(self, x: int) -> int:
        return x + 1

    def graph(self):
        x = self.first()
        for _ in range({n}):
            x = self.inc(x)
        return x
"""

FANOUT = """
from axl import Workflow, step


class Fan(Workflow):
    @step
    def source(self) -> int:
        return 7

    @step
    def fan(self, x: int, i: int) -> int:
        return x * i

    @step
    def sink(self, xs: list) -> int:
        return sum(xs)

    def graph(self):
        x = self.source()
        return self.sink([self.fan(x, i) for i in range(200)])
"""

FRAME = """
import numpy as np
import pandas as pd

from axl import Workflow, step


class Frame(Workflow):
    @step
    def make(self) -> pd.DataFrame:
        rng = np.random.default_rng(0)
        return pd.DataFrame(rng.random((5_000_000, 4)), columns=list("abcd"))

    @step
    def mean(self, frame: pd.DataFrame) -> pd.Series:
        return frame.mean()

    @step
    def scalar(self, means: pd.Series) -> float:
        return float(means.sum())

    def graph(self):
        return self.scalar(self.mean(self.make()))
"""


def _workspace(source: str, name: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="axl-bench-"))
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    (root / "uv.lock").write_text("version = 1\n")
    (root / f"{name}.py").write_text(textwrap.dedent(source))
    return root


def _run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, the largest process of the tree) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def _cold_warm(source: str, spec: str, repeats: int = 3) -> dict[str, tuple[float, float]]:
    name = spec.split(".py", maxsplit=1)[0]
    cold, warm = [], []
    for _ in range(repeats):
        root = _workspace(source, name)
        try:
            cold.append(_run([*AXL, "run", "local", "-m", spec], root))
            warm.append(_run([*AXL, "run", "local", "-m", spec], root))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "cold": (statistics.median(w for w, _ in cold), max(m for _, m in cold)),
        "warm": (statistics.median(w for w, _ in warm), max(m for _, m in warm)),
    }


def _planning(n: int) -> float:
    """Seconds to trace an n-step chain and compute every key (in-process, no execution)."""
    code = (
        "import sys, time; sys.path.insert(0, '.')\n"
        "t0 = time.perf_counter()\n"
        "from axl._loader import load_workflow\n"
        "from axl.ir import build_ir\n"
        "from axl.exec._session import live_code\n"
        "from axl.graph import environment_part, key_parts\n"
        "from pathlib import Path\n"
        "root = Path('.').resolve()\n"
        "cls = load_workflow('chain.py:Chain', root)\n"
        "ir = build_ir(cls)\n"
        "code, _ = live_code(cls, root)\n"
        "env = environment_part(ir, root)\n"
        "digests = {}\n"
        "for node in ir.nodes:\n"
        "    parts = key_parts(ir, node, code(node), env, digests)\n"
        "    digests[(node.name, 'out')] = parts.key\n"
        "print(time.perf_counter() - t0)\n"
    )
    root = _workspace(CHAIN.replace("{n}", str(n - 1)), "chain")
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _cached_step_cost(n: int = 1000) -> float:
    """Milliseconds per cached step: (warm n-chain - warm 1-chain) / n, whole process."""
    times = []
    for steps in (1, n):
        root = _workspace(CHAIN.replace("{n}", str(steps - 1)), "chain")
        try:
            _run([*AXL, "run", "local", "-m", "chain.py:Chain"], root)
            times.append(
                statistics.median(
                    _run([*AXL, "run", "local", "-m", "chain.py:Chain"], root)[0] for _ in range(3)
                )
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return (times[1] - times[0]) / (n - 1) * 1000


def _hash_speed(size: int = 512 << 20) -> float:
    """GB/s of axl's file hashing over a file already in the page cache."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from axl.hashing import file_digest

    with tempfile.NamedTemporaryFile(delete=False) as f:
        block = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(block)
    try:
        file_digest(f.name)
        t0 = time.perf_counter()
        file_digest(f.name)
        return size / (time.perf_counter() - t0) / 1e9
    finally:
        os.unlink(f.name)


def main() -> None:
    rows = []
    for label, source, spec, target in (
        (
            "50-step chain",
            CHAIN.replace("{n}", "49"),
            "chain.py:Chain",
            "cold < 1.0 s, warm < 0.3 s",
        ),
        ("200-wide fan-out", FANOUT, "fan.py:Fan", "cold < 1.5 s"),
        (
            "5M x 4 DataFrame -> mean -> scalar",
            FRAME,
            "frame.py:Frame",
            "cold < 2.5 s, warm < 0.3 s",
        ),
    ):
        res = _cold_warm(source, spec)
        rows.append((label, res["cold"], res["warm"], target))
    print("| workload | cold s | cold peak MiB | warm s | warm peak MiB | target |")
    print("|---|---:|---:|---:|---:|---|")
    for label, cold, warm, target in rows:
        cells = [label, f"{cold[0]:.3f}", f"{cold[1]:.0f}", f"{warm[0]:.3f}", f"{warm[1]:.0f}"]
        print(f"| {' | '.join(cells)} | {target} |")
    print()
    print("| measure | value | target |")
    print("|---|---:|---|")
    cost = _cached_step_cost()
    print(f"| cached step cost (1,000-step chain, whole process) | {cost:.2f} ms | < 2 ms |")
    print(f"| plan + key 1,000 steps | {_planning(1000):.3f} s | |")
    print(f"| plan + key 10,000 steps | {_planning(10000):.3f} s | < 3 s |")
    print(f"| hashing (512 MiB file, page cache) | {_hash_speed():.2f} GB/s | >= 1 GB/s |")


if __name__ == "__main__":
    main()
