"""Run history: reading the records every build leaves in ``<cache>/runs/<workflow>/<run>.json``.

A record is the build's JSON report (what ``axl run local --json`` prints) plus, per step, its key
parts, and for the build as a whole the host, the user and the graph's shape (:func:`graph_record`).
Records are written by :func:`axl.exec._session.record_run`; this module only reads them, so it
stays importable on the warm path (json and pathlib, nothing else).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.cache._records import OutputRecord
from axl.errors import UsageError

if TYPE_CHECKING:
    from axl.cache._local import LocalStore
    from axl.ir import IRWorkflow

#: Names ``axl show``/``axl report`` accept for the newest run.
LATEST = ("last", "latest")
#: The backend of a record that names none: the local engine (records before backends were kept).
LOCAL = "local"


def new_run_id(started: float, suffix: str | None = None) -> str:
    """A run id: the UTC start to the microsecond (so ids sort in start order), then ``suffix``
    (default: random)."""
    micros = int(started % 1 * 1_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started)) + f".{micros:06d}"
    return f"{stamp}-{suffix or os.urandom(3).hex()}"


def graph_record(ir: IRWorkflow) -> dict[str, Any]:
    """The graph's shape for a run record: nodes (kind, outputs and handlers) and data edges."""
    return {
        "nodes": [
            {"name": n.name, "kind": n.kind, "outputs": [[o.name, o.handler] for o in n.outputs]}
            for n in ir.nodes
        ],
        "edges": [[e.src, e.src_output, e.dst, e.dst_arg] for e in ir.edges],
    }


@dataclass(frozen=True)
class StepRun:
    """One step of a recorded build."""

    name: str
    status: str
    key: str | None = None
    seconds: float = 0.0
    started: float = 0.0
    outputs: dict[str, OutputRecord] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    log_digest: str | None = None
    attempts: int = 1
    source: str = "local"
    undeclared: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> StepRun:
        outputs: dict[str, OutputRecord] = {}
        for out, rec in dict(data.get("outputs") or {}).items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                outputs[out] = OutputRecord.from_json(rec)
        return cls(
            name=name,
            status=str(data.get("status", "unknown")),
            key=data.get("key"),
            seconds=float(data.get("seconds") or 0.0),
            started=float(data.get("started") or 0.0),
            outputs=outputs,
            error=data.get("error"),
            traceback=data.get("traceback"),
            reason=data.get("reason"),
            log_digest=data.get("log_digest"),
            attempts=int(data.get("attempts") or 1),
            source=str(data.get("source", "local")),
            undeclared=tuple(str(v) for v in data.get("undeclared") or ()),
        )


@dataclass(frozen=True)
class Run:
    """One recorded build. ``data`` is the record as stored."""

    id: str
    workflow: str
    hash: str
    ok: bool
    started: float
    finished: float
    host: str
    user: str
    steps: dict[str, StepRun]
    path: Path
    data: dict[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> Run:
        started = float(data.get("started") or 0.0)
        return cls(
            id=str(data.get("run") or path.stem),
            workflow=str(data.get("workflow") or path.parent.name),
            hash=str(data.get("hash", "")),
            ok=bool(data.get("ok")),
            started=started,
            finished=float(data.get("finished") or started + float(data.get("seconds") or 0.0)),
            host=str(data.get("host", "")),
            user=str(data.get("user", "")),
            steps={n: StepRun.from_json(n, s) for n, s in dict(data.get("steps") or {}).items()},
            path=path,
            data=data,
        )

    @property
    def seconds(self) -> float:
        return max(0.0, self.finished - self.started)

    @property
    def backend(self) -> str:
        """What ran the build: ``local`` (axl's engine: build, run local) or ``dagster``."""
        return str(self.data.get("backend") or LOCAL)

    @property
    def result(self) -> str:
        """``ok``, ``FAILED``, or ``interrupted (SIGTERM)`` for a build a signal stopped."""
        if self.data.get("interrupted"):
            return f"interrupted ({self.data['interrupted']})"
        return "ok" if self.ok else "FAILED"

    def counts(self) -> dict[str, int]:
        """How many steps ended in each status, in a fixed order."""
        order = ("ran", "cached", "failed", "error", "skipped")
        found = [s.status for s in self.steps.values()]
        extra = sorted(set(found) - set(order))
        return {s: found.count(s) for s in (*order, *extra) if s in found}

    def summary(self) -> dict[str, Any]:
        """The line ``axl runs --json`` prints for this run."""
        return {
            "run": self.id,
            "workflow": self.workflow,
            "hash": self.hash,
            "ok": self.ok,
            "result": self.result,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 6),
            "host": self.host,
            "user": self.user,
            "steps": self.counts(),
            "backend": self.backend,
        }

    def step(self, name: str) -> StepRun:
        """The step ``name`` of this run.

        Raises:
            UsageError: The run has no such step.
        """
        found = self.steps.get(name)
        if found is None:
            from difflib import get_close_matches

            near = get_close_matches(name, list(self.steps), n=1)
            raise UsageError(
                f"run {self.id} of {self.workflow} has no step {name!r}",
                hint=f"did you mean {near[0]!r}?"
                if near
                else f"its steps are: {', '.join(self.steps) or 'none'}",
            )
        return found

    def ordered_steps(self) -> list[StepRun]:
        """The steps in the workflow's order (the record keeps them sorted by name)."""
        order = [str(n.get("name")) for n in self.graph()[0]]
        known = [self.steps[n] for n in order if n in self.steps]
        return known + [s for n, s in self.steps.items() if n not in set(order)]

    def graph(self) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, str]]]:
        """The nodes and edges ``(src, output, dst, arg)`` of the build's workflow.

        From the recorded graph when there is one; records written before it was kept get
        their edges back by matching each step's input digests to the outputs that made them.
        """
        graph = self.data.get("graph")
        if isinstance(graph, dict) and "nodes" in graph:
            nodes = [dict(n) for n in graph["nodes"]]
            edges = [(str(a), str(b), str(c), str(d)) for a, b, c, d in graph.get("edges", [])]
            return nodes, edges
        raw_steps = dict(self.data.get("steps") or {})
        nodes = [
            {
                "name": s.name,
                "kind": raw_steps[s.name].get("parts", {}).get("options", {}).get("kind", "step"),
                "outputs": [[o, r.handler] for o, r in s.outputs.items()],
            }
            for s in self.steps.values()
        ]
        return nodes, _edges_from_digests(self)


