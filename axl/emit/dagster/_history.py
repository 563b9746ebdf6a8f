"""A compiled Dagster job's runs in axl's history: each op adds its step to the record of its
Dagster run (:func:`axl.exec._runlog.record_step`), as the local engine's report would show it,
so ``axl runs``, ``show``, ``logs`` and ``report`` list Dagster runs beside local builds."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axl.cache._local import LocalStore
    from axl.emit.dagster._steps import StepError, StepRun
    from axl.graph._keys import KeyParts

#: How the history marks these runs.
BACKEND = "dagster"


def succeeded(done: StepRun, parts: KeyParts, started: float) -> dict[str, Any]:
    """The step's entry in its run's record (as the local engine's report writes it)."""
    data: dict[str, Any] = {
        "status": done.status,
        "key": done.key,
        "seconds": round(done.seconds, 6),
        "started": started,
        "outputs": {name: rec.to_json() for name, rec in done.outputs},
        "parts": parts.as_dict(),
    }
    if done.log_digest is not None:
        data["log_digest"] = done.log_digest
    if done.source != "local":
        data["source"] = done.source
    return data


def failed(exc: StepError, parts: KeyParts, started: float) -> dict[str, Any]:
    data: dict[str, Any] = {
        # As the engine tells them apart: the step's code failed, or axl could not run it.
        "status": "failed" if exc.retryable else "error",
        "key": parts.key,
        "seconds": round(time.time() - started, 6),
        "started": started,
        "outputs": {},
        "parts": parts.as_dict(),
        "error": exc.message,
    }
    if exc.traceback:
        data["traceback"] = exc.traceback
    return data


def record(
    store: LocalStore,
    manifest: Mapping[str, Any],
    run: str,
    node: str,
    data: dict[str, Any],
    log: Callable[[str, str], None],
) -> None:
    """Add the step to the Dagster run's record. The history is a view: failing to write it (a
    full disk) is a warning in the op's log, never the step's failure."""
    from axl.exec._runlog import record_step

    try:
        record_step(store, manifest, backend=BACKEND, run=run, step=node, data=data)
    except OSError as exc:
        log("warning", f"step {node!r} is not in axl's run history: {exc}")
