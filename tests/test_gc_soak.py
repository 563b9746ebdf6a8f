"""#18: ``axl cache gc`` in a loop beside 8 concurrent builds of overlapping workflows.

A bounded soak (well under 2 minutes): every build must succeed with output digests equal to a
sequential reference build's, gc must really delete while the builds run (the shared cache starts
with old entries, so gc has something to take), and ``axl cache verify`` must be clean at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import write

pytestmark = pytest.mark.integration

#: Every params set shares ``gen`` and the shards; ``mix`` and ``total`` differ by seed.
SOAK = """
import hashlib

from axl import Workflow, step


class Soak(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 20000, "seed": 0, "shards": 4}

    @step
    def gen(self, n: int) -> bytes:
        return b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(n // 32 + 1))

    @step
    def shard(self, data: bytes, i: int) -> bytes:
        return hashlib.sha256(data[i::4]).digest() * 2000

    @step
    def mix(self, parts: list, seed: int) -> bytes:
        return hashlib.sha256(b"".join(parts) + bytes([seed])).digest() * 1000

    @step(io_handler="json")
    def total(self, mixed: bytes, parts: list) -> dict:
        return {"size": len(mixed) + sum(len(p) for p in parts)}

    def graph(self):
        p = self.params()
        data = self.gen(p["n"])
        parts = [self.shard(data, i, name=f"shard{i}") for i in range(4)]
        return self.total(self.mix(parts, p["seed"]), parts)
"""

BUILDS = 8
#: Builds each of the 8 runs one after the other (so gc meets builds at every stage).
ROUNDS = 3
SEEDS = (0, 1, 2, 3)


def _axl(root: Path, *args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "axl", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "AXL_CACHE_DIR": ""},
    )


def _digests(root: Path, cache: Path, seed: int, *mode: str) -> dict[str, Any]:
    r = _axl(
        root,
        "run",
        "local",
        "-m",
        "soak.py:Soak",
        "-p",
        f"p{seed}.yaml",
        "--json",
        "--cache-dir",
        str(cache),
        *mode,
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    steps = json.loads(r.stdout)["steps"]
    return {n: {o: v["digest"] for o, v in s["outputs"].items()} for n, s in steps.items()}


def _age(folder: Path, seconds: float) -> None:
    """Make every entry look ``seconds`` old (last used long before the builds began)."""
    then = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (then, then), follow_symlinks=False)


def test_gc_in_a_loop_beside_eight_builds(workspace: Path) -> None:
    write(workspace / "soak.py", SOAK)
    for seed in SEEDS:
        write(workspace / f"p{seed}.yaml", f"seed: {seed}\n")
    reference_cache = workspace / "reference"
    reference = {seed: _digests(workspace, reference_cache, seed, "--jobs", "1") for seed in SEEDS}
    # The shared cache starts with every result, 3 hours old and unprotected by run records.
    shared = workspace / "shared"
    shutil.copytree(reference_cache, shared, symlinks=True)
    shutil.rmtree(shared / "runs")
    _age(shared, 3 * 3600)

    done = threading.Event()
    gc_runs: list[dict[str, int]] = []
    failures: list[str] = []

    def gc_loop() -> None:
        while not done.is_set():
            t0 = time.monotonic()
            r = _axl(
                workspace, "cache", "gc", "--max-size", "1", "--json", "--cache-dir", str(shared)
            )
            if r.returncode != 0:
                failures.append(f"gc: {r.stderr}")
                return
            gc_runs.append({**json.loads(r.stdout), "took": time.monotonic() - t0})

    results: dict[tuple[int, int], dict[str, Any]] = {}

    def builds_of(index: int) -> None:
        mode = ("--jobs", "2") if index % 2 else ("--jobs", "1")
        for round_ in range(ROUNDS):
            seed = SEEDS[(index + round_) % len(SEEDS)]
            try:
                results[(index, round_)] = _digests(workspace, shared, seed, *mode)
            except AssertionError as exc:
                failures.append(f"build {index}, round {round_}: {exc}")

    started = time.monotonic()
    collector = threading.Thread(target=gc_loop)
    collector.start()
    builds = [threading.Thread(target=builds_of, args=(i,)) for i in range(BUILDS)]
    for thread in builds:
        thread.start()
    for thread in builds:
        thread.join(timeout=110)
    done.set()
    collector.join(timeout=110)
    assert time.monotonic() - started < 120
    assert not failures, failures
    assert len(results) == BUILDS * ROUNDS
    for (index, round_), digests in results.items():
        assert digests == reference[SEEDS[(index + round_) % len(SEEDS)]], (index, round_)
    # gc ran beside the builds and took the old entries no build had used yet.
    # (Each gc is a fresh process: a second or more on a loaded 2-core machine.)
    assert len(gc_runs) >= 3, [round(r["took"], 2) for r in gc_runs]
    assert sum(run["removed_records"] for run in gc_runs) > 0, gc_runs
    r = _axl(workspace, "cache", "verify", "--json", "--cache-dir", str(shared))
    assert r.returncode == 0, r.stderr
    verified = json.loads(r.stdout)
    assert verified["bad_blobs"] == 0, verified
    assert verified["bad_records"] == 0, verified
    # And the leases of the finished builds are gone.
    assert not list((shared / "leases").iterdir())
