"""The remote cache in a build: which store a build uses, and what the remote did for it.

Every command that builds (``axl run local``, ``axl build``) opens its store with
:func:`build_store`, so ``--remote-cache``, ``$AXL_REMOTE_CACHE`` and ``[tool.axl]`` resolve the
same way everywhere; :func:`settle_remote` (called by ``run_ir``) marks which hits came from the
remote and attaches the remote's statistics to the report and the run record.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from axl.cache._local import LocalStore
from axl.cache._remote import open_remote, remote_config
from axl.exec._report import CACHED, BuildReport

if TYPE_CHECKING:
    from axl.cache._tiered import Warn


def build_store(
    root: Path,
    cache_root: Path,
    *,
    remote_cache: str | None = None,
    remote_upload: bool | None = None,
    warn: Warn | None = None,
) -> LocalStore:
    """The store a build uses: the local cache at ``cache_root``, tiered over the remote cache
    when one is configured.

    Args:
        root: The workspace root (its ``pyproject.toml`` may name the remote).
        cache_root: The local cache folder (see ``axl.exec._session.cache_dir_for``).
        remote_cache: ``--remote-cache``; an empty string switches the remote off.
        remote_upload: ``--remote-upload/--no-remote-upload``; ``None`` when not given.
        warn: Receives warnings (default: stderr).

    Raises:
        UsageError: The remote setting is malformed.
    """
    config = remote_config(root, remote_cache, remote_upload)
    if config is None:
        return LocalStore(cache_root)
    from axl.cache._tiered import TieredStore

    return TieredStore(cache_root, open_remote(config.url), upload=config.upload, warn=warn)


def settle_remote(report: BuildReport, store: LocalStore) -> None:
    """After a build: mark remote hits and attach the remote's statistics to the report.

    The counters then start again, so a command that builds several targets with one store
    reports each build's own figures. The connection stays open for the next build.
    """
    remote = store.remote_tier()
    if remote is None:
        return
    local_hits = remote_hits = 0
    for step in report.steps.values():
        if step.status != CACHED:
            continue
        if step.key in remote.fetched:
            step.source = "remote"
            remote_hits += 1
        else:
            local_hits += 1
    stats = remote.stats.to_json()
    # Counted from the report: a record fetched for a step that was then not used is no hit.
    stats["remote_hits"] = remote_hits
    report.remote = {"local_hits": local_hits, **stats}
    remote.reset_stats()
