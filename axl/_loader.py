"""Finding the workspace and loading workflow classes from ``module:Class`` or ``file.py:Class``.

Project modules (those under the workspace root) are compiled from their source text by axl
itself, never from a ``.pyc``: Python validates a cached ``.pyc`` by the source's mtime (whole
seconds) and size, so an edit that keeps the size within the same second would run the old code
under the new key. :data:`SOURCES` keeps the exact bytes each project module was compiled from, so
the key hashes what runs.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from difflib import get_close_matches
from pathlib import Path
from types import ModuleType
from typing import Any

from axl.dsl import Workflow
from axl.errors import AxlError, LoadError, UsageError

#: Source bytes each project module was compiled from, by absolute file path.
SOURCES: dict[str, bytes] = {}


def find_workspace(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The workspace root: ``explicit``, else the nearest folder upward holding pyproject.toml.

    Raises:
        UsageError: ``explicit`` is not a folder, or no pyproject.toml is found.
    """
    if explicit is not None:
        root = Path(explicit).resolve()
        if not root.is_dir():
            raise UsageError(f"--workspace {explicit} is not a folder")
        return root
    here = (start or Path.cwd()).resolve()
    found = _nearest_project(here)
    if found is None:
        raise UsageError(
            f"no pyproject.toml in {here} or any folder above it, so there is no workspace root",
            hint="run axl inside a project (`axl init` starts one), or pass --workspace DIR",
        )
    return found


def _nearest_project(here: Path) -> Path | None:
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def reading_root(spec: str, explicit: str | Path | None = None) -> tuple[Path, bool]:
    """The root for a command that only reads a workflow (validate, hash, graph, compile).

    Checking a file should not need a project: outside one, the root is the workflow file's
    folder (the current folder for ``module:Class``). Commands that build keep needing a
    workspace (:func:`find_workspace`), since their cache and outputs live in it.

    Returns:
        The root, and whether it is that fallback (no pyproject.toml was found).
    """
    if explicit is not None:
        return find_workspace(explicit=explicit), False
    here = Path.cwd().resolve()
    found = _nearest_project(here)
    if found is not None:
        return found, False
    target, _ = split_spec(spec)
    if target.endswith(".py") or "/" in target:
        return (here / target).resolve().parent, True
    return here, True


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the source text on every import; records the bytes it compiled."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        data = self.get_data(path)
        SOURCES[str(Path(path).resolve())] = data
        return self.source_to_code(data, path)


class _ProjectFinder(importlib.abc.MetaPathFinder):
    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [r.resolve() for r in roots]

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return spec
        origin = Path(spec.origin).resolve()
        if not any(origin.is_relative_to(root) for root in self.roots) or _in_venv(origin):
            return spec
        loader = _SourceLoader(fullname, spec.origin)
        return importlib.util.spec_from_file_location(
            fullname,
            spec.origin,
            loader=loader,
            submodule_search_locations=spec.submodule_search_locations,
        )


def _in_venv(path: Path) -> bool:
    parts = set(path.parts)
    return "site-packages" in parts or ".venv" in parts


def install_project_finder(root: Path) -> None:
    """Make modules under ``root`` load through :class:`_SourceLoader` (idempotent)."""
    for finder in sys.meta_path:
        if isinstance(finder, _ProjectFinder):
            if root.resolve() not in finder.roots:
                finder.roots.append(root.resolve())
            return
    sys.meta_path.insert(0, _ProjectFinder([root]))


def module_name_for(path: Path, root: Path) -> tuple[str, Path]:
    """The dotted module name of ``path`` and the folder to put on ``sys.path`` for it."""
    path = path.resolve()
    root = root.resolve()
    if path.is_relative_to(root):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts
        if all(p.isidentifier() for p in parts):
            return ".".join(parts), root
    return path.stem, path.parent


def split_spec(spec: str) -> tuple[str, str]:
    """``module:Class`` or ``file.py:Class`` into its two parts."""
    target, sep, cls_name = spec.rpartition(":")
    if not sep or not target or not cls_name:
        raise UsageError(
            f"workflow {spec!r} is not of the form module:Class or path/to/file.py:Class",
            hint="e.g. -m examples.tiny:Tiny or -m examples/tiny.py:Tiny",
        )
    return target, cls_name


def import_module(target: str, root: Path) -> ModuleType:
    """Import a module by dotted name or file path, compiling project sources from text."""
    install_project_finder(root)
    if target.endswith(".py") or "/" in target:
        file = (Path.cwd() / target).resolve()
        if not file.is_file():
            raise LoadError(
                f"workflow file {target} does not exist",
                hint="check the path (relative to the current folder)",
            )
        name, folder = module_name_for(file, root)
    else:
        name, folder = target, Path.cwd()
    for entry in (str(folder), str(root)):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    name = _canonical_name(name, root)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise LoadError(
                f"no module named {name!r} (searched {folder} and {root})",
                hint="run from the folder that holds it, or pass a file path: "
                "-m path/file.py:Class",
            ) from None
        raise _import_failed(name, exc) from None
    except SyntaxError as exc:
        raise LoadError(
            f"module {name!r} has a syntax error: {exc.msg}",
            file=exc.filename,
            line=exc.lineno,
        ) from None
    except AxlError:
        # Misuse of axl at import time (bad @step or @workflow options) already says where.
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one error line
        raise _import_failed(name, exc) from None


def _canonical_name(name: str, root: Path) -> str:
    """The name a project module has relative to the workspace root.

    ``-m churn_workflow:C`` run inside ``examples/`` and ``-m examples/churn_workflow.py:C`` must
    load the same module under the same name, or the IR (and its hash) would differ by how the
    workflow was named on the command line.
    """
    if name in sys.modules:
        return name
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return name
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return name
    canonical, _ = module_name_for(Path(spec.origin), root)
    return canonical if Path(spec.origin).resolve().is_relative_to(root.resolve()) else name


def _import_failed(name: str, exc: BaseException) -> LoadError:
    frames = traceback.extract_tb(exc.__traceback__)
    last = next((f for f in reversed(frames) if "importlib" not in f.filename), None)
    return LoadError(
        f"importing module {name!r} raised {type(exc).__name__}: {exc}",
        hint="fix the module so it imports cleanly (is a dependency missing?)",
        file=last.filename if last else None,
        line=last.lineno if last else None,
    )


def load_workflow(spec: str, root: Path) -> type[Workflow]:
    """The workflow class named by ``spec`` (``module:Class`` or ``file.py:Class``).

    Raises:
        LoadError: The module or class cannot be found, or is not a workflow.
    """
    target, cls_name = split_spec(spec)
    module = import_module(target, root)
    obj = getattr(module, cls_name, None)
    if obj is None:
        candidates = [
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, Workflow) and v is not Workflow
        ]
        near = get_close_matches(cls_name, candidates, n=1)
        hint = (
            f"did you mean {near[0]!r}?"
            if near
            else (
                f"workflows in it: {', '.join(candidates)}"
                if candidates
                else "define a subclass of axl.Workflow in it"
            )
        )
        raise LoadError(
            f"module {module.__name__!r} has no class {cls_name!r}",
            hint=hint,
            file=getattr(module, "__file__", None),
        )
    if not (isinstance(obj, type) and issubclass(obj, Workflow)):
        raise LoadError(
            f"{spec} is a {type(obj).__name__}, not a subclass of axl.Workflow",
            hint="derive the class from axl.Workflow",
            file=getattr(module, "__file__", None),
        )
    return obj
