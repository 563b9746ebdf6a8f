"""Process lifetime: nothing a build starts outlives it, and SIGTERM stops it like Ctrl-C.

Three mechanisms, because each alone leaves a gap (Linux; elsewhere the calls do nothing):

- **Parent-death signal.** A worker (and a runner a worker starts) asks the kernel for SIGKILL
  when its parent dies (``PR_SET_PDEATHSIG``), whatever killed the parent, SIGKILL included.
- **A process group per worker, and a guardian.** Each pool worker leads its own process group,
  so what a step starts (``subprocess.Popen``, a shell's ``sleep 600 &``) is in the step's group.
  A tiny guardian process, forked before the pool, holds the read end of a pipe that only the
  build writes to; when the build dies (even by SIGKILL) the kernel closes the write end, the
  guardian reads EOF and kills every worker's group. The parent-death signal alone would kill the
  workers but orphan their children; the guardian alone would miss a worker that moved groups.
- **Subreaper.** A worker is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so children of the
  step's children that lose their parent come back to it; after each step it ends every process
  the step left behind (:func:`end_children`).

SIGTERM (what CI timeouts, ``timeout(1)``, Kubernetes and systemd send) raises
:class:`Terminated`, a :class:`KeyboardInterrupt`, in the main thread, so it takes exactly the
path Ctrl-C takes: stop scheduling, end the running steps, record the run as interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any

#: Linux ``prctl`` options (``<linux/prctl.h>``).
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: How long running steps get to end after SIGTERM before their groups get SIGKILL.
GRACE_SECONDS = 2.0
#: The shell's exit code for "ended by signal N" is 128 + N.
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM
#: Environment variable telling ``python -m axl.runtime`` the pid it must not outlive.
PARENT_ENV = "AXL_PARENT_PID"


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM: a graceful stop, handled wherever Ctrl-C is."""

    signame = "SIGTERM"


def signal_name(exc: BaseException) -> str:
    """The signal behind an interrupt: ``SIGTERM`` for :class:`Terminated` (and exceptions that
    carry its ``signame``), ``SIGINT`` for a plain :class:`KeyboardInterrupt`."""
    return str(getattr(exc, "signame", "SIGINT"))


def exit_code(exc: BaseException) -> int:
    """143 after SIGTERM, 130 after SIGINT (128 + the signal's number, as shells report)."""
    return EXIT_SIGTERM if signal_name(exc) == "SIGTERM" else EXIT_SIGINT


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM while the first is being handled must not cut the cleanup short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def handle_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (a no-op off it)."""
    with contextlib.suppress(ValueError):  # not the main thread: leave the handler alone
        signal.signal(signal.SIGTERM, _raise_terminated)


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def die_with_parent(parent: int) -> None:
    """Get SIGKILL when the parent dies; exit now if ``parent`` is already gone."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died before the request took effect: then nobody would send it.
    if os.getppid() != parent:
        os._exit(1)


def become_subreaper() -> None:
    """Adopt this process's orphaned descendants, so that :func:`end_children` finds them."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def worker_setup(parent: int) -> None:
    """What a pool worker does first: its own group, die with ``parent``, adopt orphans, and
    the default SIGTERM (the build ends a worker's whole group with it)."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    die_with_parent(parent)
    become_subreaper()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def runner_setup() -> None:
    """What ``python -m axl.runtime`` does first: SIGTERM is a graceful stop; started by a
    build's worker (``$AXL_PARENT_PID``), it dies with it; it adopts its step's orphans."""
    handle_sigterm()
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit() and int(parent) == os.getppid():
        die_with_parent(int(parent))
    become_subreaper()


def group_guardian() -> Guardian | None:
    """A guardian for this process's own group, when it leads one (a runner started from a
    shell, or as a container's command): it ends the group if the process is killed, SIGKILL
    included. A runner inside a build's worker is in the worker's group, which the build guards.
    """
    if os.getpgrp() != os.getpid() or not sys.platform.startswith("linux"):
        return None
    guardian = Guardian()
    register(os.dup(guardian.fd))
    return guardian


def _children() -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", encoding="ascii") as f:
                pids.extend(int(p) for p in f.read().split())
    return pids


def end_children(keep: Iterable[int] = ()) -> int:
    """SIGKILL every child of this process except ``keep`` (and the orphans that then come back
    to it as subreaper), and reap them. Returns how many were ended. Linux only."""
    kept, ended = set(keep), 0
    for _ in range(100):  # bounded: a fork bomb must not hang the build
        pids = [p for p in _children() if p not in kept]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
            ended += 1
    return ended


@contextlib.contextmanager
def owned_children() -> Iterator[None]:
    """Whatever is started inside the block (and its orphans) ends with the block.

    For steps that run in the caller's own process (``--in-process``): children it had before
    are left alone, and it is a subreaper only while the block runs.
    """
    before = set(_children())
    adopted = _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        end_children(keep=before)
        if adopted:
            _prctl(_PR_SET_CHILD_SUBREAPER, 0)


def end_groups(groups: Iterable[int], processes: Iterable[Any] = ()) -> None:
    """Stop the process groups ``groups``: SIGTERM, up to :data:`GRACE_SECONDS` for
    ``processes`` (objects with ``is_alive()``) to end, then SIGKILL for whatever is left."""
    groups = list(groups)
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    waiting = list(processes)
    while waiting and time.monotonic() < deadline:
        waiting = [p for p in waiting if p.is_alive()]
        if waiting:
            time.sleep(0.02)
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)


class Guardian:
    """A forked process that kills the registered process groups when this process dies.

    Workers register their group by writing their pid to :attr:`fd` (inherited at fork) and
    closing it. :meth:`close` tells the guardian the build ended normally; EOF without that
    word means the build died, and the guardian sends SIGKILL to every registered group.
    """

    def __init__(self) -> None:
        read, self.fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child; its effect is what the tests check
            os.close(self.fd)
            _guard(read)
        os.close(read)

    def close(self) -> None:
        """The build ended normally: let the guardian go without killing anything."""
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self.fd, b"done\n")
        os.close(self.fd)
        self.fd = -1
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def register(fd: int) -> None:
    """In a worker: register this process's group with the guardian, and let go of the pipe
    (the guardian sees EOF only when no process holds the write end)."""
    with contextlib.suppress(OSError):
        os.write(fd, f"{os.getpid()}\n".encode())
    with contextlib.suppress(OSError):
        os.close(fd)


def _guard(read: int) -> None:  # pragma: no cover - runs in the forked guardian
    # Only os-level calls here: the guardian was forked from a process that may hold locks.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # never hold the caller's output pipe open
        os.dup2(null, fd)
    # Nor anything else of the build's (its cache lease, its sockets).
    os.closerange(3, read)
    os.closerange(read + 1, 1 << 16)
    data = b""
    while True:
        try:
            chunk = os.read(read, 4096)
        except InterruptedError:
            continue
        if not chunk:
            break
        data += chunk
    words = data.split()
    if b"done" not in words:
        for word in words:
            with contextlib.suppress(OSError, ValueError):
                os.killpg(int(word), signal.SIGKILL)
    os._exit(0)
