"""Run every benchmark and print its tables (``make bench``). Figures go to bench/RESULTS.md by
hand, with the machine and the date: these machines are shared and noisy, so compare ratios within
one run."""

from __future__ import annotations

import importlib
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = [
    "bench_engine",
    "bench_io",
    "bench_null_build",
    "bench_remote",
    "bench_image",
    "bench_sources",
    "bench_audit",
    "bench_emit_size",
    "bench_cluster",
]


def main() -> None:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    selected = sys.argv[1:] or MODULES
    print(f"# axl benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"machine: {platform.node()}, {platform.machine()}, {_cpus()} cores, Python "
        f"{platform.python_version()}"
    )
    for name in selected:
        if not (HERE / f"{name}.py").exists():
            continue
        print(f"\n## {name}\n")
        sys.stdout.flush()
        # Each module's main() may parse sys.argv: give it its own name and no arguments.
        sys.argv = [f"{name}.py"]
        importlib.import_module(name).main()
        sys.stdout.flush()


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
