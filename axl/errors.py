"""The one error tree. Every failure a user can cause is an :class:`AxlError`.

Messages are built from fields (workflow, step, file:line, expected, got) and say the fix; the CLI
renders ``error: <message>`` plus ``hint: <hint>`` and exits with :attr:`AxlError.exit_code`.
Three failures are kept apart on purpose: the step's own code failed (:class:`StepFailed`), axl
could not run the step (:class:`RunnerError`), and a step was skipped because an upstream failed.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TypedDict


class Loc(TypedDict, total=False):
    """Where a problem is: keyword arguments ``file``/``line`` for any :class:`AxlError`."""

    file: str | Path | None
    line: int | None


class AxlError(Exception):
    """Base of every error axl reports to a user.

    Args:
        message: What is wrong, in one sentence.
        hint: How to fix it.
        file: The file the problem is in, when there is one.
        line: The line in ``file``.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(self.render())

    @property
    def where(self) -> str:
        """``file:line`` (or just ``file``) when known, else an empty string."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def render(self) -> str:
        """The message prefixed with its location."""
        return f"{self.where}: {self.message}" if self.where else self.message


class UsageError(AxlError):
    """A command was called with options that do not fit together."""


class LoadError(AxlError):
    """A workflow module or class could not be found or imported."""


class WorkflowError(AxlError):
    """A workflow is malformed: bad step options, bad wiring, bad graph()."""


class ParamsError(AxlError):
    """A params file does not fit the workflow's params step."""


class BuildFileError(AxlError):
    """A BUILD file is malformed."""


class LabelError(AxlError):
    """A label is malformed or names nothing."""


class CanonicalError(AxlError):
    """A value taking part in an action key cannot be hashed canonically."""


class CacheError(AxlError):
    """The cache is unusable (not corrupt entries: those are misses, rebuilt silently)."""


#: Write failures that mean the cache folder cannot take the write (full, over quota, read-only,
#: not ours): axl's problem to report, never the step's failure.
_CANNOT_WRITE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


class CacheWriteError(CacheError):
    """The cache folder refused a write (disk full, quota, read-only, permissions).

    Args:
        folder: The cache folder.
        exc: The refused write.
        what: What was being written (``output 'out' of step 'fit'``, ``the run record``).
        needed: How many bytes it needed, when known.
    """

    def __init__(self, folder: Path, exc: OSError, what: str, needed: int | None) -> None:
        self.folder, self.errno, self.needed = folder, exc.errno, needed
        size = f"{needed:,} bytes" if needed is not None else "an unknown number of bytes"
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        hint = (
            "free space with 'axl cache gc --max-size SIZE' (e.g. 1G), or build with another "
            "cache folder: --cache-dir DIR (or $AXL_CACHE_DIR)"
            if full
            else "make the folder writable, or build with another cache folder: --cache-dir DIR "
            "(or $AXL_CACHE_DIR)"
        )
        super().__init__(
            f"cannot write to the cache folder {folder}: {exc.strerror or exc} "
            f"({what} needs {size})",
            hint=hint,
        )


def cannot_write(exc: BaseException) -> bool:
    """Whether ``exc`` is a write the cache folder refused (see :class:`CacheWriteError`)."""
    return isinstance(exc, OSError) and exc.errno in _CANNOT_WRITE


class RunnerError(AxlError):
    """axl could not run a step: bad manifest, missing input, unknown handler."""


class StepFailed(AxlError):
    """The step's own code raised."""

    exit_code = 1


class EmitError(AxlError):
    """An emitter could not translate the workflow, or its output failed validation."""
