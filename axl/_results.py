"""What :func:`axl.build` and :func:`axl.results` return: a build's steps and its outputs as values.

Outputs are loaded lazily, on first access, by the handler that wrote them (the one named in the
step's result record), from the local cache; each is read once and kept. Nothing here imports the
workflow's module, so the outputs of an earlier build are readable in a process that never ran
it (pickled values import the classes they hold, as unpickling always does).

This module is imported by ``import axl``: it stays light (no engine, no handler libraries).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from axl.dsl import StepDef
from axl.errors import AxlError, UsageError

if TYPE_CHECKING:
    from axl.cache._local import LocalStore
    from axl.cache._records import OutputRecord

R = TypeVar("R")

#: Statuses of a step whose outputs exist.
_DONE = ("ran", "cached")


@dataclass(frozen=True)
class StepResult:
    """How one step ended in a build.

    Attributes:
        name: The step's node name (``train``, ``shard_sum-1``).
        status: ``ran``, ``cached``, ``failed`` (its code raised), ``error`` (axl could not run
            it) or ``skipped`` (an upstream did not succeed).
        key: Its action key (``None`` when it was never keyed).
        seconds: How long it ran (0 for a cache hit).
        source: Where a cached result came from: ``local`` or ``remote``.
        outputs: Output name -> its stored record (digest, size, handler, extension).
        error: What went wrong, for a failed step.
        traceback: The step's traceback, for a failed step.
        reason: Why it ran although cached (``--rerun``), or why it was skipped.
    """

    name: str
    status: str
    key: str | None = None
    seconds: float = 0.0
    source: str = "local"
    outputs: Mapping[str, OutputRecord] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the step's outputs exist (it ran or was cached)."""
        return self.status in _DONE

    @classmethod
    def of(cls, step: Any) -> StepResult:
        """From an engine :class:`~axl.exec.StepReport` or a recorded ``StepRun`` (same fields)."""
        return cls(
            name=step.name,
            status=step.status,
            key=step.key,
            seconds=step.seconds,
            source=step.source,
            outputs=dict(step.outputs),
            error=step.error,
            traceback=step.traceback,
            reason=step.reason,
        )


