"""Executing one step: load inputs, call the function, save outputs into the store.

This is the single place where user step code runs. The local executor calls :func:`execute`
in worker processes (or in-process); the runner entrypoint ``python -m axl.runtime`` calls it from
an IO manifest. Either way a step behaves the same.

A task's arguments are plain JSON-able data (the same shape the IO manifest uses)::

    {"input": {"digest": D, "handler": H, "extension": E, "mode": "object"|"path"}}
    {"folder": {"source": {...}, "digest": D, "path": P}}     (an external folder, by path)
    {"remote": {... as "input", "remote": {...}}}             (an object fetched when it runs)
    {"const": VALUE}
    {"list": [ARG, ...]}
    {"dict": {NAME: ARG, ...}}
"""

from __future__ import annotations

import contextlib
import importlib
import io as _io
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl import io
from axl.cache._local import LocalStore
from axl.cache._records import OutputRecord
from axl.errors import CacheWriteError, cannot_write
from axl.runtime._audit import message, read_policy, undeclared, watch


@dataclass(frozen=True)
class StepTask:
    """Everything needed to run one step, picklable and JSON-able."""

    workflow_module: str
    workflow_qualname: str
    step: str
    node: str
    args: dict[str, Any]
    outputs: tuple[tuple[str, str], ...]
    multi: bool
    default_handler: str
    env: tuple[tuple[str, str], ...] = ()
    #: An undeclared read fails the step instead of warning (``strict_inputs``, ``--strict``).
    strict: bool = False
    #: Absolute paths the key covers beyond the store (declared files, user-ignored paths).
    ignore_reads: tuple[str, ...] = ()
    #: The workspace root: undeclared paths under it are reported relative to it.
    workspace: str = ""


@dataclass
class StepOutcome:
    """What happened. ``status``: ``ok``, ``failed`` (the step's code raised or returned something
    that cannot be saved) or ``error`` (axl could not run it)."""

    status: str
    outputs: dict[str, OutputRecord] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None
    log_digest: str | None = None
    logs: str = ""
    #: Wall-clock time the step began, when it ran in a pool worker (0.0: not recorded).
    started: float = 0.0
    #: Files (and ``$VARIABLES``) the step read that its key does not cover.
    undeclared: list[str] = field(default_factory=list)
    #: How to fix an ``error`` that is not the step's (e.g. a full cache folder).
    hint: str | None = None
    #: The machine that ran it, when that is not this one (a cluster worker's name).
    worker: str | None = None


class _RunnerProblem(Exception):
    """axl could not run the step (not the step's fault)."""


