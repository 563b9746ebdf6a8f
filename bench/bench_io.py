"""Benchmark the IO handlers on a large DataFrame: save, hash, load, file size and peak memory.

Each handler runs in fresh Python processes, so its peak RSS (``resource.getrusage``) is its own;
each is run ``--repeat`` times, interleaved, and the table shows the best time of each phase (what
the code costs: on a shared machine the slower runs measure the neighbours) and the median of the
memory figures. End-to-end is the best run's save + hash + load.
A child imports numpy, pandas, pyarrow and axl first and takes that as its baseline; it builds the
frame in place (one allocation, no transient copy), saves it with the handler, hashes the file with
:func:`axl.hashing.file_digest`, drops the frame and loads the file back, as a producing and a
consuming step would. "peak / frame" is (peak RSS - baseline) / frame size. RSS also counts the
page cache pages that a process maps (``file_digest`` and the arrow loader map the file), which are
shared and not a copy; "anon peak / frame" counts private memory only (``/proc/self/statm``
sampled every millisecond).

The disk's sequential write speed is measured in the same run with ``dd`` (1 MiB blocks, as many
bytes as the largest file, best of ``--repeat``): with ``conv=fdatasync`` (the device) and without
(the page cache, which is where the handlers' writes land; the page cache is also warm for every
load).

Run ``python bench/bench_io.py`` (``--rows``, ``--repeat``, ``--handlers``); ``bench/run.py``
calls :func:`main`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HANDLERS = ("pickle", "parquet", "arrow")
ROWS = 5_000_000
COLS = 4
REPEAT = 3
_PAGE = os.sysconf("SC_PAGE_SIZE")


class AnonPeak:
    """Samples the process's private (anonymous) resident memory in a thread; keeps the peak."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm", "rb") as f:
            _, resident, shared = f.read().split()[:3]
        return (int(resident) - int(shared)) * _PAGE

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> AnonPeak:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def _child(handler_name: str, rows: int, folder: Path) -> dict[str, Any]:
    import gc

    import numpy as np
    import pandas as pd
    import pyarrow.ipc
    import pyarrow.parquet

    from axl import io
    from axl.hashing import file_digest

    _ = (pyarrow.ipc, pyarrow.parquet)  # loaded before the baseline, like numpy and pandas
    handler = io.get(handler_name)
    baseline = _peak_bytes()
    anon_baseline = AnonPeak.now()

    with AnonPeak() as anon:
        data = np.empty((COLS, rows))
        rng = np.random.default_rng(0)
        for i in range(COLS):
            rng.standard_normal(out=data[i])
        # data.T is a view: the frame's one float block is `data` itself, each column contiguous.
        df = pd.DataFrame(data.T, columns=[f"c{i}" for i in range(COLS)], copy=False)
        del data
        frame_bytes = int(df.memory_usage(index=True, deep=True).sum())
        probe = (float(df["c0"].iloc[0]), float(df[f"c{COLS - 1}"].iloc[-1]))

        path = folder / f"frame.{handler.extension}"
        tmp = folder / f".frame.{handler.extension}.tmp"
        t0 = time.perf_counter()
        handler.save(df, tmp)
        os.replace(tmp, path)
        t1 = time.perf_counter()
        file_digest(path)
        t2 = time.perf_counter()
        del df
        gc.collect()
        t3 = time.perf_counter()
        back = handler.load(path)
        t4 = time.perf_counter()

    got = (float(back["c0"].iloc[0]), float(back[f"c{COLS - 1}"].iloc[-1]))
    if got != probe or back.shape != (rows, COLS):
        raise SystemExit(f"{handler_name}: the loaded frame differs from the saved one")
    return {
        "handler": handler_name,
        "save": t1 - t0,
        "hash": t2 - t1,
        "load": t4 - t3,
        "e2e": (t2 - t0) + (t4 - t3),
        "file_mb": path.stat().st_size / 1e6,
        "frame_mb": frame_bytes / 1e6,
        "baseline_mb": baseline / 1e6,
        "peak_mb": _peak_bytes() / 1e6,
        "peak_ratio": (_peak_bytes() - baseline) / frame_bytes,
        "anon_ratio": (anon.peak - anon_baseline) / frame_bytes,
    }


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _dd_speed(folder: Path, megabytes: int, sync: bool) -> float:
    """MB/s that ``dd`` reports for a sequential write of ``megabytes`` MiB."""
    target = folder / "dd.bin"
    argv = ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={megabytes}"]
    if sync:
        argv.append("conv=fdatasync")
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    target.unlink()
    # dd's own timing ("167772160 bytes (168 MB, 160 MiB) copied, 0.15 s, 1.1 GB/s"), which
    # leaves out process start-up; our wall clock if its output is not in that form.
    match = re.search(r"^(\d+) bytes .* copied, ([\d.,]+) s", proc.stderr, re.MULTILINE)
    if match:
        return int(match.group(1)) / 1e6 / float(match.group(2).replace(",", "."))
    return megabytes * 1.048576 / elapsed