def _edges_from_digests(run: Run) -> list[tuple[str, str, str, str]]:
    made_by: dict[str, tuple[str, str]] = {}
    for step in run.steps.values():
        for out, rec in step.outputs.items():
            made_by.setdefault(rec.digest, (step.name, out))
    edges: list[tuple[str, str, str, str]] = []
    for name, raw in dict(run.data.get("steps") or {}).items():
        inputs = dict(raw.get("parts", {}).get("inputs", {}))
        for arg, value in sorted(inputs.items()):
            for digest in _digests(value):
                if digest in made_by:
                    src, out = made_by[digest]
                    edges.append((src, out, name, arg))
    return edges


def _digests(value: Any) -> list[str]:
    if isinstance(value, dict):
        if isinstance(value.get("digest"), str):
            return [value["digest"]]
        return [d for v in value.values() for d in _digests(v)]
    if isinstance(value, list):
        return [d for v in value for d in _digests(v)]
    return []


def run_paths(store: LocalStore, workflow: str | None = None) -> list[Path]:
    """The record files (of ``workflow``, or of every workflow), newest first by name.

    A record is named by its run id, which starts with the UTC second the build started, so
    names sort by time; only runs within one second can be out of order (their suffix is random).
    """
    folders = [store.runs_dir / workflow] if workflow else sorted(store.runs_dir.glob("*"))
    paths = [path for folder in folders if folder.is_dir() for path in folder.glob("*.json")]
    return sorted(paths, key=lambda p: p.name, reverse=True)


def _load(path: Path) -> Run | None:
    """The run recorded at ``path``; ``None`` when it is unreadable (a foreign or damaged file
    must not hide the others)."""
    with contextlib.suppress(ValueError, OSError, TypeError, AttributeError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return Run.from_json(data, path)
    return None


def _second(path: Path) -> str:
    return path.name.split("-", 1)[0]


def list_runs(store: LocalStore, workflow: str | None = None, limit: int = 0) -> list[Run]:
    """The recorded runs (of ``workflow``, or of every workflow), newest first; the newest
    ``limit`` only when ``limit`` > 0, reading no more records than that needs."""
    runs: list[Run] = []
    edge = ""
    for path in run_paths(store, workflow):
        # Enough once ``limit`` are read and the second of the last one kept has passed:
        # runs within one second are not ordered by their names.
        if 0 < limit <= len(runs) and _second(path) != edge:
            break
        run = _load(path)
        if run is not None:
            runs.append(run)
            edge = _second(path)
    # Newest first; the id breaks ties between runs that started in the same instant.
    runs.sort(key=lambda r: (r.started, r.id), reverse=True)
    return runs[:limit] if limit > 0 else runs


def last_run(store: LocalStore, workflow: str) -> Run | None:
    """The newest run of ``workflow``, or ``None`` when it was never built with this cache."""
    runs = list_runs(store, workflow, limit=1)
    return runs[0] if runs else None


def find_run(store: LocalStore, ref: str, workflow: str | None = None) -> Run:
    """The run ``ref`` names: ``last``, a run id, a unique prefix of one, or its random suffix.

    Raises:
        UsageError: No run, or several, match; or the record cannot be read.
    """
    paths = run_paths(store, workflow)
    where = f"of workflow {workflow!r} " if workflow else ""
    newest = list_runs(store, workflow, limit=1) if paths else []
    if not newest:
        raise UsageError(
            f"no runs {where}are recorded in {store.runs_dir}",
            hint="build first (axl run local -m ..., axl build //pkg:name), or pass --cache-dir",
        )
    if ref in LATEST:
        return newest[0]
    exact = [p for p in paths if p.stem == ref]
    found = exact or [p for p in paths if p.stem.startswith(ref) or p.stem.endswith("-" + ref)]
    if not found:
        raise UsageError(
            f"no run {ref!r} {where}in {store.runs_dir}",
            hint=f"list them with: axl runs (the newest is {newest[0].id})",
        )
    if len(found) > 1:
        shown = ", ".join(p.stem for p in found[:5]) + (", ..." if len(found) > 5 else "")
        raise UsageError(
            f"run {ref!r} is ambiguous: it matches {len(found)} runs ({shown})",
            hint="give more characters of the run id",
        )
    run = _load(found[0])
    if run is None:
        raise UsageError(f"the record of run {ref!r} cannot be read: {found[0]}")
    return run


def read_logs(store: LocalStore, run: Run, step: str) -> str:
    """What ``step`` printed (stdout and stderr, as captured) in ``run``; ``""`` when nothing.

    Cached steps carry the logs of the run that produced their result.

    Raises:
        UsageError: No such step, or its logs are no longer in the cache.
    """
    found = run.step(step)
    if found.log_digest is None:
        return ""
    path = store.verified_blob(found.log_digest)
    if path is None:
        raise UsageError(
            f"the logs of step {step!r} (blob {found.log_digest[:12]}) are no longer in the cache",
            hint=f"run the step again: axl run local -m ... --rerun {step}",
        )
    return path.read_bytes().decode("utf-8", errors="replace")
