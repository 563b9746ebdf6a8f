"""Cache maintenance: statistics, verification and size-bounded garbage collection."""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.cache._lease import TOUCH_INTERVAL, oldest_live_lease
from axl.cache._local import LocalStore
from axl.cache._records import ActionResult
from axl.errors import UsageError
from axl.hashing import file_digest

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``"500M"``, ``"2GiB"``, ``"1.5g"``, ``"1000"`` -> bytes.

    Raises:
        UsageError: Not a size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise UsageError(f"{text!r} is not a size", hint="write e.g. 500M, 2G or 1048576")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass
class Inventory:
    records: dict[str, ActionResult] = field(default_factory=dict)
    record_mtime: dict[str, float] = field(default_factory=dict)
    blobs: dict[str, int] = field(default_factory=dict)


def inventory(store: LocalStore) -> Inventory:
    inv = Inventory()
    for path in store.iter_records():
        with contextlib.suppress(OSError):
            record = ActionResult.from_bytes(path.read_bytes())
            if record is not None:
                inv.records[path.name] = record
                inv.record_mtime[path.name] = path.stat().st_mtime
    for blob in store.iter_blobs():
        with contextlib.suppress(OSError):
            inv.blobs[blob.name] = blob.stat().st_size
    return inv


def last_runs(store: LocalStore) -> list[dict[str, Any]]:
    """The latest run record of every workflow."""
    runs = []
    if store.runs_dir.is_dir():
        for folder in sorted(p for p in store.runs_dir.iterdir() if p.is_dir()):
            files = sorted(folder.glob("*.json"))
            if files:
                with contextlib.suppress(ValueError, OSError):
                    runs.append(json.loads(files[-1].read_text()))
    return runs


def stats(store: LocalStore) -> dict[str, Any]:
    """Sizes and counts of the store, and what the most recent build did."""
    inv = inventory(store)
    runs = last_runs(store)
    latest = max(runs, key=lambda r: r.get("started", 0), default=None)
    last: dict[str, Any] | None = None
    if latest is not None:
        statuses: dict[str, int] = {}
        for step in latest.get("steps", {}).values():
            statuses[step.get("status", "?")] = statuses.get(step.get("status", "?"), 0) + 1
        last = {
            "workflow": latest.get("workflow"),
            "run": latest.get("run"),
            "steps": statuses,
            "remote": latest.get("remote", {}),
        }
    return {
        "cache_dir": str(store.root),
        "records": len(inv.records),
        "blobs": len(inv.blobs),
        "bytes": sum(inv.blobs.values()),
        "last_build": last,
    }


def verify(store: LocalStore) -> dict[str, int]:
    """Re-hash every blob (deleting bad ones) and drop records whose blobs are gone."""
    bad_blobs = 0
    checked = 0
    for blob in store.iter_blobs():
        checked += 1
        if file_digest(blob) != blob.name:
            bad_blobs += 1
            with contextlib.suppress(FileNotFoundError):
                blob.unlink()
    bad_records = 0
    for path in store.iter_records():
        record = ActionResult.from_bytes(path.read_bytes())
        if record is None or any(
            not store.has_blob(o.digest, o.size) for o in record.outputs.values()
        ):
            bad_records += 1
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return {
        "blobs_checked": checked,
        "bad_blobs": bad_blobs,
        "bad_records": bad_records,
        "tmp_removed": store.clean_tmp(older_than=0),
    }


def _protected(store: LocalStore) -> tuple[set[str], set[str]]:
    """Keys and blobs the latest build of each workflow needs: gc never removes them."""
    keys: set[str] = set()
    blobs: set[str] = set()
    for run in last_runs(store):
        for step in run.get("steps", {}).values():
            if step.get("key"):
                keys.add(step["key"])
            if step.get("log_digest"):
                blobs.add(step["log_digest"])
            blobs.update(o["digest"] for o in step.get("outputs", {}).values())
    return keys, blobs


def gc(store: LocalStore, max_size: int) -> dict[str, int]:
    """Delete least-recently-used results until the CAS holds at most ``max_size`` bytes.

    Blobs that no record references go first (oldest first), then records in LRU order with
    the blobs only they referenced. What the latest build of each workflow needs is kept, even if
    that leaves the store above ``max_size``, and so is what a running build may use or has
    written (see :mod:`axl.cache._lease`). Safe to run while builds run.
    """
    with store.gc_lock.held(exclusive=True):
        return _gc(store, max_size)


def _gc(store: LocalStore, max_size: int) -> dict[str, int]:
    since = oldest_live_lease(store.root)
    # Running builds: keep what they may have used or written (axl.cache._lease).
    cutoff = None if since is None else since - TOUCH_INTERVAL
    inv = inventory(store)
    keep_keys, keep_blobs = _protected(store)
    if cutoff is not None:
        keep_keys.update(k for k, t in inv.record_mtime.items() if t >= cutoff)
        keep_blobs.update(d for d in inv.blobs if _mtime(store.blob_path(d)) >= cutoff)
    refs: dict[str, int] = {}
    for record in inv.records.values():
        for digest in _record_blobs(record):
            refs[digest] = refs.get(digest, 0) + 1
    total = sum(inv.blobs.values())
    removed_blobs = removed_records = 0

    def drop_blob(digest: str) -> None:
        nonlocal total, removed_blobs
        with contextlib.suppress(FileNotFoundError):
            store.blob_path(digest).unlink()
            total -= inv.blobs.get(digest, 0)
            removed_blobs += 1

    orphans = [d for d in inv.blobs if refs.get(d, 0) == 0 and d not in keep_blobs]
    orphans.sort(key=lambda d: _mtime(store.blob_path(d)))
    for digest in orphans:
        if total <= max_size:
            break
        drop_blob(digest)
    for key in sorted(inv.records, key=lambda k: inv.record_mtime[k]):
        if total <= max_size:
            break
        if key in keep_keys:
            continue
        with contextlib.suppress(FileNotFoundError):
            store.record_path(key).unlink()
            removed_records += 1
        for digest in _record_blobs(inv.records[key]):
            refs[digest] -= 1
            if refs[digest] == 0 and digest not in keep_blobs and digest in inv.blobs:
                drop_blob(digest)
    # A running build's files in tmp/ are as old as its longest step, at most.
    store.clean_tmp(older_than=3600.0 if since is None else max(3600.0, time.time() - since))
    return {
        "removed_records": removed_records,
        "removed_blobs": removed_blobs,
        "removed_runs": prune_runs(store),
        "bytes": max(total, 0),
    }


def _record_blobs(record: ActionResult) -> list[str]:
    digests = [o.digest for o in record.outputs.values()]
    if record.log_digest:
        digests.append(record.log_digest)
    return digests


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


#: Run records kept per workflow by :func:`gc` (newest first).
KEEP_RUNS = 100


def prune_runs(store: LocalStore, keep: int = KEEP_RUNS) -> int:
    """Delete all but the ``keep`` newest run records of each workflow; returns how many."""
    removed = 0
    if not store.runs_dir.is_dir():
        return 0
    for folder in (p for p in store.runs_dir.iterdir() if p.is_dir()):
        # Run ids start with the start time (to the microsecond), so names sort oldest first.
        for path in sorted(folder.glob("*.json"))[:-keep]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed
