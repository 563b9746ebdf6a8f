"""The Dask executor: the axl process stays the engine and sends only cache misses to a cluster.

The engine plans, keys and consults the caches as for a local build; each step that must run is
handed to :meth:`DaskExecutor.submit`, which (in a client thread) makes the step's inputs present
in the shared store, waits until some worker offers the step's resources, submits
:func:`axl.cluster._worker.run_step` with the step's runner manifest, and brings the outputs back
into the local cache. The engine then records the result exactly as for a local run (local action
cache, remote entry, run history), so keys, digests and ``axl explain`` are the same.

``distributed`` is imported on the first step that runs on the cluster: a build where every step
is cached never imports it, nor contacts the scheduler.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from axl.cache._local import LocalStore
from axl.cache._records import OutputRecord
from axl.cache._remote import RemoteError, RemoteStore, open_remote, remote_timeout
from axl.cluster._resources import dask_resources, effective, offered, satisfiable
from axl.cluster._transfer import pull_blob, push_blob
from axl.errors import AxlError, UsageError
from axl.graph._keys import KeyParts
from axl.hashing import bytes_digest
from axl.ir import IRNode
from axl.runtime._manifest import manifest_json, project_sources, task_manifest
from axl.runtime._step import StepOutcome, StepTask

#: Threads that drive cluster tasks (each waits on one task; the cluster does the work).
DRIVERS = 64


class ClusterError(AxlError):
    """The cluster could not be used: the scheduler is unreachable or was lost."""


class _ClusterFuture(Future[StepOutcome]):
    """A step's future; cancelling it cancels its Dask task (queued or running)."""

    def __init__(self, executor: DaskExecutor) -> None:
        super().__init__()
        self.executor = executor
        self.dask_future: Any = None

    def cancel(self) -> bool:
        self.executor.cancel(self)
        return super().cancel()


