"""A live view of a build on the terminal: running, cached, done and queued steps.

It is fed by the engine's ``on_event(step, status)`` hook (:data:`axl.exec._engine.EventHook`)
and draws with rich on stderr, so stdout stays clean for the report. rich is imported when the
first step starts running: a build where everything is cached never draws, and never pays for
the import. The CLI only creates one when stderr is a terminal (see :func:`live_progress`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

#: How a settled step is shown: its mark and rich style.
_DONE = {
    "ran": ("✓", "green"),
    "cached": ("↺", "blue"),
    "failed": ("✗", "red"),
    "error": ("✗", "red"),
    "skipped": ("-", "dim"),
}
#: Running steps listed by name; more are counted only.
MAX_LISTED = 8


class BuildProgress:
    """Tracks step states from engine events and shows them live once a step runs.

    Args:
        console: Where to draw (default: a rich console on stderr).
        refresh_per_second: How often rich redraws (on its own thread).
    """

    def __init__(self, console: Console | None = None, *, refresh_per_second: float = 8.0) -> None:
        self.states: dict[str, str] = {}
        self.since: dict[str, float] = {}
        self.started: float | None = None
        self._console = console
        self._rate = refresh_per_second
        self._live: Live | None = None
        self._lock = threading.Lock()

    def on_event(self, step: str, status: str) -> None:
        """The engine hook: ``queued``, ``running``, then ran/cached/failed/error/skipped."""
        with self._lock:
            if self.started is None:
                self.started = time.monotonic()  # the build's start, not the workflow's load
            self.states[step] = status
            self.since[step] = time.monotonic()
        if status == "running" and self._live is None:
            self._start()

    def counts(self) -> dict[str, int]:
        with self._lock:
            found = list(self.states.values())
        return {s: found.count(s) for s in dict.fromkeys(found)}

    def _start(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = self._console or Console(stderr=True)
        self._live = Live(
            get_renderable=self.render,
            console=console,
            transient=True,
            refresh_per_second=self._rate,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def render(self) -> RenderableType:
        """The current view: a summary line with a bar, then the running and failed steps."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        with self._lock:
            states, since = dict(self.states), dict(self.since)
            began = self.started if self.started is not None else now
        total = len(states)
        done = sum(1 for s in states.values() if s in _DONE)
        running = [n for n, s in states.items() if s == "running"]
        queued = sum(1 for s in states.values() if s == "queued")
        cached = sum(1 for s in states.values() if s == "cached")
        # Kept under 80 columns: the view must not wrap on a default terminal.
        summary = Text.assemble(
            (f"{done}/{total} steps", "bold"),
            f" · {len(running)} running · {queued} queued · {cached} cached",
            (f" · {now - began:.1f}s", "dim"),
        )
        header = Table.grid(padding=(0, 1))
        header.add_row(
            Spinner("dots", style="cyan"),
            Text("building", style="bold"),
            ProgressBar(total=max(total, 1), completed=done, width=16),
            summary,
        )
        steps = Table.grid(padding=(0, 1))
        for name in running[:MAX_LISTED]:
            steps.add_row(
                " ", Text("running", style="yellow"), Text(name), _secs(now - since[name])
            )
        if len(running) > MAX_LISTED:
            steps.add_row(" ", Text(f"… and {len(running) - MAX_LISTED} more", style="dim"), "", "")
        for name, status in states.items():
            if status in ("failed", "error"):
                mark, style = _DONE[status]
                steps.add_row(" ", Text(f"{mark} {status}", style=style), Text(name), "")
        return Group(header, steps)

    def close(self) -> None:
        """Stop drawing (the transient view disappears from the terminal)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def reset(self) -> None:
        """Stop drawing and forget every step: the next workflow of a build starts afresh."""
        self.close()
        with self._lock:
            self.states.clear()
            self.since.clear()
            self.started = None


def _secs(value: float) -> Any:
    from rich.text import Text

    return Text(f"{value:.1f}s", style="dim")


@contextlib.contextmanager
def live_progress(enabled: bool) -> Iterator[Callable[[str, str], None] | None]:
    """The hook to pass as ``on_event`` while building, or ``None`` when ``enabled`` is false.

    Use ``enabled=sys.stderr.isatty() and not json_out``: output that is not a terminal (a CI
    log, a pipe) gets no live view at all.
    """
    if not enabled:
        yield None
        return
    progress = BuildProgress()
    try:
        yield progress.on_event
    finally:
        progress.close()
