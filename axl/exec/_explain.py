"""``axl explain``: why a step ran (or was cached) in the last build, from the run history."""

from __future__ import annotations

import time
from typing import Any

from axl.cache._local import LocalStore
from axl.errors import UsageError
from axl.exec._session import load_runs
from axl.graph._keys import explain_change


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
    status = info.get("status")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last.get("started", 0)))
    head = f"step `{step}` of {workflow}: {status} in the build of {when} (run {last.get('run')})"
    key = (info.get("key") or "")[:12]
    if status == "cached":
        return [head, f"cached: its key {key} matched a stored result, so no code ran"]
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
    reasons = explain_change(previous.get("parts") if previous else None, info.get("parts", {}))
    if not reasons:
        reasons = ["its key changed in a part this version of axl does not name"]
    lines.append(f"ran because {reasons[0]}")
    lines.extend(f"  and {r}" for r in reasons[1:])
    return lines


def _previous(runs: list[dict[str, Any]], step: str) -> dict[str, Any] | None:
    """The step's entry in the most recent earlier build that computed its key."""
    for run in reversed(runs):
        info = run.get("steps", {}).get(step)
        if info and info.get("key") and info.get("parts"):
            return dict(info)
    return None
