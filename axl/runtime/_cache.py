"""The runner's action key and action cache: reuse a cached result, record a fresh one.

Once the runner knows a step's inputs' digests it computes the step's action key and asks the
cache before any user code runs:

* the local part is the runner's working store: the artifact store itself when ``--store`` is a
  folder (an axl cache folder, a volume the pods share), else a temporary folder;
* the remote part is the remote cache ``axl run local`` uses, configured the same way
  (``--remote-cache URL`` > ``$AXL_REMOTE_CACHE`` > ``[tool.axl] remote_cache``; records signed
  with ``$AXL_CACHE_SECRET``; ``--[no-]remote-upload`` > ``$AXL_REMOTE_UPLOAD``).

A hit (a record whose blobs are present and verified, downloaded from the remote if need be) is
the step's outcome: its outputs are published as if the step had run. A miss runs the step; its
record then goes to the local store and, blobs first, to the remote. The remote can only make a
step faster: when it fails, one warning log line, and the step runs.
"""

from __future__ import annotations

import contextlib
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.cache._records import ActionResult
from axl.errors import CacheWriteError, RunnerError
from axl.graph._keys import KeyParts
from axl.runtime._logs import JsonLog
from axl.runtime._step import StepOutcome


def interpreter_environment() -> dict[str, str]:
    """This interpreter's part of the key's environment (as ``axl.graph.environment_part``)."""
    return {
        "python": ".".join(map(str, sys.version_info[:2])),
        "platform": f"{sys.platform}-{platform.machine()}",
    }


def step_key_parts(
    manifest: Mapping[str, Any], entry: Mapping[str, Any], node: str, inputs_part: Any
) -> KeyParts | None:
    """The step's key parts, from the manifest's parts and the inputs' actual digests.

    The manifest's environment may leave out ``python`` and ``platform`` (an emitter cannot know
    where the step will run): this interpreter's fill them in, so a pod keys a step as
    ``axl run local`` does on the same Python and platform.

    Returns:
        ``None`` when the manifest carries no key parts or no environment.

    Raises:
        RunnerError: The manifest names a key that is not the key of its parts and inputs.
    """
    parts = entry.get("key_parts")
    if parts is None or "environment" not in manifest:
        return None
    computed = KeyParts(
        identity={"workflow": manifest["workflow"]["name"], "step": node},
        code=parts["code"],
        options=parts["options"],
        inputs=inputs_part,
        environment={**interpreter_environment(), **manifest["environment"]},
    )
    expected = entry.get("key")
    if expected is not None and expected != computed.key:
        raise RunnerError(
            f"step {node!r}: the manifest's key {expected[:12]}... does not match the key of its "
            f"parts and inputs ({computed.key[:12]}...)",
            hint="the manifest was edited, or an input is not the one it was keyed with",
        )
    return computed


class StepCache:
    """The action cache one runner step uses: a local store, tiered over a remote when one is
    configured.

    Args:
        store: The local store (a :class:`axl.cache._tiered.TieredStore` for a remote).
        log: Where ``cached``, ``recorded`` and remote warning events go.
    """

    def __init__(self, store: LocalStore, log: JsonLog) -> None:
        self.store = store
        self.log = log

    @classmethod
    def open(
        cls,
        root: Path,
        work: LocalStore,
        log: JsonLog,
        *,
        url: str | None = None,
        upload: bool | None = None,
    ) -> StepCache:
        """The cache over ``work``, with the remote that ``url``/``upload`` (the flags, ``None``
        when not given), the environment or ``root``'s ``pyproject.toml`` configure.

        Raises:
            UsageError: The remote setting is malformed.
        """
        from axl.cache._remote import open_remote, remote_config

        config = remote_config(root, url, upload)
        if config is None:
            return cls(work, log)
        from axl.cache._tiered import TieredStore

        remote = open_remote(config.url)

        def warn(message: str) -> None:
            # The remote's url, not the configured one: it has any password taken out.
            log.emit("warning", "remote_cache", message, url=remote.url)

        return cls(TieredStore(work.root, remote, upload=config.upload, warn=warn), log)

    @property
    def remote_url(self) -> str | None:
        remote = getattr(self.store, "remote", None)
        return None if remote is None else str(remote.url)

    def lookup(self, key: str, outputs: list[str]) -> StepOutcome | None:
        """The cached outcome under ``key`` (its blobs verified and local), or ``None``."""
        # Under the gc lock, as the engine does: a concurrent gc cannot take what was found.
        with self.store.gc_lock.held():
            record = self.store.get_record(key)
            if record is None or not set(outputs) <= set(record.outputs):
                return None
            for rec in record.outputs.values():
                if self.store.verified_blob(rec.digest, record.stamps.get(rec.digest)) is None:
                    return None
            self.store.touch_record(key)
        source = "remote" if key in getattr(self.store, "fetched", ()) else "local"
        self.log.note("cached", key=key, source=source, url=self.remote_url, ran=record.seconds)
        return StepOutcome(
            "ok",
            outputs={name: record.outputs[name] for name in outputs},
            log_digest=record.log_digest,
            undeclared=list(record.undeclared),
        )

    def record(self, parts: KeyParts, workflow: str, node: str, outcome: StepOutcome) -> None:
        """Store a successful outcome under its key: locally, then (blobs first) remotely."""
        stats = getattr(self.store, "stats", None)
        before = stats.uploads if stats is not None else 0
        stamps = {
            rec.digest: stamp
            for rec in outcome.outputs.values()
            if (stamp := self.store.stamp(rec.digest)) is not None
        }
        record = ActionResult(
            key=parts.key,
            workflow=workflow,
            step=node,
            outputs=dict(outcome.outputs),
            seconds=outcome.seconds,
            created=time.time(),
            log_digest=outcome.log_digest,
            parts=parts.as_dict(),
            stamps=stamps,
            undeclared=tuple(outcome.undeclared),
        )
        try:
            self.store.put_record(record)
        except (OSError, CacheWriteError) as exc:
            # The step's outputs are published already; a cache that cannot be written only
            # means the next run does the work again.
            self.log.emit("warning", "recorded", f"could not record the result in the cache: {exc}")
            return
        stats = getattr(self.store, "stats", None)
        uploaded = stats is not None and stats.uploads > before
        self.log.note("recorded", key=parts.key, uploaded=uploaded, url=self.remote_url)

    def remote_stats(self) -> dict[str, Any] | None:
        """What the remote did for this step, when there is one."""
        stats = getattr(self.store, "stats", None)
        return None if stats is None else dict(stats.to_json())

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def open_step_cache(
    enabled: bool,
    workspace: Path | None,
    work: LocalStore,
    log: JsonLog,
    url: str | None,
    upload: bool | None,
) -> Iterator[StepCache | None]:
    """The action cache of one step (``None`` when not ``enabled``), closed afterwards.

    Args:
        enabled: Whether to use a cache at all.
        workspace: ``--workspace``; its ``pyproject.toml`` may name the remote.
        work: The runner's working store: the local part.
        log: The runner's log.
        url: ``--remote-cache``, ``None`` when not given.
        upload: ``--[no-]remote-upload``, ``None`` when not given.
    """
    if not enabled:
        yield None
        return
    from axl.runtime._workflow import workspace_root

    cache = StepCache.open(workspace_root(workspace), work, log, url=url, upload=upload)
    try:
        # A lease, as a build holds one: gc keeps what this step uses and writes.
        with cache.store.lease():
            yield cache
    finally:
        cache.close()
