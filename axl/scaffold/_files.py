"""Writing starter files: each atomically, never over a person's file unless told to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from axl.errors import UsageError

#: What happened to a file.
WROTE, UP_TO_DATE, KEPT, REPLACED, APPENDED = "wrote", "up to date", "kept", "replaced", "appended"


@dataclass(frozen=True)
class Outcome:
    """One file's fate: its path (as given), what was done, and why when it was kept."""

    path: str
    action: str
    note: str = ""

    def line(self) -> str:
        """How the CLI reports it, e.g. ``wrote WORKSPACE`` or ``WORKSPACE is up to date``."""
        if self.action == UP_TO_DATE:
            return f"{self.path} is up to date"
        return f"{self.action} {self.path}" + (f" ({self.note})" if self.note else "")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (readers see the old file or the new, never half)."""
    from axl.cache._local import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode())


def write_new(root: Path, files: Sequence[tuple[str, str]]) -> list[Outcome]:
    """Write ``files`` (relative path, text) under ``root``; refuse before writing any when one
    of them exists.

    Raises:
        UsageError: Some of the files exist already.
    """
    taken = [rel for rel, _ in files if (root / rel).exists()]
    if taken:
        raise UsageError(
            f"{root}: {', '.join(taken)} already exist{'s' if len(taken) == 1 else ''}; "
            "refusing to overwrite",
            hint="start the project in an empty folder: axl init NEW_FOLDER",
        )
    for rel, text in files:
        write_text(root / rel, text)
    return [Outcome(rel, WROTE) for rel, _ in files]


def needed_lines(text: str) -> list[str]:
    """The lines of ``text`` that matter (not blank, not comments), stripped."""
    found = (line.strip() for line in text.splitlines())
    return [line for line in found if line and not line.startswith("#")]


def add_lines(path: Path, lines: Sequence[str], rel: str) -> Outcome:
    """Append the ``lines`` a file lacks (``.gitignore`` entries); create it when missing."""
    if not path.exists():
        write_text(path, "".join(f"{line}\n" for line in lines))
        return Outcome(rel, WROTE)
    old = path.read_text()
    have = {line.strip() for line in old.splitlines()}
    missing = [line for line in lines if line not in have]
    if not missing:
        return Outcome(rel, UP_TO_DATE)
    sep = "" if old.endswith("\n") or not old else "\n"
    write_text(path, old + sep + "".join(f"{line}\n" for line in missing))
    return Outcome(rel, APPENDED, ", ".join(missing))
