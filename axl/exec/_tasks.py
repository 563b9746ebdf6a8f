"""What the scheduler hands to workers: tasks built from the IR, and the worker pool."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.cache._local import LocalStore
from axl.cache._records import OutputRecord
from axl.errors import CacheWriteError
from axl.exec._report import FAILED, StepReport
from axl.ir import Const, IRNode, IRWorkflow, Map, Ref, Seq, Source
from axl.runtime._audit import message
from axl.runtime._lifetime import end_children, register, worker_setup
from axl.runtime._step import StepOutcome, StepTask, execute, save_value

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from axl.cache._records import ActionResult
    from axl.exec._engine import BuildOptions, StepRunner
    from axl.exec._sources import Resolved
    from axl.graph._keys import KeyParts
    from axl.runtime._lifetime import Guardian

_WORKER_STORE: LocalStore | None = None


def _worker_init(root: str, parent: int, guardian: int) -> None:
    global _WORKER_STORE  # noqa: PLW0603 - one store per worker process, set once at start
    worker_setup(parent)
    register(guardian)
    _WORKER_STORE = LocalStore(Path(root))


def worker_run(
    task: StepTask,
    node: IRNode | None = None,
    parts: KeyParts | None = None,
    runner: StepRunner | None = None,
) -> StepOutcome:
    assert _WORKER_STORE is not None
    began = time.time()
    if runner is not None and node is not None and parts is not None:
        outcome = runner(node, task, parts, _WORKER_STORE)
    else:
        outcome = execute(task, _WORKER_STORE)
    # What the step started ends with it (a worker runs one step at a time).
    end_children()
    outcome.started = began
    return outcome


def _noop() -> None:
    return None


def start_pool(jobs: int, root: Path, guardian: Guardian) -> ProcessPoolExecutor:
    """``jobs`` forked workers, each leading its own process group, registered with
    ``guardian`` and dying with this process (see :mod:`axl.runtime._lifetime`)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the modules already imported (and compiled from the hashed sources),
    # so what runs is what was keyed, and a worker starts in about a millisecond.
    ctx = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(str(root), os.getpid(), guardian.fd),
    )
    # Start every worker now, before anything else can start threads in this process.
    for future in [pool.submit(_noop) for _ in range(jobs)]:
        future.result()
    return pool


def stamps_of(
    store: LocalStore, outputs: dict[str, OutputRecord]
) -> dict[str, tuple[int, int, int]]:
    stamps: dict[str, tuple[int, int, int]] = {}
    for rec in outputs.values():
        stamp = store.stamp(rec.digest)
        if stamp is not None:
            stamps[rec.digest] = stamp
    return stamps


def _arg_spec(
    arg: Any,
    node: IRNode,
    arg_name: str,
    reports: dict[str, StepReport],
    default_mode: str,
    sources: dict[str, Resolved],
) -> Any:
    if isinstance(arg, Source):
        return sources[arg.ident].task_leaf(dict(node.input_modes).get(arg_name, "path"))
    if isinstance(arg, Ref):
        rec = reports[arg.node].outputs[arg.output]
        mode = dict(node.input_modes).get(arg_name, default_mode)
        return {
            "input": {
                "digest": rec.digest,
                "handler": rec.handler,
                "extension": rec.extension,
                "mode": mode,
            }
        }
    if isinstance(arg, Const):
        return {"const": arg.value}
    if isinstance(arg, Seq):
        return {
            "list": [
                _arg_spec(a, node, arg_name, reports, default_mode, sources) for a in arg.items
            ]
        }
    assert isinstance(arg, Map)
    return {
        "dict": {
            k: _arg_spec(v, node, arg_name, reports, default_mode, sources) for k, v in arg.items
        }
    }


def make_task(
    ir: IRWorkflow,
    node: IRNode,
    reports: dict[str, StepReport],
    options: BuildOptions,
    sources: dict[str, Resolved] | None = None,
) -> StepTask:
    """The runnable task of ``node``, its inputs taken from the upstream steps' reports and the
    build's keyed external inputs."""
    found = sources or {}
    return StepTask(
        workflow_module=ir.module,
        workflow_qualname=ir.qualname,
        step=node.step,
        node=node.name,
        args={
            name: _arg_spec(arg, node, name, reports, ir.input_mode, found)
            for name, arg in node.args
        },
        outputs=tuple((o.name, o.handler) for o in node.outputs),
        multi=not (len(node.outputs) == 1 and node.outputs[0].name == "out"),
        default_handler=ir.io_handler,
        env=node.env,
        strict=node.strict_inputs or options.strict,
        ignore_reads=options.ignore_reads,
        workspace=options.workspace,
    )


def strict_refusal(name: str, parts: KeyParts, hit: ActionResult) -> StepReport:
    """A strict build's answer to a stored result that read undeclared inputs: the step fails
    with the message of the run that stored it (the record stays; a fixed step gets a new key)."""
    return StepReport(
        name,
        FAILED,
        parts.key,
        error=f"strict inputs: {message(name, list(hit.undeclared))} (recorded when it ran)",
        parts=parts.as_record(),
        undeclared=list(hit.undeclared),
    )


def params_task(ir: IRWorkflow, node: IRNode) -> StepTask:
    return StepTask(ir.module, ir.qualname, node.step, node.name, {}, (), False, "json")


def run_params(node: IRNode, store: LocalStore) -> StepOutcome:
    """The params step runs no user code: its values were fixed when the IR was built."""
    t0 = time.perf_counter()
    values = node.param_values
    try:
        outputs = {"out": save_value(values, "json", "json", store, what="the params")}
        for key, value in values.items():
            outputs[key] = save_value(value, "json", "json", store, what=f"param {key!r}")
    except CacheWriteError as exc:
        return StepOutcome("error", error=exc.render(), hint=exc.hint)
    return StepOutcome("ok", outputs=outputs, seconds=time.perf_counter() - t0)
