"""The build's worker processes: started on first use, never outliving the build.

Each worker leads its own process group, dies with the build and is registered with a guardian
(see :mod:`axl.runtime._lifetime`); this module keeps the pool, the guardian and the groups
together, so that the scheduler only submits, and says how the build ended.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.exec._tasks import start_pool, worker_run
from axl.runtime._lifetime import Guardian, end_groups

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from axl.runtime._step import StepOutcome


class Workers:
    """``jobs`` forked workers over the cache folder ``root``, started by the first submit."""

    def __init__(self, jobs: int, root: Path) -> None:
        self.jobs, self.root = jobs, root
        self.pool: ProcessPoolExecutor | None = None
        self.guardian: Guardian | None = None
        #: The current pool's workers' process groups (each named by its leader's pid).
        self.groups: set[int] = set()

    def submit(self, *args: Any) -> Future[StepOutcome]:
        """Run :func:`axl.exec._tasks.worker_run` with ``args`` in a worker."""
        if self.pool is None:
            # The guardian first: forked before the pool starts any thread in this process.
            self.guardian = self.guardian or Guardian()
            self.pool = start_pool(self.jobs, self.root, self.guardian)
            # ProcessPoolExecutor keeps its workers (pid -> process) only privately.
            self.groups = set(getattr(self.pool, "_processes", None) or ())
        return self.pool.submit(worker_run, *args)

    def broken(self) -> None:
        """A worker died (e.g. OOM-killed): the pool ends the others; end what their steps
        started too. The next submit starts a new pool."""
        if self.pool is not None:
            end_groups(self.groups, ())
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def stop(self, *, interrupted: bool) -> None:
        """Shut down; after an interrupt, end the workers' process groups first (the running
        steps and whatever they started: SIGTERM, a grace period, SIGKILL)."""
        if self.pool is not None:
            if interrupted:
                workers = dict(getattr(self.pool, "_processes", None) or {})
                end_groups(self.groups, workers.values())
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.guardian is not None:
            self.guardian.close()
            self.guardian = None
