"""Undeclared inputs: the files and environment variables a step reads that its key does not cover.

While a step's function runs, :func:`watch` records

* files it opens for reading, and folders it lists, through a :func:`sys.addaudithook` hook
  (``open``, ``os.listdir``, ``os.scandir`` events: ``open()``, ``pathlib``, ``glob``,
  ``os.walk``, pandas, ... all end in them);
* environment variables it looks up (``os.environ[...]``, ``.get``, ``in``, ``os.getenv``), by
  switching ``os.environ``'s class to a recording subclass for the step's duration (every module
  holds the same mapping object, so ``from os import environ`` is seen too).

What the key already covers or cannot matter is left out afterwards (see :func:`_undeclared`):
the step's declared paths (CAS blobs, staged inputs, ``StepTask.ignore_reads``), the files the
step itself wrote, the sources of imported modules, the interpreter's and site-packages' files,
``/proc``, ``/sys``, ``/dev`` and a few system data files (time zones, locales, TLS roots), and
folders on the import path (the import system lists them). Environment variables read by
installed libraries (not by the workspace's code) and the step's own ``env=`` are left out too.

Not seen: reads done in C without Python's ``open`` (C extensions calling ``fopen``) and by
subprocesses. Audit hooks cannot be removed, so the hook is installed once per process and
returns at once while no step runs; axl's own reads (loading inputs, saving outputs, the cache)
happen outside :func:`watch` and are never counted.
"""

from __future__ import annotations

import contextlib
import os
import site
import sys
import sysconfig
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axl.runtime._logs import JsonLog
    from axl.runtime._step import StepOutcome, StepTask

#: ``open`` flags that make an open a write: the file is the step's output, not an input.
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: System data any program may read: not the step's data.
_SYSTEM = (
    "/proc/",
    "/sys/",
    "/dev/",
    "/usr/share/zoneinfo/",
    "/usr/share/locale/",
    "/usr/lib/locale/",
    "/usr/lib/ssl/",
    "/etc/ssl/",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/mime.types",
)
#: How many names a message lists before "and N more".
_SHOWN = 8


@dataclass
class _Recorder:
    """What one step read and wrote (raw; filtered after the step)."""

    cwd: str
    read: dict[str, None] = field(default_factory=dict)
    listed: dict[str, None] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    env: dict[str, None] = field(default_factory=dict)
    env_set: set[str] = field(default_factory=set)


#: The recorder of the step running now; ``None`` outside steps (the hook's one check).
_current: _Recorder | None = None
_installed = False
_install_lock = threading.Lock()


def _hook(event: str, args: tuple[Any, ...], _write: int = _WRITE) -> None:
    # Called for every audit event of the process: keep the no-step path to one global load.
    rec = _current
    if rec is None:
        return
    try:
        if event == "open":
            path = args[0]
            if path.__class__ is not str:
                if isinstance(path, int):
                    return  # an already open descriptor
                path = os.fsdecode(path)
            if args[2] & _write:
                rec.written.add(path)
            else:
                rec.read[path] = None
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
            if not isinstance(path, int):
                rec.listed["." if path is None else os.fsdecode(path)] = None
    except Exception:  # noqa: BLE001, S110 - a hook that raises would fail the step's own open
        pass


def _install() -> None:
    global _installed  # noqa: PLW0603 - one hook per process, for its whole life
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


class _WatchedEnviron(os._Environ):  # type: ignore[type-arg] # private CPython class
    """``os.environ`` while a step runs: records the keys looked up and set."""

    def __getitem__(self, key: str) -> str:
        rec = _current
        if rec is not None and _called_from_user():
            rec.env[key] = None
        value: str = super().__getitem__(key)
        return value

    def __setitem__(self, key: str, value: str) -> None:
        rec = _current
        if rec is not None:
            rec.env_set.add(key)
        super().__setitem__(key, value)


def _called_from_user() -> bool:
    """Whether the code looking a variable up is the workspace's, not an installed library's."""
    frame: FrameType | None = sys._getframe(1)
    here = __file__
    while frame is not None:
        name = frame.f_code.co_filename
        if name != here and not name.startswith("<frozen") and not name.endswith("abc.py"):
            return not name.startswith(_library_prefixes())
        frame = frame.f_back
    return False


