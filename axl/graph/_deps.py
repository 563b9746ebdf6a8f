"""Where a workflow's third-party dependencies come from: one answer for keys, runner and images.

A workflow names its dependencies in one of three ways (``axl.Workflow`` attributes, copied into
the IR):

* ``use_lockfile = True`` (the default): the workspace's ``pyproject.toml`` + ``uv.lock``;
* ``requirements = [...]``: requirement strings;
* ``requirements_file = "requirements.txt"``: a file, relative to the workspace root.

:func:`dependency_spec` resolves them into a :class:`DependencySpec`, refusing settings that do
not fit together. The action key's environment part (:func:`axl.graph._keys.environment_part`)
digests :attr:`DependencySpec.entry`, the image builder bakes :attr:`DependencySpec.files`, and
the runner's ``--setup-env`` installs the same thing, so the three cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from axl.errors import UsageError
from axl.hashing import file_digest, key_digest
from axl.ir import IRWorkflow

#: The three kinds of dependency spec (and "none": the workflow declares no dependencies).
LOCKFILE, REQUIREMENTS, REQUIREMENTS_FILE, NONE = "lockfile", "requirements", "file", "none"
LOCKFILE_NAME = "uv.lock"
PYPROJECT_NAME = "pyproject.toml"


@dataclass(frozen=True)
class DependencySpec:
    """A workflow's resolved dependency settings.

    Attributes:
        kind: :data:`LOCKFILE`, :data:`REQUIREMENTS`, :data:`REQUIREMENTS_FILE` or :data:`NONE`.
        entry: What the key's environment part records (``"uv.lock:<digest>"``, ...).
        files: Workspace-relative files that define the dependencies (``pyproject.toml`` and
            ``uv.lock``, or the requirements file); empty for inline requirements.
        requirements: The inline requirement strings, sorted (order does not matter to pip).
    """

    kind: str
    entry: str
    files: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()


def dependency_spec(ir: IRWorkflow, root: Path) -> DependencySpec:
    """Resolve ``ir``'s dependency settings against the workspace ``root``.

    A missing ``uv.lock`` with ``use_lockfile`` is not an error here (a workspace without a lock
    still runs locally; the entry then says ``absent``); baking an image or ``--setup-env``
    refuses it.

    Raises:
        UsageError: Two ways are set at once (a lockfile and requirements, or requirements and a
            requirements file), or the requirements file does not exist.
    """
    given = [
        name
        for name, value in (
            ("requirements", ir.requirements),
            ("requirements_file", ir.requirements_file),
        )
        if value
    ]
    if given and ir.use_lockfile:
        raise UsageError(
            f"workflow {ir.name!r} sets both use_lockfile = True and {given[0]}",
            hint=f"keep one: remove use_lockfile = True, or remove {given[0]}",
        )
    if len(given) == 2:
        raise UsageError(
            f"workflow {ir.name!r} sets both requirements and requirements_file",
            hint="use one of them",
        )
    if ir.requirements:
        reqs = tuple(sorted(ir.requirements))
        return DependencySpec(
            REQUIREMENTS,
            "requirements:" + key_digest("requirements", list(reqs)),
            requirements=reqs,
        )
    if ir.requirements_file:
        path = root / ir.requirements_file
        if not path.is_file():
            raise UsageError(
                f"workflow {ir.name!r}: requirements_file {ir.requirements_file} does not exist",
                hint=f"create it under {root} or fix the path (it is relative to the workspace)",
            )
        rel = Path(ir.requirements_file).as_posix()
        return DependencySpec(
            REQUIREMENTS_FILE, f"{ir.requirements_file}:" + file_digest(path), files=(rel,)
        )
    if ir.use_lockfile:
        lock = root / LOCKFILE_NAME
        digest = file_digest(lock) if lock.is_file() else "absent"
        return DependencySpec(
            LOCKFILE, f"{LOCKFILE_NAME}:{digest}", files=(PYPROJECT_NAME, LOCKFILE_NAME)
        )
    return DependencySpec(NONE, "none")


def require_files(spec: DependencySpec, root: Path, purpose: str) -> None:
    """Check that the files ``spec`` names exist (what a bake or an env setup needs).

    Raises:
        UsageError: One is missing, with the command that makes it.
    """
    for rel in spec.files:
        if not (root / rel).is_file():
            make = "run `uv lock` in the workspace" if rel == LOCKFILE_NAME else "create it"
            raise UsageError(
                f"{purpose} needs {rel} (the workflow uses {spec.kind} dependencies), "
                f"and {root / rel} does not exist",
                hint=f"{make}, or set requirements/requirements_file on the workflow",
            )
