"""Invoking the axl runner for an op: in this process, or as ``python -m axl.runtime``.

Either way the runner gets a one-step manifest and the local cache as its artifact store (no
copies: inputs are read from, and outputs written to, the cache's CAS), writes its result
record to a file, and logs JSON lines, which :class:`LogStream` turns into the op's log.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, cast

from axl.errors import RunnerError
from axl.runtime._step import StepOutcome

#: The runner's log levels -> the op log's (the runner's "info" lines are detail).
_LEVELS = {"debug": "debug", "info": "debug", "warning": "warning", "error": "error"}
#: Fields every runner log line has, left out of the text.
_COMMON = ("time", "level", "workflow", "step", "event", "message", "exception")


class LogStream(io.TextIOBase):
    """A text stream the runner's :class:`~axl.runtime._logs.JsonLog` writes to: each JSON line
    becomes one call of ``log(level, text)``."""

    def __init__(self, log: Callable[[str, str], None]) -> None:
        super().__init__()
        self.log = log
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *done, self._pending = self._pending.split("\n")
        for line in done:
            self.line(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest:
            self.line(rest)

    def line(self, line: str) -> None:
        """Log one line of the runner's stderr."""
        if not line.strip():
            return
        try:
            record: Any = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            self.log("warning", f"axl runner: {line.rstrip()}")
            return
        text = f"axl runner: {record.get('event', '')}"
        if record.get("message"):
            text += f": {record['message']}"
        extra = {k: v for k, v in record.items() if k not in _COMMON}
        if extra:
            text += " " + json.dumps(extra, sort_keys=True, default=str)
        self.log(_LEVELS.get(str(record.get("level")), "info"), text)


def run_in_process(
    manifest: Path, node: str, store: Path, result: Path, root: Path, stream: LogStream
) -> StepOutcome:
    """The runner's Python API, in this process (the step's prints reach this ``sys.stdout``)."""
    from axl.runtime._logs import JsonLog
    from axl.runtime._runner import RunRequest, run
    from axl.runtime._subprocess import outcome_of

    # cache=False: the op keeps the action cache itself (it looked the key up before starting
    # the runner, and records the result), as the local engine's subprocess mode does.
    request = RunRequest(
        manifest=manifest, step=node, store=str(store), result=result, workspace=root, cache=False
    )
    code = run(request, JsonLog(cast(TextIO, stream)))
    stream.flush()
    return outcome_of(code, result, "", "")


def run_subprocess(
    python: str,
    manifest: Path,
    node: str,
    store: Path,
    result: Path,
    root: Path,
    stream: LogStream,
) -> StepOutcome:
    """``python -m axl.runtime`` in a fresh process; its stdout (the step's prints) is copied to
    ``sys.stdout`` as it comes, its stderr (JSON log lines) to ``stream``."""
    from axl.runtime._subprocess import outcome_of

    argv = [python, "-m", "axl.runtime", "--manifest", str(manifest), "--step", node]
    argv += ["--store", str(store), "--result", str(result), "--workspace", str(root)]
    argv.append("--no-cache")  # the op keeps the action cache (see run_in_process)
    env = {**os.environ, "AXL_WORKSPACE": str(root)}
    env.pop("AXL_RUN_ID", None)  # results go to --result, not to a run folder of the store
    try:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    except OSError as exc:
        raise RunnerError(
            f"cannot start the runner with {python}: {exc.strerror or exc}",
            hint="fix the python of the axl resource's config",
        ) from None
    assert proc.stdout is not None  # a pipe, as asked
    assert proc.stderr is not None
    errors: list[str] = []

    def pump_stderr(pipe: Any) -> None:
        for line in pipe:
            errors.append(line)
            stream.line(line)

    pump = threading.Thread(target=pump_stderr, args=(proc.stderr,), daemon=True)
    pump.start()
    for line in proc.stdout:
        sys.stdout.write(line)
    code = proc.wait()
    pump.join()
    sys.stdout.flush()
    return outcome_of(code, result, "", "".join(errors))