@contextlib.contextmanager
def watch() -> Iterator[_Recorder]:
    """Record what the code run inside reads (one step at a time per process)."""
    global _current  # noqa: PLW0603 - the hook reads it; see _hook
    _install()
    _library_prefixes()  # computed (importing sysconfig data) before recording starts
    rec = _Recorder(os.getcwd())
    environ: Any = os.environ
    plain = environ.__class__
    # Only the real mapping can take the recording class (something may have replaced it).
    swap = plain is os._Environ
    if swap:
        environ.__class__ = _WatchedEnviron
    _current = rec
    try:
        yield rec
    finally:
        _current = None
        if swap:
            environ.__class__ = plain


@dataclass(frozen=True)
class Policy:
    """What to leave out, and where paths are shown relative to."""

    #: Absolute paths (files or folders) the key covers or the user ignores.
    ignore: tuple[str, ...] = ()
    #: The workspace root: paths under it are reported relative to it.
    workspace: str = ""
    #: Environment variables the key covers (the step's ``env=``).
    env: tuple[str, ...] = ()


def read_policy(task: StepTask, store_root: Path) -> Policy:
    """The policy of ``task``: its declared paths, axl's store (CAS blobs, staged inputs, temp
    files), its ``env=`` names."""
    return Policy(
        ignore=(*task.ignore_reads, *declared_paths(task), os.path.abspath(store_root)),
        workspace=task.workspace or os.getcwd(),
        env=tuple(k for k, _ in task.env),
    )


def declared_paths(task: StepTask) -> tuple[str, ...]:
    """The local files and folders ``task`` declares (``File``/``Dir`` arguments): the step gets
    a snapshot or the folder itself, and reading the original path is keyed as well."""
    root = task.workspace or os.getcwd()
    found: list[str] = []
    stack = list(task.args.values())
    while stack:
        arg = stack.pop()
        if "list" in arg:
            stack.extend(arg["list"])
        elif "dict" in arg:
            stack.extend(arg["dict"].values())
        elif "folder" in arg:
            found.append(os.path.abspath(str(arg["folder"]["path"])))
        leaf = arg.get("input") or arg.get("folder") or {}
        location = str(leaf.get("source", {}).get("location", ""))
        if location and "://" not in location:
            found.append(os.path.normpath(os.path.join(root, location)))
    return tuple(found)


def undeclared(rec: _Recorder, policy: Policy) -> list[str]:
    """What ``rec`` saw that the key does not cover: paths, then ``$NAME`` for variables."""
    ignore = tuple(_as_prefix(p) for p in policy.ignore) + _library_prefixes() + _SYSTEM
    # The import path's own entries too: the import system probes them (python311.zip, which
    # need not exist, is opened when a module is first imported inside the step).
    exact = {p.rstrip("/") for p in policy.ignore} | {
        os.path.normpath(os.path.abspath(p)) for p in sys.path if p
    }
    written = {_absolute(p, rec.cwd) for p in rec.written}
    found: dict[str, str] = {}  # path -> "/" for a listed folder, "" for a file
    sources: set[str] | None = None
    # A step may read 100,000 files from a few folders: decide the prefixes once per folder.
    folders: dict[str, bool] = {}
    for raw in rec.read:
        # The common case inline (absolute and normal): this loop is the bulk of the cost.
        plain = raw[:1] == "/" and "/." not in raw and "//" not in raw
        path = raw if plain else _absolute(raw, rec.cwd)
        folder = path[: path.rfind("/") + 1]
        skip = folders.get(folder)
        if skip is None:
            skip = folders[folder] = folder.startswith(ignore) or "__pycache__" in folder
        if skip or path in written or path in exact:
            continue
        if path.endswith(".py"):
            sources = sources if sources is not None else _module_files()
            if path in sources:
                continue
        found[path] = ""
    import_dirs: set[str] | None = None
    for raw in rec.listed:
        path = _absolute(raw, rec.cwd)
        if path in exact or (path + "/").startswith(ignore):
            continue
        import_dirs = import_dirs if import_dirs is not None else _import_dirs()
        if path not in import_dirs:
            found.setdefault(path, "/")
    base = _as_prefix(policy.workspace) if policy.workspace else "\0"
    shown = [
        (p[len(base) :] if p.startswith(base) else _display(p, policy.workspace)) + end
        for p, end in found.items()
    ]
    keyed = set(policy.env) | rec.env_set
    shown += [f"${k}" for k in rec.env if k not in keyed and not k.startswith("AXL_")]
    return shown


def message(step: str, reads: list[str]) -> str:
    """The one sentence a build prints (and a strict build fails with) for ``reads``."""
    shown = reads[:_SHOWN]
    more = len(reads) - len(shown)
    names = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
    if more:
        names = f"{', '.join(shown)} and {more} more"
    return (
        f"step `{step}` read {names}, which are not part of its key: changes to them will not "
        "rerun it; declare them (files as File(...) or Dir(...) arguments, variables with env=; "
        "or list them under [tool.axl] ignore_reads) or mark the step cache=False"
    )