@dataclass
class DaskExecutor:
    """Runs steps on the Dask cluster at ``scheduler`` (``BuildOptions.executor``).

    Args:
        scheduler: The scheduler's address, ``tcp://host:port``.
        workspace: The workspace root, as given to ``--workspace``.
        warm_env: Make the environment (``uv sync --frozen``) on every worker before the first
            step (implies ``lockfile_env``).
        lockfile_env: Run steps in the workflow's locked environment, made by each worker once
            per lockfile digest; otherwise in the worker's own Python (a baked image).
        placement_timeout: Seconds to wait for a worker that offers a step's resources.
        connect_timeout: Seconds to wait for the scheduler.
    """

    scheduler: str
    workspace: str | None = None
    warm_env: bool = False
    lockfile_env: bool = False
    placement_timeout: float = 10.0
    connect_timeout: float = 10.0
    tasks_sent: int = 0
    _client: Any = field(default=None, repr=False)
    _drivers: ThreadPoolExecutor | None = field(default=None, repr=False)
    _base: dict[str, Any] = field(default_factory=dict, repr=False)
    _live: set[_ClusterFuture] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _closing: bool = False

    # -- the engine's side -----------------------------------------------------------------------

    def submit(
        self, node: IRNode, task: StepTask, parts: KeyParts, store: LocalStore
    ) -> Future[StepOutcome]:
        """Start ``node`` on the cluster; the future gives its outcome.

        Raises:
            ClusterError: The scheduler cannot be reached (first step only).
            UsageError: No shared store is configured.
        """
        if self._client is None:
            self._connect(store, parts)
        assert self._drivers is not None
        future = _ClusterFuture(self)
        with self._lock:
            self._live.add(future)
            self.tasks_sent += 1
        self._drivers.submit(self._drive, future, node, task, parts, store)
        return future

    def cancel(self, future: _ClusterFuture) -> None:
        """Cancel the Dask task of ``future`` (a running one is killed on its worker)."""
        with self._lock:
            self._live.discard(future)
            dask_future = future.dask_future
        if dask_future is not None and self._client is not None:
            # The scheduler may be gone: then there is nothing left to cancel.
            with contextlib.suppress(Exception):
                self._client.cancel([dask_future])

    def close(self) -> None:
        """Cancel every task still out, then disconnect."""
        self._closing = True
        for future in list(self._live):
            future.cancel()
        if self._drivers is not None:
            self._drivers.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a lost connection
                self._client.close(timeout=5)

    # -- connecting ------------------------------------------------------------------------------

    def _connect(self, store: LocalStore, parts: KeyParts) -> None:
        remote = store.remote_tier()
        if remote is None or not remote.upload:
            raise UsageError(
                "--executor dask needs a shared store that workers and this machine both write: "
                + ("none is configured" if remote is None else "uploads are off"),
                hint="set --remote-cache http(s)://..., s3://... or a folder every worker mounts "
                "(and do not pass --no-remote-upload)",
            )
        from axl._loader import find_workspace
        from axl.cluster._sources import bundle_bytes

        root = find_workspace(explicit=self.workspace)
        sources = project_sources(root)
        bundle = bundle_bytes(root, sources)
        digest, _ = store.put_bytes(bundle)
        this_remote = self._remote(remote.remote.url)
        try:
            name = push_blob(this_remote, store, digest)
        except RemoteError as exc:
            raise ClusterError(
                f"cannot upload the workflow's sources to the shared store {remote.remote.url}: "
                f"{exc.message}",
                hint="check that the remote cache is reachable from this machine",
            ) from None
        self._base = {
            "remote": remote.remote.url,
            "timeout": remote_timeout(),
            "sources": [digest, name],
            "source_digests": sources,
            "env": "sync" if self.lockfile_env or self.warm_env else "worker",
            "dependencies": parts.environment.get("dependencies", ""),
        }
        self._client = self._open_client()
        self._drivers = ThreadPoolExecutor(DRIVERS, thread_name_prefix="axl-dask")
        if self.warm_env:
            self._warm()

    def _open_client(self) -> Any:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError(
                "--executor dask needs Dask's distributed package, which is not installed",
                hint="pip install 'axl[dask]'",
            ) from None
        try:
            return Client(  # type: ignore[no-untyped-call]
                self.scheduler, timeout=self.connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {exc}",
                hint="start one (`dask scheduler --host HOST --port PORT`) or fix --scheduler / "
                "$AXL_SCHEDULER",
            ) from None

    def _warm(self) -> None:
        from axl.cluster._worker import warm

        try:
            answers = self._client.run(warm, self._base)
        except AxlError as exc:
            raise ClusterError(
                f"warm_env failed on a worker: {exc.render()}", hint=exc.hint
            ) from None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"lost the Dask scheduler at {self.scheduler}: {exc}") from None
        if not answers:
            raise ClusterError(
                f"warm_env: the Dask cluster at {self.scheduler} has no workers",
                hint="start workers: dask worker " + self.scheduler,
            )

    def _remote(self, url: str) -> RemoteStore:
        # One connection per thread: the HTTP and S3 clients are not shared across threads.
        remote: RemoteStore | None = getattr(self._local, "remote", None)
        if remote is None:
            remote = self._local.remote = open_remote(url)
        return remote

    # -- one step ----------------------------------------------------------------------------------

    def _drive(
        self,
        future: _ClusterFuture,
        node: IRNode,
        task: StepTask,
        parts: KeyParts,
        store: LocalStore,
    ) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            outcome = self._run(future, node, task, parts, store)
        except ClusterError as exc:
            future.set_exception(exc)
        except AxlError as exc:
            future.set_result(StepOutcome("error", error=exc.render()))
        except Exception as exc:  # noqa: BLE001 - reported as "axl could not run it"
            future.set_result(StepOutcome("error", error=f"{type(exc).__name__}: {exc}"))
        else:
            future.set_result(outcome)
        finally:
            with self._lock:
                self._live.discard(future)

    def _run(
        self,
        future: _ClusterFuture,
        node: IRNode,
        task: StepTask,
        parts: KeyParts,
        store: LocalStore,
    ) -> StepOutcome:
        from axl.cluster._worker import run_step

        remote = self._remote(self._base["remote"])
        manifest = task_manifest(node, task, parts, sources=self._base["source_digests"])
        inputs = [[d, push_blob(remote, store, d)] for d in _input_digests(task.args)]
        request, problem = self._placement(dask_resources(node.name, node.resources))
        if problem:
            return StepOutcome("error", error=problem)
        payload = {**self._base, "manifest": manifest_json(manifest), "step": node.name}
        payload["inputs"] = inputs
        del payload["source_digests"]
        key = f"axl-{node.name}-{bytes_digest(parts.key.encode())[:8]}-{uuid.uuid4().hex[:8]}"
        dask_future = self._client.submit(
            run_step, payload, key=key, pure=False, resources=request or None
        )
        with self._lock:
            future.dask_future = dask_future
        try:
            answer: dict[str, Any] = dask_future.result()
        except Exception as exc:  # noqa: BLE001 - cancelled, killed workers, lost scheduler
            return self._lost(node.name, exc)
        return self._outcome(answer, remote, store)

    def _placement(self, wanted: dict[str, float]) -> tuple[dict[str, float], str | None]:
        """The request to send, once a worker offers it; a message after the timeout otherwise."""
        deadline = time.monotonic() + self.placement_timeout
        while True:
            try:
                workers = self._client.scheduler_info()["workers"]
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"lost the Dask scheduler at {self.scheduler}: {exc}") from None
            request = effective(wanted, workers)
            if satisfiable(request, workers):
                return request, None
            if time.monotonic() >= deadline:
                text = ", ".join(f"{k}={v:g}" for k, v in sorted(request.items()))
                return request, (
                    f"no worker of the Dask cluster at {self.scheduler} offers "
                    f"{text or 'a slot'} (waited {self.placement_timeout:g} s; workers: "
                    f"{offered(workers)}); start one with `dask worker {self.scheduler} "
                    f'--resources "{text.replace(", ", " ")}"`'
                )
            time.sleep(0.2)

    def _lost(self, step: str, exc: BaseException) -> StepOutcome:
        if self._closing:
            return StepOutcome("error", error=f"step {step!r} was cancelled")
        kind = type(exc).__name__
        if kind == "KilledWorker":
            return StepOutcome(
                "error", error=f"step {step!r} killed every worker that ran it: {exc}"
            )
        if kind in ("CancelledError", "FutureCancelledError", "CommClosedError") or isinstance(
            exc, (OSError, TimeoutError)
        ):
            raise ClusterError(
                f"lost the Dask scheduler at {self.scheduler} while step {step!r} ran ({kind})",
                hint="steps that completed are cached: build again once the scheduler is back",
            )
        return StepOutcome("error", error=f"the cluster could not run step {step!r}: {kind}: {exc}")

    def _outcome(
        self, answer: dict[str, Any], remote: RemoteStore, store: LocalStore
    ) -> StepOutcome:
        outputs = {k: OutputRecord.from_json(v) for k, v in (answer.get("outputs") or {}).items()}
        names: dict[str, str] = answer.get("names") or {}
        for digest, name in names.items():
            pull_blob(remote, store, digest, name)
        return StepOutcome(
            str(answer.get("status", "error")),
            outputs=outputs,
            seconds=float(answer.get("seconds") or 0.0),
            error=answer.get("error"),
            traceback=answer.get("traceback"),
            log_digest=answer.get("log_digest"),
            logs=str(answer.get("logs") or ""),
            started=float(answer.get("started") or 0.0),
            worker=answer.get("worker"),
        )


def _input_digests(args: dict[str, Any]) -> list[str]:
    """The digests of every blob a task reads from the local cache (upstream outputs, snapshots
    of external files); inputs read from their own URL (``remote``) travel by themselves.

    Raises:
        UsageError: A folder input read in place: workers do not share this machine's disk.
    """
    found: list[str] = []
    stack: list[Any] = list(args.values())
    while stack:
        spec = stack.pop()
        if "folder" in spec:
            where = spec["folder"].get("source", {}).get("location", "?")
            raise UsageError(
                f"the folder input {where} is read in place on this machine, and cluster workers "
                "do not share its disk",
                hint="give it as an object-store or HTTP input, or build this workflow locally",
            )
        if "input" in spec:
            found.append(spec["input"]["digest"])
        elif "list" in spec:
            stack.extend(spec["list"])
        elif "dict" in spec:
            stack.extend(spec["dict"].values())
    return list(dict.fromkeys(found))
