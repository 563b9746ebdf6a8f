"""Emitted sizes (issue #24): how the Argo and Dagster outputs grow with the number of calls.

Run: ``python bench/bench_emit_size.py`` (or ``make bench``). For tiny, fanout, churn and the
2,000-call fan-out ``examples/wide.py``, prints a markdown table of

* Argo with Argo artifacts (the default): the Workflow's YAML and the manifest ConfigMap's;
* Argo with ``--store s3://...`` (inputs by digest, no artifact per input);
* Dagster: the generated module;

each in bytes and per step (per DAG task for Argo), and the compile time of one in-process
``axl compile`` (load + emit + validate + dump, best of 3; the sizes are exact, the times move
with the machine's load).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CASES = {
    "tiny": ("examples/tiny.py:Tiny", None),
    "fanout": ("examples/fanout.py:FanOut", None),
    "churn": ("examples/churn_workflow.py:ChurnWorkflow", "examples/churn.yaml"),
    "wide (2,000 calls)": ("examples/wide.py:Wide", None),
}
RUNS = 3
STORE = "s3://bucket/axl"


def measure(spec: str, params: str | None) -> dict[str, Any]:
    """Sizes and best compile times of one workflow, for each emitter."""
    from axl.emit import compile_workflow

    out: dict[str, Any] = {}
    variants = {
        "argo": ("argo", {}),
        "argo_store": ("argo", {"store": STORE}),
        "dagster": ("dagster", {}),
    }
    for name, (target, options) in variants.items():
        best = float("inf")
        text = ""
        for _ in range(RUNS):
            started = time.perf_counter()
            compiled = compile_workflow(
                target, spec, params_file=params, workspace=REPO, options=options
            )
            best = min(best, time.perf_counter() - started)
            text = compiled.text
        out[name] = (text, best)
    return out


def _split(text: str) -> tuple[int, int]:
    """(ConfigMap bytes, Workflow bytes) of an Argo emission."""
    parts = text.split("---\n")
    workflow = len(parts[-1].encode())
    return (len(parts[0].encode()) if len(parts) > 1 else 0), workflow


def main() -> None:
    sys.path.insert(0, str(REPO))
    from axl.emit import load_bundle

    print(
        "| workflow | steps | Argo Workflow B (per task) | ConfigMap B (per step) | "
        "with --store: Workflow B (per task) | Dagster module B (per step) | "
        "compile s: argo / --store / dagster |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, (spec, params) in CASES.items():
        bundle = load_bundle(spec, params_file=params, workspace=REPO)
        steps = len(bundle.ir.nodes)
        got = measure(spec, params)
        configmap, workflow = _split(got["argo"][0])
        _, stored = _split(got["argo_store"][0])
        dagster = len(got["dagster"][0].encode())
        times = " / ".join(f"{got[k][1]:.2f}" for k in ("argo", "argo_store", "dagster"))
        print(
            f"| {label} | {steps} | {workflow:,} ({workflow / steps:,.0f}) | "
            f"{configmap:,} ({configmap / steps:,.0f}) | {stored:,} ({stored / steps:,.0f}) | "
            f"{dagster:,} ({dagster / steps:,.0f}) | {times} |"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
