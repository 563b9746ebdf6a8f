"""Image benchmarks (issue #10): ``axl build-image`` of the churn workflow on a real engine.

Run: ``python bench/bench_image.py`` (or ``make bench``). Starts the private Docker engine and
makes the base image if needed (as the tests do: tests/docker_fixtures.py), copies axl's
workspace with the churn example to a temporary folder, and prints a markdown table:

* the first run, which loads the workflow; it builds only when the engine lacks the image (and
  then its dependency layer may come from the engine's layer cache of earlier runs);
* a no-change ``axl build-image`` (target: under 0.5 s): nothing is built, the same image is
  reported; median of 5 whole-process runs, with their CPU time;
* a code-only rebuild (a constant in the workflow edited): only the code layers are rebuilt, the
  dependency layer is reused; median of 3.

Timings use a bytecode cache in a temporary folder (``PYTHONPYCACHEPREFIX``), as an installed
package has. Set ``AXL_BUILD_CA_BUNDLE`` / ``AXL_BUILD_NETWORK`` if this machine's builds need
them; by default the host's CA bundle and the host network are used (the private engine has no
bridge).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from docker_fixtures import ensure_base_image, host_ca_bundle, start_engine, stop_engine  # noqa: E402
from image_helpers import CHURN, CHURN_ARGS, make_churn_workspace  # noqa: E402

AXL = str(Path(sys.executable).with_name("axl"))


def _run(root: Path, env: dict[str, str], base: str) -> tuple[float, float, dict[str, Any]]:
    """One ``axl build-image --json``: wall seconds, CPU seconds, the JSON result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [AXL, "build-image", "-m", CHURN, *CHURN_ARGS, "--base", base, "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"axl build-image failed:\n{proc.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(proc.stdout)


def main() -> None:
    engine = start_engine()
    try:
        base = ensure_base_image(engine)
        env = engine.env(
            AXL_BUILD_CA_BUNDLE=os.environ.get("AXL_BUILD_CA_BUNDLE") or str(host_ca_bundle()),
            AXL_BUILD_NETWORK=os.environ.get("AXL_BUILD_NETWORK") or "host",
        )
        with tempfile.TemporaryDirectory(prefix="axl-bench-image-") as tmp:
            # A bytecode cache, as an installed package has (see bench_null_build).
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pyc")
            root = make_churn_workspace(Path(tmp) / "ws")
            rows = _measure(root, env, base)
    finally:
        engine.client.close()
        if engine.started:
            stop_engine()
    print("| build | wall s | CPU s | built | dependency layer |")
    print("| --- | ---: | ---: | --- | --- |")
    for name, wall, cpu, built, deps in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {built} | {deps} |")


def _measure(
    root: Path, env: dict[str, str], base: str
) -> list[tuple[str, float, float, str, str]]:
    rows = []
    wall, cpu, first = _run(root, env, base)
    # The first run loads the workflow (pandas, scikit-learn: compiled into the fresh .pyc cache);
    # it builds only if the engine lacks the image (its layers may be cached from earlier runs).
    built, deps = str(first["built"]), str(first["dependency_layer"] or "-")
    rows.append(("first run (loads the workflow)", wall, cpu, built, deps))
    runs = [_run(root, env, base) for _ in range(5)]
    assert all(not r[2]["built"] and r[2]["image_id"] == first["image_id"] for r in runs)
    rows.append(
        (
            "no change (median of 5)",
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            "False",
            "-",
        )
    )
    source = root / "examples" / "churn_workflow.py"
    original = source.read_text()
    edits = []
    for i in range(3):
        source.write_text(original.replace("HIGH_SPEND = 80.0", f"HIGH_SPEND = {81 + i}.0"))
        edits.append(_run(root, env, base))
    source.write_text(original)
    assert all(r[2]["built"] and r[2]["dependency_layer"] == "reused" for r in edits)
    rows.append(
        (
            "code-only change (median of 3)",
            statistics.median(r[0] for r in edits),
            statistics.median(r[1] for r in edits),
            "True",
            "reused",
        )
    )
    return rows


if __name__ == "__main__":
    main()
