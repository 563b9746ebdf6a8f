"""The runner: run one step of a manifest, wherever it is (subprocess, container, Dagster op).

1. Read and validate the manifest; pick the step.
2. Check the workflow's sources against the manifest, import the workflow, and check that the
   step's code is the code that was keyed.
3. Find each input's digest (the manifest, or the upstream's result record; else the file).
4. Recompute the action key from the manifest's key parts and the inputs' digests, and look it
   up in the action cache (the working store, then the remote cache): a hit skips to 6.
5. Stage the inputs (verified) in a working :class:`LocalStore` and run the step with
   :func:`axl.runtime._step.execute`, the one place user code runs.
6. Publish the outputs (files under ``--outputs``, blobs in the store), record a fresh result in
   the action cache (local, then remote), then write the result record.

Exit codes: 0 the step succeeded, 1 the step's code failed, 2 the runner could not run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore, write_atomic
from axl.cache._records import OutputRecord
from axl.errors import AxlError, RunnerError
from axl.graph._keys import KeyParts
from axl.hashing import bytes_digest, canonical_json
from axl.runtime._artifacts import ArtifactStore, DirStore, open_artifact_store
from axl.runtime._audit import report_reads, runner_read_policy
from axl.runtime._cache import StepCache, open_step_cache, step_key_parts
from axl.runtime._inputs import Inputs
from axl.runtime._logs import JsonLog
from axl.runtime._manifest import load_manifest, safe_relpath
from axl.runtime._step import StepOutcome, StepTask, execute, save_value
from axl.runtime._workflow import load_step, workspace_root

#: Bump when the result record changes incompatibly.
RESULT_VERSION = 1
#: The result record's file name under --outputs when --result is not given (never an output's
#: name: those are identifiers, which cannot contain "-").
RESULT_FILE = "axl-result.json"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
_RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class RunRequest:
    """What the runner was asked to do (argv and environment, parsed)."""

    manifest: Path
    step: str
    #: The BLAKE3 digest the manifest's bytes must have (a manifest stored apart from the
    #: workflow, e.g. Argo's ConfigMap), or None.
    manifest_digest: str | None = None
    inputs: Path | None = None
    outputs: Path | None = None
    store: str | None = None
    result: Path | None = None
    run_id: str | None = None
    workspace: Path | None = None
    #: Consult and write the action cache. Off when the caller keeps the cache itself
    #: (``axl run local --subprocess``), so a forced rerun runs and nothing is recorded twice.
    cache: bool = True
    #: ``--remote-cache`` (``None``: ``$AXL_REMOTE_CACHE``, then ``[tool.axl]``; ``""``: off).
    remote_cache: str | None = None
    #: ``--[no-]remote-upload`` (``None``: ``$AXL_REMOTE_UPLOAD``, then ``[tool.axl]``, then yes).
    remote_upload: bool | None = None


@dataclass
class _Result:
    """The result record, filled in as the run goes."""

    step: str
    started: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self, status: str, code: int) -> dict[str, Any]:
        finished = time.time()
        return {
            "result_version": RESULT_VERSION,
            "step": self.step,
            "status": status,
            "exit_code": code,
            "started": self.started,
            "finished": finished,
            **self.data,
        }


def run(request: RunRequest, log: JsonLog) -> int:
    """Run the requested step; never raises. Returns the exit code."""
    result = _Result(request.step)
    store: ArtifactStore | None = None
    try:
        manifest = load_manifest(request.manifest, request.manifest_digest)
        workflow = manifest["workflow"]
        log.bind(workflow=workflow["name"], step=request.step)
        result.data["workflow"] = workflow["name"]
        entry = _entry(manifest, request.step)
        _check_request(request)
        store = open_artifact_store(request.store) if request.store else None
        log.note("start", manifest=str(request.manifest), store=request.store)
        # The step's own cache=False, or a caller that keeps the cache itself, opts out.
        use_cache = request.cache and entry.get("cache", True)
        with (
            _work_store(store) as work,
            open_step_cache(
                use_cache, request.workspace, work, log, request.remote_cache, request.remote_upload
            ) as cache,
        ):
            outcome, parts = _run_entry(request, manifest, entry, store, work, cache, result, log)
            outcome = report_reads(outcome, request.step, entry, result.data, log)
            code = _finish(request, entry, outcome, store, work, result, log)
            if code == EXIT_OK and cache is not None and parts is not None:
                cache.record(parts, workflow["name"], request.step, outcome)
            if code == EXIT_OK:
                _done(request, store, cache, result, log)
    except AxlError as exc:
        log.problem("error", exc.render(), hint=exc.hint)
        result.data.update(error=exc.render(), hint=exc.hint)
        _write_result(request, store, result.to_json("error", EXIT_ERROR), log)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a runner bug still ends as one JSON line, exit 2
        message = f"the runner crashed: {type(exc).__name__}: {exc}"
        log.emit("error", "error", message, exception=exc)
        result.data["error"] = message
        _write_result(request, store, result.to_json("error", EXIT_ERROR), log)
        return EXIT_ERROR
    return code


def _entry(manifest: dict[str, Any], step: str) -> dict[str, Any]:
    entry: dict[str, Any] | None = manifest["steps"].get(step)
    if entry is None:
        raise RunnerError(
            f"the manifest has no step {step!r}",
            hint=f"its steps are: {', '.join(sorted(manifest['steps']))}",
        )
    return entry


def _check_request(request: RunRequest) -> None:
    if request.outputs is None and request.store is None:
        raise RunnerError(
            "the runner has nowhere to put the step's outputs",
            hint="pass --outputs DIR, --store URL, or both",
        )
    if request.run_id is not None and not _RUN_ID.match(request.run_id):
        raise RunnerError(
            f"run id {request.run_id!r} is not a plain name",
            hint="use letters, digits, '_', '-' and '.' (at most 128)",
        )


def _run_entry(
    request: RunRequest,
    manifest: dict[str, Any],
    entry: dict[str, Any],
    store: ArtifactStore | None,
    work: LocalStore,
    cache: StepCache | None,
    result: _Result,
    log: JsonLog,
) -> tuple[StepOutcome, KeyParts | None]:
    """Key the step and reuse its cached result, or stage the inputs and run it (or write the
    params). Returns the outcome and, when it is fresh and may be cached, its key parts."""
    workflow = manifest["workflow"]
    if entry["kind"] == "params":
        inputs_part: dict[str, Any] = {
            "params": bytes_digest(canonical_json(entry["params"]).encode())
        }
    else:
        load_step(manifest, entry, request.workspace, log)
        inputs = Inputs(
            request.inputs,
            store,
            work,
            request.run_id,
            log,
            store_is_work=_is_work(store, work),
            workspace=workspace_root(request.workspace),
        )
        # Digests first: a cache hit needs no input's bytes.
        args = {
            name: inputs.resolve(arg, name, stage=cache is None)
            for name, arg in entry["inputs"].items()
        }
        inputs_part = {name: inputs.key_part(arg) for name, arg in args.items()}
    result.data["inputs"] = inputs_part
    parts = step_key_parts(manifest, entry, request.step, inputs_part)
    key: str | None = parts.key if parts is not None else entry.get("key")
    result.data["key"] = key
    if key is not None:
        log.note("key", key=key)
    if cache is not None and parts is not None:
        hit = cache.lookup(parts.key, [o["name"] for o in entry["outputs"]])
        if hit is not None:
            result.data["cached"] = True
            return hit, None
    if entry["kind"] == "params":
        return _params_outcome(entry, work), parts
    if cache is not None:
        args = {name: inputs.resolve(arg, name) for name, arg in args.items()}
    task = StepTask(
        workflow_module=workflow["module"],
        workflow_qualname=workflow["qualname"],
        step=entry["step"],
        node=request.step,
        args={name: Inputs.task_arg(arg) for name, arg in args.items()},
        outputs=tuple((o["name"], o["handler"]) for o in entry["outputs"]),
        multi=not (len(entry["outputs"]) == 1 and entry["outputs"][0]["name"] == "out"),
        default_handler=workflow.get("io_handler", "pickle"),
        env=tuple(sorted(entry.get("env", {}).items())),
        **runner_read_policy(entry, request.workspace, request.inputs),
    )
    log.note("run")
    # capture=False: the step's prints reach this process's stdout as they happen (and are
    # still recorded as the step's log blob).
    return execute(task, work, capture=False), parts


def _params_outcome(entry: dict[str, Any], work: LocalStore) -> StepOutcome:
    """The params step runs no user code: its values are in the manifest."""
    started = time.perf_counter()
    values = entry["params"]
    outputs: dict[str, OutputRecord] = {}
    for out in entry["outputs"]:
        name = out["name"]
        if name != "out" and name not in values:
            raise RunnerError(f"params step has no value {name!r}")
        outputs[name] = save_value(values if name == "out" else values[name], "json", "json", work)
    return StepOutcome("ok", outputs=outputs, seconds=time.perf_counter() - started)


def _finish(
    request: RunRequest,
    entry: dict[str, Any],
    outcome: StepOutcome,
    store: ArtifactStore | None,
    work: LocalStore,
    result: _Result,
    log: JsonLog,
) -> int:
    result.data.update(seconds=outcome.seconds, log_digest=outcome.log_digest)
    if outcome.status != "ok":
        code = EXIT_FAILED if outcome.status == "failed" else EXIT_ERROR
        result.data.update(error=outcome.error, traceback=outcome.traceback)
        if outcome.hint:
            result.data["hint"] = outcome.hint
        log.emit(
            "error",
            "failed" if code == EXIT_FAILED else "error",
            outcome.error,
            duration=outcome.seconds,
            exception=_exception(outcome),
            **({"hint": outcome.hint} if outcome.hint else {}),
        )
        _write_result(request, store, result.to_json(outcome.status, code), log)
        return code
    cached = bool(result.data.setdefault("cached", False))
    if not cached:
        log.note("ran", duration=outcome.seconds)
    paths = {o["name"]: o["path"] for o in entry["outputs"]}
    published: dict[str, Any] = {}
    for name, rec in outcome.outputs.items():
        published[name] = _publish(name, rec, paths[name], request, store, work, log)
    log_digest = outcome.log_digest
    if log_digest and store is not None and not _is_work(store, work) and work.has_blob(log_digest):
        blob = work.blob_path(log_digest)
        store.upload_blob(blob, log_digest, blob.stat().st_size)
    result.data["outputs"] = published
    return EXIT_OK


def _done(
    request: RunRequest,
    store: ArtifactStore | None,
    cache: StepCache | None,
    result: _Result,
    log: JsonLog,
) -> None:
    """The step succeeded (ran, or was cached) and is published: write its result record."""
    remote = cache.remote_stats() if cache is not None else None
    _write_result(request, store, result.to_json("ok", EXIT_OK), log)
    extra: dict[str, Any] = {"remote": remote} if remote is not None else {}
    log.note(
        "done",
        duration=time.time() - result.started,
        status="ok",
        cached=result.data["cached"],
        **extra,
    )


def _publish(
    name: str,
    rec: OutputRecord,
    rel: str,
    request: RunRequest,
    store: ArtifactStore | None,
    work: LocalStore,
    log: JsonLog,
) -> dict[str, Any]:
    """Put one output where it is expected: a file under --outputs, a blob in the store."""
    blob = work.blob_path(rec.digest)
    out = rec.to_json()
    if request.outputs is not None:
        dest = _output_file(request.outputs, rel)
        copy_atomic(blob, dest)
        out["path"] = rel
        log.note("output", output=name, digest=rec.digest, size=rec.size, path=str(dest))
    if store is not None:
        out["url"] = store.blob_url(rec.digest)
        if not _is_work(store, work):
            log.note("upload_started", output=name, digest=rec.digest, size=rec.size)
            started = time.perf_counter()
            uploaded = store.upload_blob(blob, rec.digest, rec.size)
            log.note(
                "upload",
                output=name,
                digest=rec.digest,
                size=rec.size,
                skipped=not uploaded,
                duration=time.perf_counter() - started,
            )
    return out


def _output_file(folder: Path, rel: str) -> Path:
    """``folder/rel``, refusing a path that leaves ``folder`` (also through a symlinked folder)."""
    dest = folder / safe_relpath(rel, "output")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.parent.resolve().is_relative_to(folder.resolve()):
        raise RunnerError(f"output path {rel!r} leads out of {folder} through a symlink")
    return dest


def copy_atomic(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` through a temporary file in ``dest``'s folder and a rename."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    os.close(fd)
    try:
        shutil.copyfile(src, name)
        os.chmod(name, 0o644)
        os.replace(name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def _exception(outcome: StepOutcome) -> dict[str, Any]:
    tb = outcome.traceback or ""
    last = tb.strip().splitlines()[-1] if tb.strip() else ""
    return {
        "type": last.split(":", 1)[0] if last else "",
        "message": outcome.error or "",
        "traceback": tb,
    }


def _write_result(
    request: RunRequest, store: ArtifactStore | None, data: dict[str, Any], log: JsonLog
) -> None:
    """Write the result record (best effort on failure paths: the exit code is what counts)."""
    raw = json.dumps(data, indent=1, sort_keys=True).encode()
    target = request.result
    if target is None and request.outputs is not None:
        target = request.outputs / RESULT_FILE
    try:
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, raw)
        if store is not None and request.run_id is not None:
            store.put_object(f"runs/{request.run_id}/{request.step}.json", raw)
    except (OSError, AxlError) as exc:
        log.problem("result", f"could not write the result record: {exc}")


def _is_work(store: ArtifactStore | None, work: LocalStore) -> bool:
    return store is not None and isinstance(store, DirStore) and store.local_store() is work


@contextlib.contextmanager
def _work_store(store: ArtifactStore | None) -> Iterator[LocalStore]:
    """Where inputs are staged and outputs saved: the store itself when it is a folder (no
    copies), else a temporary folder removed afterwards."""
    if isinstance(store, DirStore):
        yield store.local_store()
        return
    folder = Path(tempfile.mkdtemp(prefix="axl-runner-"))
    try:
        yield LocalStore(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
