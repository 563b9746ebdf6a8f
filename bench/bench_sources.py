"""External-input benchmarks (issue #16): hashing a big folder, and what a folder input costs a
warm null build.

Run: ``python bench/bench_sources.py`` (or ``make bench``). Makes a folder of 1,000 files of
1 MiB (1 GiB) in a temporary folder, then prints two tables:

* cold hashing from the page cache: the folder's Merkle listing with an empty stat cache (every
  file read and hashed, in parallel threads), after one untimed read that brings the files into
  the page cache; median of 3, in GB/s (10^9 bytes);
* a warm null build (``axl run local``, nothing changed, every step cached) of a two-step
  workflow, with and without ``Dir(...)`` of that folder as an input: whole-process wall and CPU
  time, median of 5 after one warm-up. The difference is what stat-checking 1,000 files and
  re-keying the step costs.
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

FILES = 1000
SIZE = 1 << 20
RUNS = 5

WORKFLOW = """
from axl import Dir, Workflow, step


class Plain(Workflow):
    @step
    def count(self) -> int:
        return 1

    @step
    def report(self, n: int) -> int:
        return n

    def graph(self):
        return self.report(self.count())


class WithFolder(Workflow):
    @step
    def count(self, raw: str) -> int:
        return 1

    @step
    def report(self, n: int) -> int:
        return n

    def graph(self):
        return self.report(self.count(Dir("raw")))
"""


def make_folder(root: Path) -> Path:
    folder = root / "raw"
    for i in range(FILES):
        sub = folder / f"part-{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        # Distinct content per file (a repeated block would hash no differently, but be honest).
        (sub / f"file-{i:04d}.bin").write_bytes(os.urandom(SIZE))
    return folder


def cold_hash(folder: Path, scratch: Path) -> list[float]:
    from axl.graph._loadcache import StatCache
    from axl.graph._sources import list_folder
    from axl.ir import Source

    src = Source("dir", "raw")
    for path in folder.rglob("*.bin"):
        path.read_bytes()  # into the page cache: the target is hashing speed, not disk speed
    rates = []
    for i in range(3):
        stats = StatCache(scratch / f"stat-{i}.json")  # empty: nothing is trusted
        t0 = time.perf_counter()
        listing = list_folder(src, folder, stats, "bench")
        seconds = time.perf_counter() - t0
        assert len(listing.files) == FILES
        rates.append(FILES * SIZE / seconds / 1e9)
    return rates


def _timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def null_build(root: Path, cls: str) -> tuple[float, float]:
    argv = [sys.executable, "-m", "axl", "run", "local", "-m", f"flows.py:{cls}"]
    subprocess.run(argv, cwd=root, check=True, capture_output=True)  # build, fill the caches
    time.sleep(2.5)  # files younger than 2 s are re-hashed rather than trusted by their stat
    subprocess.run(argv, cwd=root, check=True, capture_output=True)  # now the stats are trusted
    runs = [_timed(argv, root) for _ in range(RUNS)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="axl-bench-sources-"))
    try:
        root = base / "ws"
        root.mkdir()
        (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
        (root / "uv.lock").write_text("version = 1\n")
        (root / "flows.py").write_text(WORKFLOW)
        folder = make_folder(root)
        rates = cold_hash(folder, base)
        print(f"folder: {FILES} files x {SIZE >> 20} MiB = {FILES * SIZE / 2**30:.0f} GiB\n")
        print("| cold hash (page cache, empty stat cache) | GB/s |")
        print("| --- | ---: |")
        for i, rate in enumerate(rates, 1):
            print(f"| run {i} | {rate:.2f} |")
        print(f"| median | {statistics.median(rates):.2f} |\n")
        plain = null_build(root, "Plain")
        with_dir = null_build(root, "WithFolder")
        print("| warm null build (median of 5) | wall s | CPU s |")
        print("| --- | ---: | ---: |")
        print(f"| without the folder input | {plain[0]:.3f} | {plain[1]:.3f} |")
        print(f"| with Dir(raw): 1,000 files, 1 GiB | {with_dir[0]:.3f} | {with_dir[1]:.3f} |")
        print(f"| difference | {with_dir[0] - plain[0]:+.3f} | {with_dir[1] - plain[1]:+.3f} |")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
