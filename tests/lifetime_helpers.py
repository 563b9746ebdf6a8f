"""Helpers for the process-lifetime tests: a workflow of slow steps that start children, and a
view of the processes a command started (by PID, parent PID and process group, from /proc)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Steps ``a`` and ``b`` sleep ``t`` seconds; ``a`` first starts ``sh -c 'sleep 600 & sleep 600'``
#: (a child and an orphan-to-be grandchild). Each writes ``started-<step>`` when it begins.
SLOW = """
import subprocess
import time
from pathlib import Path

from axl import Workflow, step

HERE = Path(__file__).parent


class Slow(Workflow):
    @step
    def params(self) -> dict:
        return {"t": 60, "q": 1}

    @step
    def quick(self, q: int) -> int:
        return q + 1

    @step
    def a(self, t: int, q: int) -> int:
        subprocess.Popen(["sh", "-c", "sleep 600 & sleep 600"])
        (HERE / "started-a").write_text("")
        time.sleep(t)
        return 1

    @step
    def b(self, t: int, q: int) -> int:
        (HERE / "started-b").write_text("")
        time.sleep(t)
        return 2

    @step
    def total(self, a: int, b: int) -> int:
        return a + b

    def graph(self):
        p = self.params()
        q = self.quick(p["q"])
        return self.total(self.a(p["t"], q), self.b(p["t"], q))
"""


def _stat(pid: int) -> tuple[int, int, str, int] | None:
    """``(ppid, pgid, state, start time)`` of ``pid``, or ``None`` when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), fields[0], int(fields[19])


def snapshot(pids: set[int]) -> dict[int, tuple[str, int]]:
    """Each process's command line and start time (a PID alone may be reused later)."""
    found = {}
    for pid in pids:
        info = _stat(pid)
        if info is not None:
            found[pid] = (cmdline(pid), info[3])
    return found


def _all() -> dict[int, tuple[int, int, str, int]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                found[int(entry)] = info
    return found


def family(root: int) -> set[int]:
    """``root``, its descendants, and every member of their process groups."""
    procs = _all()
    members = {root}
    grew = True
    while grew:
        more = {p for p, info in procs.items() if info[0] in members} - members
        groups = {procs[p][1] for p in members | more if p in procs}
        more |= {p for p, info in procs.items() if info[1] in groups and info[1] != 1}
        more -= members
        grew = bool(more)
        members |= more
    return members


def alive(procs: dict[int, tuple[str, int]]) -> set[int]:
    """The processes of a :func:`snapshot` that still run (the same start time: not a reused
    PID; a zombie has ended, only its parent's bookkeeping is left, and an orphan's is PID 1's).
    """
    return {
        p
        for p, (_, began) in procs.items()
        if (info := _stat(p)) is not None and info[2] != "Z" and info[3] == began
    }


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(paths: list[Path], proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"ended early ({proc.returncode}): {out!r} {err!r}")
        assert time.monotonic() < deadline, f"{paths} never appeared"
        time.sleep(0.05)


def kill_all(procs: dict[int, tuple[str, int]]) -> None:
    """Stop what a failed test left behind, by PID (checked against its start time)."""
    for pid in alive(procs):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``args`` the way a CI step or ``timeout(1)`` does: output captured, own session."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def interrupt(
    proc: subprocess.Popen[bytes], sig: int, markers: list[Path]
) -> tuple[str, str, dict[int, str], set[int]]:
    """Wait until the steps run, send ``sig`` to ``proc`` alone, and return its output, the
    processes it had started, and those of them still alive 3 s later (must be none).

    Fails if the caller's ``communicate()`` (capturing the output) does not return in 5 s.
    """
    wait_for(markers, proc)
    time.sleep(0.5)  # the step's `sh` has started its sleeps
    procs = snapshot(family(proc.pid))
    started = {pid: command for pid, (command, _) in procs.items()}
    try:
        os.kill(proc.pid, sig)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=5)
        assert time.monotonic() - t0 < 5
        left = left_after(procs)
    finally:
        clean_up(proc, procs)
    return out.decode(), err.decode(), started, left


def left_after(procs: dict[int, tuple[str, int]], seconds: float = 3.0) -> set[int]:
    """The processes of ``procs`` still alive after up to ``seconds`` (none, when all is well)."""
    deadline = time.monotonic() + seconds
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(procs)


def clean_up(proc: subprocess.Popen[bytes], procs: dict[int, tuple[str, int]]) -> None:
    """Whatever happened, stop ``proc`` and what it started (by PID and start time)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    kill_all(procs)
