"""What watching a step for undeclared inputs costs (issue #26): a step opening 100,000 files.

The step body opens and reads ``--files`` small files (64 bytes each, page cache warm). It runs in
a fresh process per measurement, in three setups, interleaved ``--repeat`` times (best time of
each, since slower runs on a shared machine measure the neighbours):

* ``off``: no audit hook in the process (what axl did before #26);
* ``idle``: the hook installed but no step running (every other process-wide audit event pays
  this: one global load);
* ``watched``: the step inside :func:`axl.runtime._audit.watch`, plus the filtering afterwards
  (:func:`~axl.runtime._audit.undeclared` over 100,000 recorded paths), as ``execute`` does.

Wall and CPU time (``time.process_time``: the process's own user + system time, which other
load on a shared machine disturbs less than wall time) are both shown. Target: ``watched``
within 5 % of ``off``. Run ``python bench/bench_audit.py`` (``--files``,
``--repeat``); ``bench/run.py`` calls :func:`main`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("off", "idle", "watched")


def _step(folder: str, count: int) -> int:
    total = 0
    for i in range(count):
        with open(f"{folder}/{i:06d}.txt", "rb") as f:
            total += len(f.read())
    return total


def _child(mode: str, folder: str, count: int) -> None:
    from axl.runtime import _audit

    _step(folder, count)  # warm the page cache and the dentry cache
    if mode != "off":
        _audit._install()
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "watched":
        with _audit.watch() as seen:
            _step(folder, count)
        reads = _audit.undeclared(seen, _audit.Policy(workspace=folder))
        assert len(reads) == count, len(reads)
    else:
        _step(folder, count)
    print(f"{time.perf_counter() - started:.6f} {time.process_time() - cpu:.6f}")


def _measure(mode: str, folder: str, count: int) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, folder, str(count)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    ).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DIR", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return
    with tempfile.TemporaryDirectory(prefix="axl-bench-audit-") as folder:
        for i in range(args.files):
            Path(folder, f"{i:06d}.txt").write_bytes(b"x" * 64)
        times: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
        for _ in range(args.repeat):
            for mode in MODES:
                times[mode].append(_measure(mode, folder, args.files))
    wall0 = min(w for w, _ in times["off"])
    cpu0 = min(c for _, c in times["off"])
    print(f"step opening {args.files:,} files of 64 B; best of {args.repeat}, fresh processes\n")
    print("| setup | best wall s | overhead | best CPU s | CPU per file us | CPU overhead |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in MODES:
        wall = min(w for w, _ in times[mode])
        cpu = min(c for _, c in times[mode])
        print(
            f"| {mode} | {wall:.3f} | {(wall / wall0 - 1) * 100:+.1f} % | {cpu:.3f} | "
            f"{cpu / args.files * 1e6:.2f} | {(cpu / cpu0 - 1) * 100:+.1f} % |"
        )


if __name__ == "__main__":
    main()
