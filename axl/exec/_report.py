"""What a build reports: per step status, key, time and outputs; JSON and run records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.cache._records import OutputRecord

#: Statuses a step can end a build in.
RAN, CACHED, FAILED, ERROR, SKIPPED = "ran", "cached", "failed", "error", "skipped"


@dataclass
class StepReport:
    """How one step ended."""

    name: str
    status: str
    key: str | None = None
    seconds: float = 0.0
    outputs: dict[str, OutputRecord] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    attempts: int = 0
    parts: dict[str, Any] = field(default_factory=dict)
    log_digest: str | None = None
    started: float = 0.0
    source: str = "local"
    #: Files and ``$VARIABLES`` the step read that its key does not cover (see axl.runtime._audit).
    undeclared: list[str] = field(default_factory=list)
    #: How to fix an ``error`` that is axl's (e.g. a full cache folder), when axl knows.
    hint: str | None = None
    #: The cluster worker that ran the step (``--executor dask``); ``None`` when it ran here.
    worker: str | None = None

    def to_json(self, view: Path | None = None) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, rec in self.outputs.items():
            out = rec.to_json()
            if view is not None:
                suffix = f".{rec.extension}" if rec.extension else ""
                out["path"] = str(view / self.name / f"{name}{suffix}")
            outputs[name] = out
        data: dict[str, Any] = {
            "status": self.status,
            "key": self.key,
            "seconds": round(self.seconds, 6),
            "outputs": outputs,
        }
        for attr in ("error", "hint", "traceback", "reason", "log_digest", "worker"):
            value = getattr(self, attr)
            if value is not None:
                data[attr] = value
        if self.attempts > 1:
            data["attempts"] = self.attempts
        if self.started:
            data["started"] = self.started
        if self.source != "local":
            data["source"] = self.source
        if self.undeclared:
            data["undeclared"] = list(self.undeclared)
        return data


@dataclass
class BuildReport:
    """A whole build of one workflow."""

    workflow: str
    hash: str
    steps: dict[str, StepReport]
    started: float
    finished: float
    view: Path | None = None
    run_id: str = ""
    #: What the remote cache did (hits, bytes, warnings) when one was used; see _remote_build.
    remote: dict[str, Any] | None = None
    #: The signal that stopped the build (``SIGINT``, ``SIGTERM``), if one did.
    interrupted: str | None = None

    @property
    def ok(self) -> bool:
        return self.interrupted is None and all(
            s.status in (RAN, CACHED) for s in self.steps.values()
        )

    def count(self, status: str) -> int:
        return sum(1 for s in self.steps.values() if s.status == status)

    def to_json(self) -> dict[str, Any]:
        data = {
            "workflow": self.workflow,
            "hash": self.hash,
            "run": self.run_id,
            "ok": self.ok,
            "started": self.started,
            "seconds": round(self.finished - self.started, 6),
            "output_dir": str(self.view) if self.view else None,
            "steps": {name: s.to_json(self.view) for name, s in self.steps.items()},
        }
        if self.remote is not None:
            data["remote"] = self.remote
        if self.interrupted is not None:
            data["interrupted"] = self.interrupted
        return data

    def run_record(self) -> dict[str, Any]:
        """What the run history keeps: the JSON report plus each step's key parts."""
        data = self.to_json()
        for name, step in self.steps.items():
            data["steps"][name]["parts"] = step.parts
        data["finished"] = self.finished
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a build; carries the report of what got done.

    A :class:`KeyboardInterrupt`, so that whoever does not record runs sees a plain interrupt.
    """

    def __init__(self, report: BuildReport) -> None:
        super().__init__(report.interrupted)
        self.report = report
        self.signame = report.interrupted or "SIGINT"