def _absolute(path: str, cwd: str) -> str:
    if not path.startswith("/"):
        path = f"{cwd}/{path}"
    # normpath only when needed: a step may open 100,000 plain absolute paths.
    if "/." in path or "//" in path or path.endswith("/"):
        path = os.path.normpath(path)
    return path


def _as_prefix(path: str) -> str:
    return path.rstrip("/") + "/"


def _display(path: str, workspace: str) -> str:
    if workspace and path == workspace.rstrip("/"):
        return "."
    if workspace and path.startswith(_as_prefix(workspace)):
        return path[len(workspace.rstrip("/")) + 1 :]
    return path


_prefixes: tuple[str, ...] | None = None


def _library_prefixes() -> tuple[str, ...]:
    """The interpreter's and installed packages' folders (computed once per process)."""
    global _prefixes  # noqa: PLW0603 - fixed for the life of the process
    if _prefixes is None:
        # The library folders, not sys.prefix itself: a workspace may live under it (a
        # container's /usr/src/app with Python in /usr).
        names = ("stdlib", "platstdlib", "purelib", "platlib", "include", "platinclude")
        roots = {sysconfig.get_paths().get(n, "") for n in names}
        with contextlib.suppress(AttributeError):  # virtualenv's old site.py lacks them
            roots.update(site.getsitepackages())
            roots.add(site.getusersitepackages())
        roots.update(p for p in sys.path if "site-packages" in p or "dist-packages" in p)
        _prefixes = tuple(sorted(_as_prefix(os.path.realpath(r)) for r in roots if r))
        _prefixes += tuple(sorted(_as_prefix(r) for r in roots if r))
    return _prefixes


def _module_files() -> set[str]:
    """Source files of the imported modules (the code key hashes the workspace's)."""
    files = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            files.add(os.path.normpath(os.path.abspath(name)))
    return files


def _import_dirs() -> set[str]:
    """Folders the import system lists: the import path and imported packages' folders."""
    dirs = {os.path.normpath(os.path.abspath(p or ".")) for p in sys.path}
    for module in list(sys.modules.values()):
        for folder in getattr(module, "__path__", None) or ():
            if isinstance(folder, str):
                dirs.add(os.path.normpath(os.path.abspath(folder)))
    return dirs


def ignored_reads(root: Path) -> tuple[str, ...]:
    """``[tool.axl] ignore_reads`` in ``root/pyproject.toml``, as absolute paths.

    Raises:
        UsageError: The setting is not a list of strings.
    """
    from axl.cache._remote import _tool_axl
    from axl.errors import UsageError

    value = _tool_axl(root).get("ignore_reads", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(
            "[tool.axl] ignore_reads must be a list of paths",
            hint='write ignore_reads = ["data/scratch", "/etc/myapp.conf"]',
            file=root / "pyproject.toml",
        )
    return tuple(os.path.normpath(os.path.join(root, os.path.expanduser(v))) for v in value)


def runner_read_policy(
    entry: dict[str, Any], workspace: Path | None, inputs: Path | None
) -> dict[str, Any]:
    """The runner's :class:`StepTask` fields for ``entry``: strictness from the manifest, the
    workspace's ignored paths and the ``--inputs`` folder (the staged, declared inputs)."""
    from axl.runtime._workflow import workspace_root

    root = workspace_root(workspace)
    ignore = ignored_reads(root)
    if inputs is not None:
        ignore += (os.path.abspath(inputs),)
    return {
        "strict": bool(entry.get("strict_inputs", False)),
        "ignore_reads": ignore,
        "workspace": str(root),
    }


def report_reads(
    outcome: StepOutcome, step: str, entry: dict[str, Any], result: dict[str, Any], log: JsonLog
) -> StepOutcome:
    """The runner's telling: one ``undeclared`` warning line (fresh or cached), the list in the
    result record; a cached result that read undeclared inputs fails a strict step."""
    reads = list(outcome.undeclared)
    if reads:
        result["undeclared"] = reads
    if not reads or outcome.status != "ok":
        return outcome  # a strict failure says it in its error line
    text = message(step, reads)
    if entry.get("strict_inputs") and result.get("cached"):
        from axl.runtime._step import StepOutcome

        return StepOutcome(
            "failed", error=f"strict inputs: {text} (recorded when it ran)", undeclared=reads
        )
    log.emit("warning", "undeclared", text, reads=reads)
    return outcome