def _run_child(handler: str, rows: int, folder: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", handler, "--rows", str(rows), "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child for {handler} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


_TIMES = ("save", "hash", "load", "e2e")


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best time of the runs (what the code costs; slower runs measure the neighbours' load),
    median of everything else."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            pick = min if key in _TIMES else statistics.median
            out[key] = pick(r[key] for r in runs)
    return out


def render(results: list[dict[str, Any]], disk: tuple[float, float], rows: int, repeat: int) -> str:
    """The markdown table and the verdict against the issue's targets."""
    load = os.getloadavg()[0]
    lines = [
        f"IO handlers, {rows:,} x {COLS} float64 DataFrame ({results[0]['frame_mb']:.0f} MB in "
        f"memory); best time and median memory of {repeat} runs, each in a fresh process; "
        "warm page cache; "
        f"{os.cpu_count()} CPUs, load average {load:.1f}",
        "",
        "| handler | save s | hash s | load s | end-to-end s | file MB | peak RSS MB "
        "| peak / frame | anon peak / frame |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['handler']} | {r['save']:.3f} | {r['hash']:.3f} | {r['load']:.3f} "
            f"| {r['e2e']:.3f} | {r['file_mb']:.1f} | {r['peak_mb']:.0f} "
            f"| {r['peak_ratio']:.2f}x | {r['anon_ratio']:.2f}x |"
        )
    lines += [
        "",
        f"Sequential write (dd, same run): {disk[0]:,.0f} MB/s to the disk (fdatasync), "
        f"{disk[1]:,.0f} MB/s to the page cache. Baseline RSS after imports: "
        f"{results[0]['baseline_mb']:.0f} MB.",
    ]
    by_name = {r["handler"]: r for r in results}
    if "arrow" in by_name and "pickle" in by_name:
        arrow, pickle = by_name["arrow"], by_name["pickle"]
        to_disk = arrow["file_mb"] / disk[0]
        to_cache = arrow["file_mb"] / disk[1]
        lines.append(
            f"Targets: arrow end-to-end is {pickle['e2e'] / arrow['e2e']:.1f}x faster than pickle "
            f"(target >= 3x), or {arrow['e2e'] / to_disk:.1f}x the time dd takes to write its file "
            f"to the disk ({arrow['e2e'] / to_cache:.1f}x to the page cache; target <= 2x); "
            f"arrow peak memory {arrow['peak_ratio']:.2f}x the frame in RSS, "
            f"{arrow['anon_ratio']:.2f}x in private memory (target <= 2x)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark, print the markdown table and return it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--handlers", default=",".join(HANDLERS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.rows, args.dir)))
        return ""
    handlers = args.handlers.split(",")
    with tempfile.TemporaryDirectory(prefix="axl-bench-io-") as tmp:
        folder = Path(tmp)
        runs: dict[str, list[dict[str, Any]]] = {h: [] for h in handlers}
        # Interleaved, so a burst of load on a shared machine does not fall on one handler only.
        for n in range(args.repeat):
            for handler in handlers:
                run_dir = folder / f"{handler}-{n}"
                run_dir.mkdir()
                runs[handler].append(_run_child(handler, args.rows, run_dir))
                for leftover in run_dir.iterdir():
                    leftover.unlink()
        megabytes = max(1, round(max(r["file_mb"] for rs in runs.values() for r in rs) / 1.048576))
        # Best of as many runs as the handlers had, for the same reason as their best times.
        disk = (
            max(_dd_speed(folder, megabytes, sync=True) for _ in range(args.repeat)),
            max(_dd_speed(folder, megabytes, sync=False) for _ in range(args.repeat)),
        )
    table = render([_summary(runs[h]) for h in handlers], disk, args.rows, args.repeat)
    print(table)
    return table


if __name__ == "__main__":
    main()
