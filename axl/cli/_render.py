"""Human-readable rendering of build reports."""

from __future__ import annotations

from typing import Any

from axl.exec import BuildReport

_MARK = {
    "ran": "ran",
    "cached": "cached",
    "failed": "FAILED",
    "error": "ERROR",
    "skipped": "skipped",
}


def render_report(report: BuildReport) -> str:
    """One line per step, the failures' details, then a summary line."""
    lines = []
    width = max((len(n) for n in report.steps), default=4)
    for name, step in report.steps.items():
        extra = ""
        if step.status in ("failed", "error") and step.error:
            extra = f"  {step.error}"
        elif step.status == "skipped" and step.reason:
            extra = f"  ({step.reason})"
        elif step.source == "remote":
            extra = "  (remote)"
        lines.append(f"  {_MARK[step.status]:<7} {name:<{width}}  {step.seconds:7.3f}s{extra}")
    for step in report.steps.values():
        if step.traceback:
            lines.append(f"\n--- {step.name}: {step.status} ---\n{step.traceback.rstrip()}")
    counts = ", ".join(f"{report.count(s)} {s}" for s in _MARK if report.count(s))
    took = report.finished - report.started
    state = "ok" if report.ok else "FAILED"
    lines.append(f"{report.workflow}: {state} in {took:.2f}s ({counts})")
    if report.remote is not None:
        lines.append(_remote_line(report.remote))
    if report.view is not None and report.ok:
        lines.append(f"outputs: {report.view}")
    return "\n".join(lines) + "\n"


def write_warnings(report: BuildReport) -> None:
    """One ``warning:`` line on stderr per step that read inputs its key does not cover (a
    cached step's come from its record, so the warning does not vanish on the next build)."""
    import sys

    from axl.runtime._audit import message

    for step in report.steps.values():
        if step.undeclared and step.status in ("ran", "cached"):
            sys.stderr.write(f"warning: {message(step.name, step.undeclared)}\n")
    sys.stderr.flush()


def render_problem(report: BuildReport) -> str:
    """``error:``/``hint:`` lines (for stderr) when a step ended in an error axl can say how to
    fix (a full or read-only cache folder); empty otherwise. One error, however many steps."""
    for step in report.steps.values():
        if step.status == "error" and step.hint and step.error:
            return f"error: {step.error}\nhint: {step.hint}\n"
    return ""


def _remote_line(remote: dict[str, Any]) -> str:
    """What the remote cache did, e.g. ``remote cache http://h/c: 5 hits (1.2 MiB down) ...``."""
    down, up = remote["bytes_downloaded"] / 2**20, remote["bytes_uploaded"] / 2**20
    line = (
        f"remote cache {remote['url']}: {remote['remote_hits']} hits ({down:.1f} MiB down), "
        f"{remote['uploads']} uploaded ({up:.1f} MiB up)"
    )
    if remote.get("loads_fetched"):
        line += ", workflow load from the remote (its module not imported)"
    if remote["degraded"]:
        line += ", unavailable (local only)"
    return line
