"""Remote-cache benchmark (issue #7): a warm build from the remote next to a warm local build.

Run: ``python bench/bench_remote.py`` (or ``make bench``). Builds the churn example
(``examples/churn_workflow.py`` with ``examples/churn.yaml``) with ``axl run local`` in fresh
processes and prints a markdown table (median of 3 after one warm-up) of whole-process wall times
and of the build's own time (``seconds`` in the ``--json`` report: keys, lookups, downloads,
uploads; without the imports of the workflow module, which dominate the wall time here):

* cold: empty local cache, every step runs (once without a remote, then uploading to each);
* warm, local: the same workspace again (every step a local hit);
* warm from remote: a second workspace with an empty local cache on each run, every step a remote
  hit (records checked, blobs downloaded and verified by digest) and the workflow's load taken
  from the remote (no import of the user's module), for a real nginx WebDAV server on loopback
  (HTTP) and for a shared folder.

The remote rows measure what a CI machine or a laptop pays for a build someone else ran.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNS = 3
SPEC = "churn_workflow.py:ChurnWorkflow"


def workspace(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    (root / "uv.lock").write_text("version = 1\n")
    for name in ("churn_workflow.py", "churn.yaml"):
        shutil.copy(REPO / "examples" / name, root / name)
    return root


def build(root: Path, cache: Path, remote: str) -> tuple[float, dict[str, Any]]:
    argv = [sys.executable, "-m", "axl", "run", "local", "-m", SPEC, "-p", "churn.yaml"]
    argv += ["--json", "--cache-dir", str(cache), "--remote-cache", remote]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXL_")}
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")
    return took, json.loads(proc.stdout)


Timed = tuple[float, dict[str, Any]]


def repeated(root: Path, caches: list[Path], remote: str, source: str) -> list[Timed]:
    """A warm-up then RUNS builds (one per cache folder), each a full cache hit from ``source``."""
    runs = []
    for i, cache in enumerate(caches):
        took, report = build(root, cache, remote)
        sources = {s.get("source", "local") for s in report["steps"].values()}
        statuses = {s["status"] for s in report["steps"].values()}
        if statuses != {"cached"} or sources != {source}:
            raise SystemExit(f"expected only {source} hits, got {report['steps']}")
        if i:  # the first run warms the OS caches and the .pyc files
            runs.append((took, report))
    return runs


def row(label: str, runs: list[Timed]) -> str:
    wall = statistics.median(t for t, _ in runs)
    engine = statistics.median(r["seconds"] for _, r in runs)
    report = runs[-1][1]
    remote = report.get("remote", {})
    steps = report["steps"].values()
    ran = sum(1 for s in steps if s["status"] == "ran")
    hits = sum(1 for s in steps if s.get("source") == "remote")
    down = remote.get("bytes_downloaded", 0) / 1024
    up = remote.get("bytes_uploaded", 0) / 1024
    return (
        f"| {label} | {wall:.2f} s | {engine:.3f} s | {ran} | {hits} | {down:,.0f} KiB "
        f"| {up:,.0f} KiB |"
    )


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from nginx_fixtures import Nginx, NginxMissing

    tmp = Path(tempfile.mkdtemp(prefix="axl-bench-remote-"))
    try:
        try:
            server: Nginx | None = Nginx(tmp / "nginx")
        except NginxMissing as exc:
            print(f"(no nginx, HTTP rows skipped: {exc})\n")
            server = None
        remotes = [("folder", str(tmp / "shared"))]
        if server is not None:
            server.start()
            remotes.insert(0, ("HTTP, nginx WebDAV", server.url))
        try:
            print(
                "| build of churn | wall time | build time | steps run | remote hits "
                "| downloaded | uploaded |"
            )
            print("|---|---|---|---|---|---|---|")
            ci = workspace(tmp / "ci")
            print(row("cold, no remote cache", [build(ci, tmp / "ci-cache-none", "")]))
            for i, (name, url) in enumerate(remotes):
                ci_cache = tmp / f"ci-cache-{i}"
                print(row(f"cold, uploading to {name}", [build(ci, ci_cache, url)]))
                if i == 0:
                    warm = repeated(ci, [ci_cache] * (RUNS + 1), url, "local")
                    print(row("warm, local cache", warm))
                laptop = workspace(tmp / f"laptop-{i}")
                empty = [tmp / f"fresh-{i}-{j}" for j in range(RUNS + 1)]
                fresh = repeated(laptop, empty, url, "remote")
                print(row(f"warm from remote ({name}), empty local cache", fresh))
            sys.stdout.flush()
        finally:
            if server is not None:
                server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