class BuildResult:
    """One build of a workflow: its status, its steps, and their outputs as values.

    ``result["evaluate"]`` is the value of step ``evaluate`` (a tuple in declared order for a step
    with several outputs; the dict of all values for the params step),
    ``result.output("split", "train")`` one named output. A step may also
    be given as the workflow's attribute (``result[Flow.evaluate]``): a type checker then sees
    the step's return annotation.
    """

    def __init__(
        self,
        *,
        workflow: str,
        hash: str,  # noqa: A002 - the name the JSON report and run records use
        run_id: str,
        steps: Mapping[str, StepResult],
        seconds: float,
        cache_dir: Path,
        view: Path | None = None,
    ) -> None:
        self.workflow = workflow
        self.hash = hash
        self.run_id = run_id
        self.steps: Mapping[str, StepResult] = dict(steps)
        self.seconds = seconds
        self.cache_dir = cache_dir
        self.view = view
        self._values: dict[tuple[str, str], Any] = {}
        self._store: LocalStore | None = None

    @property
    def ok(self) -> bool:
        """Whether every step ran or was cached."""
        return all(s.ok for s in self.steps.values())

    @property
    def status(self) -> str:
        """``ok`` or ``failed``."""
        return "ok" if self.ok else "failed"

    def count(self, status: str) -> int:
        """How many steps ended in ``status``."""
        return sum(1 for s in self.steps.values() if s.status == status)

    def failures(self) -> list[StepResult]:
        """The steps whose code failed or that axl could not run, in workflow order."""
        return [s for s in self.steps.values() if s.status in ("failed", "error")]

    def summary(self) -> str:
        """One line: ``churn: ok in 0.42s (2 ran, 4 cached)``."""
        counts = ", ".join(
            f"{self.count(s)} {s}"
            for s in ("ran", "cached", "failed", "error", "skipped")
            if self.count(s)
        )
        return f"{self.workflow}: {self.status} in {self.seconds:.2f}s ({counts})"

    def __repr__(self) -> str:
        return f"<BuildResult {self.summary()} run={self.run_id}>"

    def __iter__(self) -> Iterator[str]:
        return iter(self.steps)

    def __contains__(self, step: object) -> bool:
        return step in self.steps

    @overload
    def __getitem__(self, step: StepDef[R]) -> R: ...
    @overload
    def __getitem__(self, step: str) -> Any: ...
    def __getitem__(self, step: str | StepDef[Any]) -> Any:
        found = self.step(step)
        if not found.ok or "out" in found.outputs:  # one output (params step: all its values)
            return self.output(found.name, "out")
        return tuple(self.output(found.name, name) for name in found.outputs)

    def step(self, step: str | StepDef[Any]) -> StepResult:
        """The step named ``step`` (a node name, or the workflow's step attribute).

        Raises:
            UsageError: The build has no such step.
        """
        name = step if isinstance(step, str) else step.name
        found = self.steps.get(name)
        if found is None:
            from difflib import get_close_matches

            near = get_close_matches(name, list(self.steps), n=1)
            raise UsageError(
                f"workflow {self.workflow!r} has no step {name!r}",
                hint=f"did you mean {near[0]!r}?"
                if near
                else f"its steps: {', '.join(self.steps)}",
            )
        return found

    @overload
    def output(self, step: StepDef[R]) -> R: ...
    @overload
    def output(self, step: str | StepDef[Any], name: str | None = None) -> Any: ...
    def output(self, step: str | StepDef[Any], name: str | None = None) -> Any:
        """The value of output ``name`` of ``step`` (its only output when ``name`` is omitted),
        loaded by its handler on first access.

        Raises:
            UsageError: The step did not succeed, has no such output, or its blob is gone.
        """
        rec, found, out = self._record(step, name)
        if (found.name, out) not in self._values:
            from axl import io

            self._values[(found.name, out)] = io.get(rec.handler).load(self._blob(rec, found))
        return self._values[(found.name, out)]

    def path(self, step: str | StepDef[Any], name: str | None = None) -> Path:
        """The file holding output ``name`` of ``step`` (read-only, in the cache)."""
        rec, found, _ = self._record(step, name)
        return self._blob(rec, found)

    def _record(
        self, step: str | StepDef[Any], name: str | None
    ) -> tuple[OutputRecord, StepResult, str]:
        found = self.step(step)
        if not found.ok:
            raise UsageError(
                f"step {found.name!r} of {self.workflow!r} has no outputs: it {found.status}"
                + (f" ({found.error or found.reason})" if found.error or found.reason else ""),
                hint="fix it and build again",
            )
        names = list(found.outputs)
        if name is None:
            if len(names) != 1:
                raise UsageError(
                    f"step {found.name!r} has several outputs: {', '.join(names)}",
                    hint=f"name one: result.output({found.name!r}, {names[0]!r})",
                )
            name = names[0]
        rec = found.outputs.get(name)
        if rec is None:
            raise UsageError(
                f"step {found.name!r} has no output {name!r}",
                hint=f"its outputs: {', '.join(names)}",
            )
        return rec, found, name

    def _blob(self, rec: OutputRecord, step: StepResult) -> Path:
        if self._store is None:
            from axl.cache._local import LocalStore

            self._store = LocalStore(self.cache_dir)
        path = self._store.verified_blob(rec.digest)
        if path is None:
            raise UsageError(
                f"output of step {step.name!r} (blob {rec.digest[:12]}) is no longer in the "
                f"cache {self.cache_dir}",
                hint="build again to make it (a cache gc may have removed it)",
            )
        return path


class BuildFailed(AxlError):
    """A build in which a step failed (or could not run). ``result`` holds the whole build;
    ``step`` is the first step that failed, with its error and traceback.

    Raised by :func:`axl.build` unless ``raise_on_failure=False``.
    """

    exit_code = 1

    def __init__(self, result: BuildResult) -> None:
        self.result = result
        failures = result.failures()
        self.step: StepResult | None = failures[0] if failures else None
        first = self.step
        what = (
            f"step {first.name!r} {first.status}: {first.error}"
            if first is not None
            else "a step did not succeed"
        )
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        message = f"workflow {result.workflow!r} failed: {what}{more}"
        if first is not None and first.traceback:
            message += "\n" + first.traceback.rstrip()
        super().__init__(
            message,
            hint="completed steps stay cached: fix the step and build again; "
            "or build with raise_on_failure=False to get the result",
        )