def resolve_class(module: str, qualname: str) -> Any:
    """Import ``module`` and walk ``qualname`` in it."""
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def execute(task: StepTask, store: LocalStore, *, capture: bool = True) -> StepOutcome:
    """Run ``task`` and store its outputs in ``store``. Never raises for step failures."""
    started = time.perf_counter()
    buffer = _io.StringIO()
    work = _Work(store)
    try:
        try:
            cls = resolve_class(task.workflow_module, task.workflow_qualname)
            step_def = cls.steps()[task.step]
            instance = cls()
            kwargs = {name: _load(arg, store, work, name) for name, arg in task.args.items()}
        except _RunnerProblem as exc:
            return StepOutcome("error", error=str(exc), seconds=time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - anything here means axl could not set up
            return StepOutcome(
                "error",
                error=f"could not prepare step {task.node!r}: {type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
                seconds=time.perf_counter() - started,
            )
        raised: Exception | None = None
        with _environment(task.env), _capture(buffer, tee=not capture), watch() as seen:
            try:
                value = step_def.fn(instance, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the step's own failure, reported as such
                raised = exc
        reads = undeclared(seen, read_policy(task, store.root))
        if raised is not None:
            return _failed(task, raised, started, buffer, store, user_tb=True, reads=reads)
        changed = _folders_changed(task, store)
        if changed is not None:
            return StepOutcome("error", error=changed, seconds=time.perf_counter() - started)
        if reads and task.strict:
            # Nothing is saved, so nothing is cached: the result would not be reproducible.
            return StepOutcome(
                "failed",
                error=f"strict inputs: {message(task.node, reads)}",
                seconds=time.perf_counter() - started,
                logs=buffer.getvalue(),
                undeclared=reads,
            )
        try:
            outputs = _save_all(task, value, store)
            logs = buffer.getvalue()
            log_digest = store.put_bytes(logs.encode(), "the step's log")[0] if logs else None
        except CacheWriteError as exc:
            # Disk full, quota, read-only: axl's error, not the step's (its code succeeded).
            return StepOutcome(
                "error",
                error=exc.render(),
                hint=exc.hint,
                seconds=time.perf_counter() - started,
                logs=buffer.getvalue(),
            )
        except _RunnerProblem as exc:
            return StepOutcome(
                "failed",
                error=str(exc),
                seconds=time.perf_counter() - started,
                logs=buffer.getvalue(),
            )
        except Exception as exc:  # noqa: BLE001 - the value could not be saved by its handler
            return _failed(task, exc, started, buffer, store, user_tb=False, reads=reads)
        return StepOutcome(
            "ok",
            outputs=outputs,
            seconds=time.perf_counter() - started,
            log_digest=log_digest,
            logs=logs,
            undeclared=reads,
        )
    finally:
        work.remove()


class _Work:
    """The task's scratch folder, made only when needed (path-mode inputs): creating and removing
    a folder per step costs milliseconds on some filesystems, more than a small step itself."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store
        self._path: Path | None = None

    @property
    def inputs(self) -> Path:
        if self._path is None:
            self._path = self._store.tmp_folder()
        folder = self._path / "inputs"
        folder.mkdir(exist_ok=True)
        return folder

    def remove(self) -> None:
        if self._path is not None:
            import shutil

            shutil.rmtree(self._path, ignore_errors=True)


def _failed(
    task: StepTask,
    exc: BaseException,
    started: float,
    buffer: _io.StringIO,
    store: LocalStore,
    *,
    user_tb: bool,
    reads: list[str],
) -> StepOutcome:
    tb = exc.__traceback__
    if user_tb and tb is not None:
        tb = tb.tb_next  # drop this module's own frame: show the user's code only
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    logs = buffer.getvalue()
    log_digest = None
    with contextlib.suppress(CacheWriteError):  # the failure matters more than its stored log
        log_digest = store.put_bytes(logs.encode(), "the step's log")[0] if logs else None
    what = "raised" if user_tb else "returned a value its output handler could not save:"
    return StepOutcome(
        "failed",
        error=f"step {task.node!r} {what} {type(exc).__name__}: {exc}",
        traceback=text,
        seconds=time.perf_counter() - started,
        log_digest=log_digest,
        logs=logs,
        undeclared=reads,
    )


def _folders_changed(task: StepTask, store: LocalStore) -> str | None:
    """Why the step's result must not be kept: an input folder no longer has the digest it was
    keyed with (it changed before or while the step read it). ``None`` when all still match."""
    folders = [leaf for arg in task.args.values() for leaf in _folder_leaves(arg)]
    if not folders:
        return None
    from axl.runtime._folders import folder_problem

    for leaf in folders:
        problem = folder_problem(leaf, store, task.node)
        if problem is not None:
            return problem
    return None


def _folder_leaves(arg: Any) -> list[dict[str, Any]]:
    if "folder" in arg:
        return [arg["folder"]]
    if "list" in arg:
        return [leaf for a in arg["list"] for leaf in _folder_leaves(a)]
    if "dict" in arg:
        return [leaf for a in arg["dict"].values() for leaf in _folder_leaves(a)]
    return []


def _load(arg: Any, store: LocalStore, work: _Work, name: str) -> Any:
    if "const" in arg:
        return arg["const"]
    if "folder" in arg:
        if arg["folder"]["source"].get("glob"):
            from axl.runtime._folders import folder_view

            return folder_view(arg["folder"], work.inputs / name)
        return arg["folder"]["path"]
    if "remote" in arg:
        from axl.runtime._folders import fetch_remote

        try:
            fetched = fetch_remote(arg["remote"], store, name, work.inputs / name)
        except Exception as exc:  # noqa: BLE001 - a download that failed: axl could not run it
            raise _RunnerProblem(str(exc)) from None
        if isinstance(fetched, str):
            return fetched  # a prefix: the folder holding its objects
        arg = {"input": fetched}
    if "list" in arg:
        return [_load(a, store, work, f"{name}-{i}") for i, a in enumerate(arg["list"])]
    if "dict" in arg:
        return {k: _load(a, store, work, f"{name}-{k}") for k, a in arg["dict"].items()}
    spec = arg["input"]
    blob = store.blob_path(spec["digest"])
    if not blob.exists():
        raise _RunnerProblem(
            f"input {name!r} (blob {spec['digest'][:12]}) is missing from the store {store.root}"
        )
    if spec["mode"] == "path":
        # A link whose name carries the handler's extension: tools that sniff extensions work,
        # and the blob itself stays read-only.
        folder = work.inputs
        ext = f".{spec['extension']}" if spec["extension"] else ""
        link = folder / f"{name}{ext}"
        os.symlink(blob, link)
        return str(link)
    try:
        handler = io.get(spec["handler"])
    except Exception as exc:  # noqa: BLE001 - an unknown handler is axl's problem to report
        raise _RunnerProblem(f"input {name!r}: {exc}") from None
    try:
        return handler.load(blob)
    except Exception as exc:  # noqa: BLE001 - a blob the handler cannot read
        raise _RunnerProblem(
            f"input {name!r} could not be loaded by handler {spec['handler']!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _save_all(task: StepTask, value: Any, store: LocalStore) -> dict[str, OutputRecord]:
    names = [name for name, _ in task.outputs]
    if task.multi:
        if isinstance(value, dict):
            if sorted(value) != sorted(names):
                raise _RunnerProblem(
                    f"step {task.node!r} returned a dict with keys {sorted(value)}, "
                    f"but declares outputs {names}"
                )
            values = dict(value)
        elif isinstance(value, (tuple, list)) and len(value) == len(names):
            values = dict(zip(names, value, strict=True))
        else:
            raise _RunnerProblem(
                f"step {task.node!r} declares outputs {names}, so it must return a tuple of "
                f"{len(names)} values or a dict with those keys; it returned "
                f"{type(value).__name__}"
            )
    else:
        values = {names[0]: value}
    records: dict[str, OutputRecord] = {}
    for name, declared in task.outputs:
        what = f"output {name!r} of step {task.node!r}"
        records[name] = save_value(values[name], declared, task.default_handler, store, what=what)
    return records


def save_value(
    value: Any,
    declared: str,
    default: str,
    store: LocalStore,
    work: Path | None = None,
    what: str | None = None,
) -> OutputRecord:
    """Save ``value`` with its handler (detected when ``declared`` is ``auto``) into the CAS.

    Raises:
        CacheWriteError: The cache folder refused the write (full, read-only, ...).
    """
    handler = io.detect(value, default) if declared == io.AUTO else io.get(declared)
    tmp: Path | None = None
    try:
        tmp = store.tmp_file(f".{handler.extension}")
        handler.save(value, tmp)
        metadata = handler.metadata(tmp)
        digest, size = store.put_file(tmp)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if isinstance(exc, OSError) and cannot_write(exc):
            what = what or f"an output saved by handler {handler.name!r}"
            raise CacheWriteError(store.root, exc, what, _size_of(handler, value)) from None
        raise
    return OutputRecord(digest, size, handler.name, handler.extension, metadata)


def _size_of(handler: io.IOHandler, value: Any) -> int | None:
    """How many bytes ``handler`` writes for ``value``, measured in memory (a memfd), for the
    message about a full cache; ``None`` where that is not possible."""
    if not hasattr(os, "memfd_create"):
        return None
    fd = os.memfd_create("axl-size")
    try:
        handler.save(value, Path(f"/proc/self/fd/{fd}"))
        return os.fstat(fd).st_size
    except Exception:  # noqa: BLE001 - only a measurement for a message
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def _environment(env: tuple[tuple[str, str], ...]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k, _ in env}
    os.environ.update(dict(env))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Tee(_io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for stream in self.streams:
            stream.write(s)
        return len(s)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextlib.contextmanager
def _capture(buffer: _io.StringIO, *, tee: bool) -> Iterator[None]:
    out: Any = _Tee(buffer, sys.stdout) if tee else buffer
    err: Any = _Tee(buffer, sys.stderr) if tee else buffer
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield
