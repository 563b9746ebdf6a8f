"""``axl explain``: why a step ran (or was cached) in the last build, from the run history."""

from __future__ import annotations

import time
from typing import Any

from axl.cache._local import LocalStore
from axl.errors import UsageError
from axl.exec._session import load_runs
from axl.graph._keys import explain_change
from axl.runtime._audit import message


def explain(store: LocalStore, workflow: str, step: str) -> list[str]:
    """Sentences saying what happened to ``step`` in the last build of ``workflow`` and why.

    Raises:
        UsageError: The workflow was never built, or the step is not in its last build.
    """
    runs = load_runs(store, workflow)
    if not runs:
        raise UsageError(
            f"workflow {workflow!r} has no build in {store.root}",
            hint="build it first (axl run local / axl build), then ask again",
        )
    last = runs[-1]
    steps: dict[str, Any] = last.get("steps", {})
    if step not in steps:
        from difflib import get_close_matches

        near = get_close_matches(step, list(steps), n=1)
        raise UsageError(
            f"the last build of {workflow!r} has no step {step!r}",
            hint=(f"did you mean {near[0]!r}? " if near else "")
            + f"its steps are: {', '.join(steps)}",
        )
    info = steps[step]
    return [*_explain(store, runs, last, step, info), *_undeclared(step, info)]


def _undeclared(step: str, info: dict[str, Any]) -> list[str]:
    reads = [str(v) for v in info.get("undeclared") or ()]
    return [f"warning: {message(step, reads)}"] if reads else []


def _explain(
    store: LocalStore,
    runs: list[dict[str, Any]],
    last: dict[str, Any],
    step: str,
    info: dict[str, Any],
) -> list[str]:
    workflow = str(last.get("workflow"))
    status = info.get("status")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last.get("started", 0)))
    head = f"step `{step}` of {workflow}: {status} in the build of {when} (run {last.get('run')})"
    key = (info.get("key") or "")[:12]
    # A step whose undeclared reads were seen gets the warning instead (see _undeclared).
    untracked = [] if info.get("undeclared") else _untracked_note(info)
    if status == "cached":
        return [head, f"cached: its key {key} matched a stored result, so no code ran", *untracked]
    if status == "skipped":
        return [head, f"skipped: {info.get('reason', 'an upstream step did not succeed')}"]
    if status in ("failed", "error"):
        lines = [head, f"{status}: {info.get('error', '')}"]
    else:
        lines = [head]
    previous = _previous(runs[:-1], step)
    if info.get("reason"):
        lines.append(f"ran: {info['reason']}")
        return lines
    if previous is not None and previous.get("key") == info.get("key"):
        lines.append(
            f"ran: its key {key} was built before, but the stored result was missing "
            "(deleted, evicted by gc, or corrupt)"
        )
        return lines
    reasons = explain_change(
        previous.get("parts") if previous else None,
        info.get("parts", {}),
        lambda old, new, where: _folder_diff(store, old, new, where),
    )
    if not reasons:
        reasons = ["its key changed in a part this version of axl does not name"]
    lines.append(f"ran because {reasons[0]}")
    lines.extend(f"  and {r}" for r in reasons[1:])
    return [*lines, *untracked]


def _untracked_note(info: dict[str, Any]) -> list[str]:
    """Said of a step that declares no external input: what it opens itself is invisible."""
    parts = info.get("parts") or {}
    if parts.get("sources") or parts.get("options", {}).get("kind") == "params":
        return []
    return [
        "note: this step declares no external inputs (axl.File / axl.Dir): files it opens "
        "itself are not part of its key, so editing them does not rerun it"
    ]


def _folder_diff(store: LocalStore, old: str | None, new: str, where: str) -> str | None:
    """ "3 files of data/raw/ changed, 1 added", from the two listings kept in the CAS."""
    from axl.graph._sources import changed_files, parse_listing

    def listing(digest: str | None) -> Any:
        if digest is None:
            return None
        path = store.blob_path(digest)
        return parse_listing(path.read_bytes()) if path.is_file() else None

    after = listing(new)
    before = listing(old)
    if after is None or (old is not None and before is None):
        return None
    diff = changed_files(before, after)
    said = [
        f"{len(names)} {'file' if len(names) == 1 else 'files'} of {where} {verb}"
        if i == 0
        else f"{len(names)} {verb}"
        for i, (verb, names) in enumerate(
            (v, n)
            for v, n in (
                ("changed", diff["changed"]),
                ("added", diff["added"]),
                ("removed", diff["removed"]),
            )
            if n
        )
    ]
    if not said:
        return f"the files of {where} are the same but a mode bit changed"
    return ", ".join(said)


def _previous(runs: list[dict[str, Any]], step: str) -> dict[str, Any] | None:
    """The step's entry in the most recent earlier build that computed its key."""
    for run in reversed(runs):
        info = run.get("steps", {}).get(step)
        if info and info.get("key") and info.get("parts"):
            return dict(info)
    return None
