"""The incremental engine: key each step once its inputs are known, reuse or run it.

Steps are visited in dependency order. A step's key needs its inputs' content digests, so keying
and running interleave: when every input of a step is resolved, its key is computed; a valid
record under that key is a hit (no user code runs); otherwise the step runs (in a worker process,
or in this process with ``in_process``). Because inputs enter keys by content digest, a step that
reruns and produces the same bytes leaves its downstream cached (early cutoff).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from axl.cache._local import LocalStore
from axl.cache._records import ActionResult
from axl.errors import AxlError, CacheWriteError
from axl.exec._report import (
    CACHED,
    ERROR,
    FAILED,
    RAN,
    SKIPPED,
    BuildInterrupted,
    BuildReport,
    StepReport,
)
from axl.exec._tasks import make_task, params_task, run_params, stamps_of, strict_refusal
from axl.exec._workers import Workers
from axl.graph._keys import SOURCE, KeyParts, key_parts
from axl.ir import IRNode, IRWorkflow
from axl.runtime._lifetime import owned_children, signal_name
from axl.runtime._step import StepOutcome, StepTask, execute

if TYPE_CHECKING:
    # Imported lazily at run time: a build where every step is cached never starts a pool.
    from concurrent.futures import Future

    from axl.exec._sources import Resolved

#: node -> its code part; raising is allowed (the error is reported for that step).
CodeProvider = Callable[[IRNode], dict[str, str]]
#: Called with (step name, status) for progress displays: "queued" for every step when the
#: build starts, "running" as one starts, then how it ended (ran, cached, failed, ...).
EventHook = Callable[[str, str], None]
#: Runs one step instead of :func:`execute` (e.g. ``axl.runtime._subprocess.SubprocessRunner``,
#: through ``python -m axl.runtime``); must be picklable to reach worker processes.
StepRunner = Callable[[IRNode, StepTask, KeyParts, LocalStore], StepOutcome]


class StepExecutor(Protocol):
    """Runs steps elsewhere (e.g. ``axl.cluster._executor.DaskExecutor``): the engine still keys,
    looks up and records every step; the executor only runs the misses. A future's exception that
    is an :class:`AxlError` (the cluster was lost) stops the build with that error."""

    def submit(
        self, node: IRNode, task: StepTask, parts: KeyParts, store: LocalStore
    ) -> Future[StepOutcome]:
        """Start one step; cancelling the future cancels it."""


@dataclass
class BuildOptions:
    """How to build."""

    jobs: int = 0
    in_process: bool = False
    no_cache: bool = False
    rerun: frozenset[str] = frozenset()
    keep_going: bool = False
    targets: tuple[str, ...] = ()
    capture: bool = True
    runner: StepRunner | None = None
    #: Run nothing: a step whose key the cache lacks is skipped (``axl outputs`` of a workflow
    #: this cache never built: the keys of its current sources, looked up locally and remotely).
    lookup_only: bool = False
    #: ``--strict``: every step fails on an undeclared read (as ``strict_inputs=True``).
    strict: bool = False
    #: Paths undeclared-read checks leave out (``[tool.axl] ignore_reads``), and the workspace
    #: root reads are reported relative to; set by the session.
    ignore_reads: tuple[str, ...] = ()
    workspace: str = ""
    executor: StepExecutor | None = None


@dataclass
class _State:
    ir: IRWorkflow
    options: BuildOptions
    store: LocalStore
    reports: dict[str, StepReport] = field(default_factory=dict)
    digests: dict[tuple[str, str], str] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    ready: deque[str] = field(default_factory=deque)
    stopped: bool = False
    #: External inputs, keyed before the build started (``axl.exec._sources``).
    sources: dict[str, Resolved] = field(default_factory=dict)


def build(
    ir: IRWorkflow,
    *,
    store: LocalStore,
    code: CodeProvider,
    environment: dict[str, str],
    options: BuildOptions | None = None,
    prepare: Callable[[], None] | None = None,
    on_event: EventHook | None = None,
    sources: dict[str, Resolved] | None = None,
) -> BuildReport:
    """Build ``ir``'s steps (or ``options.targets`` and what they need).

    Args:
        ir: The workflow.
        store: The local cache.
        code: Gives each node's code key part.
        environment: The key's environment part.
        options: Parallelism, caching and failure policy.
        prepare: Called once before the first step runs (imports the workflow module when the IR
            came from a cache and no module was imported yet).
        on_event: Progress hook.
        sources: The external inputs the steps read, already keyed (by ``Source.ident``).
    """
    scheduler = _Scheduler(
        ir,
        store,
        code,
        environment,
        options or BuildOptions(),
        prepare,
        on_event or (lambda _name, _status: None),
    )
    for ident, resolved in (sources or {}).items():
        scheduler.state.sources[ident] = resolved
        scheduler.state.digests[(SOURCE, ident)] = resolved.digest
    # While the lease is held, `axl cache gc` keeps what this build uses and writes.
    with store.lease():
        return scheduler.run()


class _Scheduler:
    """Walks the graph: resolves ready steps (hit or launch), collects finished ones."""

    def __init__(
        self,
        ir: IRWorkflow,
        store: LocalStore,
        code: CodeProvider,
        environment: dict[str, str],
        options: BuildOptions,
        prepare: Callable[[], None] | None,
        hook: EventHook,
    ) -> None:
        self.ir, self.store, self.code, self.environment = ir, store, code, environment
        self.options, self.prepare, self.hook = options, prepare, hook
        self.state = _State(ir, options, store)
        wanted = ir.ancestors(list(options.targets)) if options.targets else None
        self.nodes = [n for n in ir.nodes if wanted is None or n.name in wanted]
        self.down: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            ups = node.upstream
            self.state.waiting[node.name] = len(ups)
            for up in ups:
                self.down[up].append(node.name)
            if not ups:
                self.state.ready.append(node.name)
        self.workers = Workers(_jobs(options), store.root)
        #: Steps handed to a worker (or running here) and not settled yet.
        self.launched: set[str] = set()
        self.running: dict[Future[StepOutcome], tuple[str, StepTask, KeyParts, float]] = {}
        self.delayed: list[tuple[float, int, str, StepTask, KeyParts]] = []
        self.attempts: dict[str, int] = {}
        self.prepared = prepare is None

    def run(self) -> BuildReport:
        """Build; raises :class:`BuildInterrupted` (with the report) on Ctrl-C or SIGTERM."""
        started = time.time()
        for node in self.nodes:
            self.hook(node.name, "queued")
        interrupted: str | None = None
        try:
            while self.state.ready or self.running or self.delayed:
                with self._batch():
                    while self.state.ready:
                        self._resolve(self.state.ready.popleft())
                if self.delayed and self.delayed[0][0] <= time.monotonic():
                    _, _, name, task, parts = heapq.heappop(self.delayed)
                    self._launch(name, task, parts)
                elif self.running:
                    self._collect()
                elif self.delayed:
                    time.sleep(max(0.0, self.delayed[0][0] - time.monotonic()))
        except KeyboardInterrupt as exc:
            interrupted = signal_name(exc)
        finally:
            for future in self.running:  # an interrupted build cancels what it started
                future.cancel()
            self.workers.stop(interrupted=interrupted is not None)
        reports = self.state.reports
        for name in sorted(self.launched - set(reports)):
            reports[name] = StepReport(name, ERROR, error=f"interrupted by {interrupted}")
        why = "the build was interrupted" if interrupted else "the build stopped after a failure"
        for node in self.nodes:
            reports.setdefault(node.name, StepReport(node.name, SKIPPED, reason=why))
        ordered = {n.name: reports[n.name] for n in self.nodes}
        report = BuildReport(self.ir.name, self.ir.compute_hash(), ordered, started, time.time())
        if interrupted is not None:
            report.interrupted = interrupted
            raise BuildInterrupted(report)
        return report

    def _batch(self) -> contextlib.AbstractContextManager[None]:
        """The gc lock across a batch of lookups (one lock, not one per step, for null builds),
        unless steps run in this process: a long step must not hold gc off."""
        if self.options.in_process or _jobs(self.options) == 1:
            return contextlib.nullcontext()
        return self.store.gc_lock.held()

    def _finish(self, name: str, report: StepReport) -> None:
        self.state.reports[name] = report
        self.hook(name, report.status)
        for child in self.down[name]:
            self.state.waiting[child] -= 1
            if self.state.waiting[child] == 0:
                self.state.ready.append(child)

    def _resolve(self, name: str) -> None:
        """Skip, reuse or launch a step whose inputs are all settled."""
        state, node = self.state, self.ir.get_node(name)
        blocked = _blocked_by(node, state)
        if blocked is not None or state.stopped:
            reason = (
                f"upstream step {blocked!r} did not succeed"
                if blocked
                else "the build stopped after a failure (use --keep-going)"
            )
            self._finish(name, StepReport(name, SKIPPED, reason=reason))
            return
        try:
            notes = {i: r.warning for i, r in state.sources.items() if r.warning is not None}
            parts = key_parts(
                self.ir, node, self.code(node), self.environment, state.digests, notes
            )
        except Exception as exc:  # noqa: BLE001 - reported as "axl could not run it"
            self._finish(name, StepReport(name, ERROR, error=f"{type(exc).__name__}: {exc}"))
            state.stopped = state.stopped or not self.options.keep_going
            return
        hit = _lookup(state, node, parts)
        if hit is not None and hit.undeclared and (node.strict_inputs or self.options.strict):
            # Strict now, but the stored result read undeclared inputs: refuse it, keep it.
            self._finish(name, strict_refusal(node.name, parts, hit))
            state.stopped = state.stopped or not self.options.keep_going
            return
        if hit is not None:
            for out, rec in hit.outputs.items():
                state.digests[(name, out)] = rec.digest
            self._finish(
                name,
                StepReport(
                    name,
                    CACHED,
                    parts.key,
                    0.0,
                    hit.outputs,
                    parts=parts.as_record(),
                    log_digest=hit.log_digest,
                    started=time.time(),
                    undeclared=list(hit.undeclared),
                ),
            )
            return
        if self.options.lookup_only:
            self._finish(name, StepReport(name, SKIPPED, parts.key, reason="not in the cache"))
            return
        if node.kind == "params":
            t0 = time.time()
            self.attempts[name] = 1
            self._complete(
                name, params_task(self.ir, node), parts, run_params(node, self.store), t0
            )
            return
        if not self.prepared and self.prepare is not None:
            self.prepare()
        self.prepared = True
        self._launch(
            name, make_task(self.ir, node, state.reports, self.options, state.sources), parts
        )

    def _launch(self, name: str, task: StepTask, parts: KeyParts) -> None:
        self.attempts[name] = self.attempts.get(name, 0) + 1
        self.hook(name, "running")
        self.launched.add(name)
        jobs, runner = _jobs(self.options), self.options.runner
        if self.options.executor is not None:
            node = self.ir.get_node(name)
            future = self.options.executor.submit(node, task, parts, self.store)
            self.running[future] = (name, task, parts, time.time())
            return
        if self.options.in_process or jobs == 1:
            t0 = time.time()
            with owned_children():  # what the step started ends with it
                if runner is not None:
                    outcome = runner(self.ir.get_node(name), task, parts, self.store)
                else:
                    outcome = execute(task, self.store, capture=self.options.capture)
            self._complete(name, task, parts, outcome, t0)
            return
        extra: tuple[Any, ...] = () if runner is None else (self.ir.get_node(name), parts, runner)
        self.running[self.workers.submit(task, *extra)] = (name, task, parts, time.time())

    def _collect(self) -> None:
        """Wait for a running step to end (or for a retry to become due) and settle it."""
        from concurrent.futures import FIRST_COMPLETED, wait

        timeout = max(0.0, self.delayed[0][0] - time.monotonic()) if self.delayed else None
        done, _ = wait(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            name, task, parts, t0 = self.running.pop(future)
            try:
                outcome = future.result()
            except AxlError:
                raise  # axl's own failure (a lost cluster): one error, completed steps cached
            except Exception as exc:  # noqa: BLE001 - a worker died (e.g. OOM-killed)
                outcome = StepOutcome(
                    "error",
                    error=f"the worker running step {name!r} died: {type(exc).__name__}: {exc}",
                    seconds=time.time() - t0,
                )
                self.workers.broken()
            # The step began when a worker took it, not when it was queued for the pool.
            t0 = outcome.started or t0
            self._complete(name, task, parts, outcome, t0)

    def _complete(
        self, name: str, task: StepTask, parts: KeyParts, outcome: StepOutcome, t0: float
    ) -> None:
        node, store, attempts = self.ir.get_node(name), self.store, self.attempts[name]
        self.launched.discard(name)
        if outcome.status == "ok":
            record = ActionResult(
                key=parts.key,
                workflow=self.ir.name,
                step=name,
                outputs=outcome.outputs,
                seconds=outcome.seconds,
                created=time.time(),
                log_digest=outcome.log_digest,
                # No key parts here: the run record keeps them for `axl explain`, and every
                # cache hit parses this record, so it stays small.
                stamps=stamps_of(store, outcome.outputs),
                undeclared=tuple(outcome.undeclared),
            )
            if node.cache:
                try:
                    store.put_record(record)
                except CacheWriteError as exc:
                    outcome = StepOutcome("error", error=exc.render(), hint=exc.hint)
                    self._settle_failure(name, task, parts, outcome, t0)
                    return
            for out, rec in outcome.outputs.items():
                self.state.digests[(name, out)] = rec.digest
            self._finish(
                name,
                StepReport(
                    name,
                    RAN,
                    parts.key,
                    outcome.seconds,
                    outcome.outputs,
                    attempts=attempts,
                    parts=parts.as_record(),
                    log_digest=outcome.log_digest,
                    started=t0,
                    reason=_forced(node, self.options),
                    undeclared=outcome.undeclared,
                    worker=outcome.worker,
                ),
            )
            return
        self._settle_failure(name, task, parts, outcome, t0)

    def _settle_failure(
        self, name: str, task: StepTask, parts: KeyParts, outcome: StepOutcome, t0: float
    ) -> None:
        node, attempts = self.ir.get_node(name), self.attempts[name]
        # A strict refusal is no flaky failure: retrying would read the same files again.
        if (
            outcome.status == "failed"
            and attempts <= node.retries
            and not (task.strict and outcome.undeclared)
        ):
            # Exponential backoff, capped: 0.1 s, 0.2 s, 0.4 s ... 5 s.
            due = time.monotonic() + min(0.1 * 2 ** (attempts - 1), 5.0)
            heapq.heappush(self.delayed, (due, len(self.delayed), name, task, parts))
            return
        status = FAILED if outcome.status == "failed" else ERROR
        self._finish(
            name,
            StepReport(
                name,
                status,
                parts.key,
                outcome.seconds,
                error=outcome.error,
                traceback=outcome.traceback,
                attempts=attempts,
                parts=parts.as_record(),
                log_digest=outcome.log_digest,
                started=t0,
                undeclared=outcome.undeclared,
                hint=outcome.hint,
                worker=outcome.worker,
            ),
        )
        if not self.options.keep_going:
            self.state.stopped = True


def _jobs(options: BuildOptions) -> int:
    return options.jobs if options.jobs > 0 else (os.cpu_count() or 1)


def _blocked_by(node: IRNode, state: _State) -> str | None:
    for up in node.upstream:
        report = state.reports.get(up)
        if report is None or report.status not in (RAN, CACHED):
            return up
    return None


def _forced(node: IRNode, opts: BuildOptions) -> str | None:
    """Why a step runs whatever the cache holds, if it does."""
    if not node.cache:
        return "the step has cache=False"
    if opts.no_cache:
        return "--no-cache was given"
    if node.name in opts.rerun:
        return f"--rerun {node.name} was given"
    return None


def _lookup(state: _State, node: IRNode, parts: KeyParts) -> ActionResult | None:
    if _forced(node, state.options) is not None:
        return None
    # Under the gc lock: a gc cannot remove the record between its check and its touch.
    with state.store.gc_lock.held():
        return _lookup_locked(state, parts)


def _lookup_locked(state: _State, parts: KeyParts) -> ActionResult | None:
    record = state.store.get_record(parts.key)
    if record is None:
        return None
    for rec in record.outputs.values():
        if state.store.verified_blob(rec.digest, record.stamps.get(rec.digest)) is None:
            return None
    state.store.touch_record(parts.key)
    return record
