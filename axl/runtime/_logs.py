"""Structured logs for the runner: one JSON object per line, on stderr.

Every line carries ``time`` (UTC, ISO 8601), ``level``, ``workflow``, ``step`` and ``event``; timed
events add ``duration`` (seconds), failures add ``exception`` (``type``, ``message``,
``traceback``). Lines are written whole and flushed at once, so a log shipper reading the pod's
stderr never sees half an object, and a reader can rely on "one line, one JSON object".
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any, TextIO

#: Levels, in the order log processors usually rank them.
LEVELS = ("debug", "info", "warning", "error")


class JsonLog:
    """Writes JSON log lines to ``stream``, tagged with the workflow and step once they are known.

    Args:
        stream: Where lines go (the runner passes the original stderr).
        workflow: The workflow's name, when already known.
        step: The step's node name, when already known.
    """

    def __init__(self, stream: TextIO, *, workflow: str | None = None, step: str | None = None):
        self.stream = stream
        self.workflow = workflow
        self.step = step
        # Uploads and downloads may log from helper threads (s3transfer); lines must not interleave.
        self._lock = threading.Lock()

    def bind(self, *, workflow: str | None = None, step: str | None = None) -> None:
        """Tag later lines with ``workflow`` and ``step``."""
        if workflow is not None:
            self.workflow = workflow
        if step is not None:
            self.step = step

    def emit(
        self,
        level: str,
        event: str,
        message: str | None = None,
        *,
        duration: float | None = None,
        exception: BaseException | dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Write one line and return the object written."""
        record: dict[str, Any] = {
            "time": _now(),
            "level": level,
            "workflow": self.workflow,
            "step": self.step,
            "event": event,
        }
        if message is not None:
            record["message"] = message
        if duration is not None:
            record["duration"] = round(duration, 6)
        record.update(fields)
        if exception is not None:
            record["exception"] = (
                exception if isinstance(exception, dict) else describe_exception(exception)
            )
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()
        return record

    # Not named info/error: these are not stdlib logging calls (no %-formatting of arguments).
    def note(self, event: str, message: str | None = None, **fields: Any) -> None:
        """An ``info`` line."""
        self.emit("info", event, message, **fields)

    def warn(self, event: str, message: str | None = None, **fields: Any) -> None:
        """A ``warning`` line."""
        self.emit("warning", event, message, **fields)

    def problem(self, event: str, message: str | None = None, **fields: Any) -> None:
        """An ``error`` line."""
        self.emit("error", event, message, **fields)

    @contextlib.contextmanager
    def timed(self, event: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Log ``event`` with its ``duration`` when the block ends. The block may add fields to
        the yielded dict. An exception escaping the block is logged at level ``error``."""
        extra: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            yield extra
        except BaseException as exc:
            self.emit(
                "error",
                event,
                duration=time.perf_counter() - started,
                exception=exc,
                **fields,
                **extra,
            )
            raise
        self.emit("info", event, duration=time.perf_counter() - started, **fields, **extra)


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """The ``exception`` field of a log line: type, message and formatted traceback."""
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def _now() -> str:
    # Microseconds and a literal Z: sortable as text, parseable by every log processor.
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
