"""Recording runs whose steps finish one by one elsewhere (the ops of a compiled Dagster job) in
the same history as the local engine's builds, so ``axl runs``, ``show``, ``logs`` and ``report``
list them, marked with the backend that ran them.

The local engine writes a run's record once, from its report (:func:`axl.exec._session.
record_run`). Here each step adds itself to its run's record as it ends, under a lock: a job's
ops may run in several processes at once. The record is named like any run (the start time, to
the microsecond, then a suffix: the backend's own run id, shortened), so the history sorts it
among the others and ``axl show <that id>`` finds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore, write_atomic
from axl.exec._history import new_run_id

#: Step statuses of a run that went well.
_GOOD = ("ran", "cached")


def manifest_graph(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A run record's graph (as :func:`axl.exec._history.graph_record`) from an IO manifest."""
    from axl.runtime._manifest import iter_leaves

    nodes, edges = [], []
    for name, entry in manifest.get("steps", {}).items():
        outputs = [[o["name"], o["handler"]] for o in entry.get("outputs", [])]
        nodes.append({"name": name, "kind": entry.get("kind", "step"), "outputs": outputs})
        for arg, item in entry.get("inputs", {}).items():
            for leaf in iter_leaves({arg: item}):
                src = leaf.get("from")
                if isinstance(src, dict):
                    edges.append([src["step"], src["output"], name, arg])
    return {"nodes": nodes, "edges": edges}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_step(
    store: LocalStore,
    manifest: Mapping[str, Any],
    *,
    backend: str,
    run: str,
    step: str,
    data: dict[str, Any],
) -> Path:
    """Add ``step`` (its JSON as in a build report, with ``started``) to the record of the
    ``backend`` run ``run``, creating the record for its first step.

    Returns:
        The record's path.
    """
    workflow = manifest["workflow"]
    folder = store.runs_dir / workflow["name"]
    suffix = f"{backend[:2]}{''.join(c for c in run if c.isalnum())[:10]}"
    with _locked(folder):
        found = sorted(folder.glob(f"*-{suffix}.json"))
        if found:
            path: Path = found[-1]
            record: dict[str, Any] = json.loads(path.read_text())
        else:
            started = float(data.get("started") or time.time())
            run_id = new_run_id(started, suffix)
            path = folder / f"{run_id}.json"
            record = _new_record(workflow, backend, run, run_id, started, manifest)
        record["steps"][step] = data
        _settle(record, data)
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        write_atomic(path, text.encode(), store.tmp_dir)
    return path


def _new_record(
    workflow: Mapping[str, Any],
    backend: str,
    run: str,
    run_id: str,
    started: float,
    manifest: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "workflow": workflow["name"],
        "hash": workflow.get("hash", ""),
        "run": run_id,
        "backend": backend,
        "backend_run": run,
        "ok": True,
        "started": started,
        "finished": started,
        "seconds": 0.0,
        "output_dir": None,
        "steps": {},
        "graph": manifest_graph(manifest),
        "host": os.uname().nodename,
        "user": os.environ.get("USER", ""),
    }


def _settle(record: dict[str, Any], step: Mapping[str, Any]) -> None:
    """The run's span and result with ``step`` in it (a step may end before an earlier one)."""
    began = float(step.get("started") or record["started"])
    record["started"] = min(float(record["started"]), began)
    record["finished"] = max(float(record["finished"]), began + float(step.get("seconds") or 0))
    record["seconds"] = round(record["finished"] - record["started"], 6)
    record["ok"] = all(s.get("status") in _GOOD for s in record["steps"].values())
