"""One op of a compiled Dagster job, without Dagster: key the step, reuse or run it, record it.

What an op does is what the local engine does for one step (``axl.exec._engine``), so that a
Dagster run and ``axl run local`` share one cache and agree on every key and digest:

1. fill the step's manifest entry with its inputs' digests (the :class:`Artifact` references
   its upstream ops returned) or, for a params step, with the run config's values;
2. compute the action key (the manifest's code and options parts, the inputs' digests, and the
   environment: the compiled lockfile digest plus this interpreter's Python and platform);
3. a valid record under the key in the cache (local, or remote through ``AXL_REMOTE_CACHE``)
   is a hit: the op returns its outputs and no step code runs;
4. otherwise the step runs through the axl runner (``python -m axl.runtime``'s Python API in
   this process, or that command in a subprocess) with the local cache as its artifact store,
   and its result is recorded under the key (and uploaded to the remote cache).
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.cache._records import ActionResult, OutputRecord
from axl.emit.dagster._env import check_compiled, interpreter, workspace_root
from axl.emit.dagster._exec import LogStream, run_in_process, run_subprocess
from axl.emit.dagster._history import failed, record, succeeded
from axl.emit.dagster._names import input_slots
from axl.errors import AxlError, RunnerError
from axl.graph._keys import KeyParts
from axl.hashing import bytes_digest, canonical_json
from axl.runtime._step import StepOutcome

#: How an op runs its step: the runner's Python API in the op's process, or a subprocess.
RUNNERS = ("in_process", "subprocess")

#: Receives ``(level, message)``: ``debug``, ``info``, ``warning`` or ``error``.
Log = Callable[[str, str], None]


@dataclass(frozen=True)
class Artifact:
    """A reference to one output of a step, as ops hand it to each other: the content digest
    (the bytes stay in the axl cache) and how to read them."""

    digest: str
    size: int
    handler: str
    extension: str
    #: Where it came from, for people reading Dagster's UI; not part of the reference.
    step: str = field(default="", compare=False)
    output: str = field(default="", compare=False)
    #: The action key of the step that made it: an op on another machine fetches the blob from
    #: the remote cache through that step's entry (which names the blob remotely).
    producer: str = field(default="", compare=False)

    @classmethod
    def of(cls, record: OutputRecord, step: str, output: str, producer: str = "") -> Artifact:
        return cls(
            record.digest, record.size, record.handler, record.extension, step, output, producer
        )


@dataclass(frozen=True)
class Settings:
    """How ops run their steps (the fields of the ``axl`` Dagster resource).

    Attributes:
        runner: ``in_process`` or ``subprocess``.
        python: The interpreter a subprocess runs (default: this one).
        workspace: The workspace root (default: ``$AXL_WORKSPACE``, else the nearest folder
            with a ``pyproject.toml`` above the job's module, else above the current folder).
        cache_dir: The local cache (default: ``$AXL_CACHE_DIR``, else ``<workspace>/.axl``).
        remote_cache: As ``axl run local --remote-cache`` (``None``: ``$AXL_REMOTE_CACHE``, then
            ``[tool.axl]``; ``""``: none).
    """

    runner: str = "in_process"
    python: str = ""
    workspace: str = ""
    cache_dir: str = ""
    remote_cache: str | None = None


@dataclass(frozen=True)
class StepRun:
    """What an op did: ``status`` is ``ran`` or ``cached``; ``outputs`` in declaration order."""

    node: str
    key: str
    status: str
    outputs: tuple[tuple[str, OutputRecord], ...]
    seconds: float
    #: Where each output's bytes are in the local cache, in ``outputs``' order.
    paths: tuple[Path, ...]
    source: str = "local"
    log_digest: str | None = None


class StepError(Exception):
    """The step did not succeed. ``retryable``: its own code failed (a retry may help); else
    axl could not run it (a changed source, a missing input), which a retry would only repeat.
    """

    def __init__(
        self, node: str, message: str, *, traceback: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.node, self.message = node, message
        self.traceback, self.retryable = traceback, retryable

    def describe(self) -> str:
        """The message, then the step's traceback when there is one."""
        return f"{self.message}\n\n{self.traceback.rstrip()}" if self.traceback else self.message


def run_step(
    manifest: Mapping[str, Any],
    source: str,
    node: str,
    inputs: Mapping[str, Artifact],
    settings: Settings,
    log: Log,
    *,
    params: Mapping[str, Any] | None = None,
    cache: bool = True,
    run: str | None = None,
) -> StepRun:
    """Reuse or run step ``node`` of ``manifest`` (see the module docstring).

    Args:
        manifest: The workflow's IO manifest, as the generated module embeds it.
        source: The generated module's file (the workspace is looked for above it).
        node: The step's node name.
        inputs: The op's inputs, by op input name (:func:`axl.emit.dagster._names.input_slots`).
        settings: The ``axl`` resource's configuration.
        log: Receives progress lines and the runner's log lines.
        params: A params step's values from run config (override the compiled ones).
        cache: ``False`` for a step declared with ``cache=False``: always run, never record.
        run: The Dagster run's id: the step is added to that run's record in axl's history.

    Raises:
        StepError: The step failed, or could not be run.
    """
    try:
        if settings.runner not in RUNNERS:
            raise RunnerError(
                f"unknown runner {settings.runner!r} in the axl resource's config",
                hint=f"use one of {', '.join(RUNNERS)}",
            )
        root = workspace_root(settings.workspace, source)
        # The key's Python is that of the process running the step's code.
        python = settings.python if settings.runner == "subprocess" else ""
        store = _open_store(root, settings, log)
        doc, parts = _prepare(manifest, node, inputs, params, root, python, store)
    except AxlError as exc:
        raise _could_not_run(node, exc) from None
    started = time.time()
    try:
        done = _reuse_or_run(
            doc, node, parts, store, root, settings, log, inputs=inputs, cache=cache
        )
    except StepError as exc:
        if run is not None:
            record(store, manifest, run, node, failed(exc, parts, started), log)
        raise
    else:
        if run is not None:
            record(store, manifest, run, node, succeeded(done, parts, started), log)
        return done
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def _could_not_run(node: str, exc: AxlError) -> StepError:
    hint = f" (hint: {exc.hint})" if exc.hint else ""
    return StepError(node, exc.render() + hint)


def _prepare(
    manifest: Mapping[str, Any],
    node: str,
    inputs: Mapping[str, Artifact],
    params: Mapping[str, Any] | None,
    root: Path,
    python: str,
    store: LocalStore,
) -> tuple[dict[str, Any], KeyParts]:
    """The one-step manifest the runner gets (digests filled in, key set) and the key parts."""
    entry = copy.deepcopy(dict(manifest["steps"].get(node) or {}))
    if not entry or "key_parts" not in entry:
        raise RunnerError(f"the job's manifest has no keyed step {node!r}; compile the job again")
    check_compiled(manifest, root)
    if entry["kind"] == "params":
        entry["params"] = {**entry["params"], **(params or {})}
        inputs_part: dict[str, Any] = {
            "params": bytes_digest(canonical_json(entry["params"]).encode())
        }
    else:
        _key_data(entry, node, root, store)
        inputs_part = _fill_inputs(entry, inputs, node)
    parts = KeyParts(
        identity={"workflow": manifest["workflow"]["name"], "step": node},
        code=dict(entry["key_parts"]["code"]),
        options=dict(entry["key_parts"]["options"]),
        inputs=inputs_part,
        environment={**interpreter(python), **manifest.get("environment", {})},
    )
    entry["key"] = parts.key
    doc = {
        "manifest_version": manifest["manifest_version"],
        "workflow": dict(manifest["workflow"]),
        "environment": parts.environment,
        "sources": dict(manifest.get("sources", {})),
        "steps": {node: entry},
    }
    return doc, parts


def _key_data(entry: dict[str, Any], node: str, root: Path, store: LocalStore) -> None:
    """Key the step's external inputs as they are now, as `axl run local` does: a file is
    snapshotted into the store (the step reads those bytes), a folder is listed."""
    import io

    from axl.runtime._logs import JsonLog
    from axl.runtime._manifest import iter_leaves
    from axl.runtime._source_inputs import resolve_source

    for leaf in iter_leaves(entry["inputs"], "source"):
        if leaf.get("digest") is None:
            resolved = resolve_source(
                leaf,
                node,
                folder=None,
                workspace=root,
                work=store,
                log=JsonLog(io.StringIO()),
                stage=True,
            )
            leaf.update({k: v for k, v in resolved.items() if k in ("digest", "remote")})


def _fill_inputs(entry: dict[str, Any], inputs: Mapping[str, Artifact], node: str) -> Any:
    from axl.runtime._inputs import Inputs

    for name, leaf in input_slots(entry["inputs"]):
        artifact = inputs.get(name)
        if not isinstance(artifact, Artifact):
            raise RunnerError(f"step {node!r}: the op got no artifact for its input {name!r}")
        leaf.update(
            digest=artifact.digest,
            size=artifact.size,
            handler=artifact.handler,
            extension=artifact.extension,
        )
        leaf.pop("record", None)  # the handler is known now
    # The same shape the runner (and the local engine) key inputs with.
    return {name: Inputs.key_part(arg) for name, arg in entry["inputs"].items()}


def _open_store(root: Path, settings: Settings, log: Log) -> LocalStore:
    from axl.exec._remote_build import build_store
    from axl.exec._session import cache_dir_for

    return build_store(
        root,
        cache_dir_for(root, settings.cache_dir or None),
        remote_cache=settings.remote_cache,
        warn=lambda message: log("warning", message),
    )


def _reuse_or_run(
    doc: dict[str, Any],
    node: str,
    parts: KeyParts,
    store: LocalStore,
    root: Path,
    settings: Settings,
    log: Log,
    *,
    inputs: Mapping[str, Artifact],
    cache: bool,
) -> StepRun:
    entry = doc["steps"][node]
    names = [out["name"] for out in entry["outputs"]]
    hit = _lookup(store, parts.key) if cache else None
    if hit is not None and set(names) <= set(hit.outputs):
        _repeat_reads(node, entry, list(hit.undeclared), log)
        source = "remote" if parts.key in getattr(store, "fetched", ()) else "local"
        log("info", f"step {node!r}: cached ({source}), key {parts.key[:12]}; no code ran")
        outputs = tuple((name, hit.outputs[name]) for name in names)
        paths = tuple(store.blob_path(rec.digest) for _, rec in outputs)
        return StepRun(node, parts.key, "cached", outputs, 0.0, paths, source, hit.log_digest)
    try:
        _fetch_inputs(store, inputs)
        outcome = _execute(doc, node, store, root, settings, log)
    except AxlError as exc:
        raise _could_not_run(node, exc) from None
    if outcome.status != "ok":
        raise StepError(
            node,
            outcome.error or f"step {node!r} did not succeed",
            traceback=outcome.traceback,
            retryable=outcome.status == "failed",
        )
    if cache:
        stamps = {
            rec.digest: stamp
            for rec in outcome.outputs.values()
            if (stamp := store.stamp(rec.digest)) is not None
        }
        store.put_record(
            ActionResult(
                key=parts.key,
                workflow=doc["workflow"]["name"],
                step=node,
                outputs=outcome.outputs,
                seconds=outcome.seconds,
                created=time.time(),
                log_digest=outcome.log_digest,
                parts=parts.as_dict(),
                stamps=stamps,
                undeclared=tuple(outcome.undeclared),
            )
        )
    log("info", f"step {node!r}: ran in {outcome.seconds:.2f} s, key {parts.key[:12]}")
    outputs = tuple((name, outcome.outputs[name]) for name in names)
    paths = tuple(store.blob_path(rec.digest) for _, rec in outputs)
    return StepRun(
        node, parts.key, "ran", outputs, outcome.seconds, paths, log_digest=outcome.log_digest
    )


def _repeat_reads(node: str, entry: dict[str, Any], reads: list[str], log: Log) -> None:
    """A cached step repeats what it read undeclared when it ran (the runner said it then); a
    strict step refuses such a result."""
    if not reads:
        return
    from axl.runtime._audit import message

    text = message(node, reads)
    if entry.get("strict_inputs"):
        raise StepError(node, f"strict inputs: {text} (recorded when it ran)", retryable=False)
    log("warning", text)


def _lookup(store: LocalStore, key: str) -> ActionResult | None:
    """A record whose blobs are all present and intact (as the local engine's lookup)."""
    record = store.get_record(key)
    if record is None:
        return None
    for rec in record.outputs.values():
        if store.verified_blob(rec.digest, record.stamps.get(rec.digest)) is None:
            return None
    store.touch_record(key)
    return record


def _fetch_inputs(store: LocalStore, inputs: Mapping[str, Artifact]) -> None:
    """Bring inputs another machine produced from the remote cache into the local one (the
    runner reads them from there): each missing blob comes with its producer's entry, which is
    checked (signature, digests) like any remote hit. One that cannot be had is left out; the
    runner then reports the missing input."""
    remote = store.remote_tier()
    if remote is None:
        return
    for artifact in inputs.values():
        if artifact.producer and not remote.has_blob(artifact.digest):
            with contextlib.suppress(AxlError):
                remote.get_record(artifact.producer)


def _execute(
    doc: dict[str, Any], node: str, store: LocalStore, root: Path, settings: Settings, log: Log
) -> StepOutcome:
    from axl.runtime._manifest import manifest_json

    folder = store.tmp_folder()
    try:
        path = folder / "manifest.json"
        path.write_text(manifest_json(doc), encoding="utf-8")
        result = folder / "result.json"
        stream = LogStream(log)
        if settings.runner == "subprocess":
            python = settings.python or sys.executable
            return run_subprocess(python, path, node, store.root, result, root, stream)
        return run_in_process(path, node, store.root, result, root, stream)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
