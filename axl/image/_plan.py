"""What baking a workflow needs from loading it, cached while the files it came from are unchanged.

Loading a workflow imports the user's module (pandas, scikit-learn, ...: seconds), but an image
needs only a little of what the load yields: the workflow's name and class, its dependency
settings (resolved and checked, the lockfile checked against pyproject.toml) and the project
modules it compiled. A :class:`WorkflowPlan` holds exactly that. It is stored beside the content
digests of every file that shaped it (the modules, ``pyproject.toml``, ``uv.lock``, the
requirements file); while they match (a :class:`axl.graph._loadcache.StatCache` answers without
reading unchanged files), the plan is reused and nothing of the user's is imported. That is what
keeps a no-change ``axl build-image`` fast.

Layout, under the cache folder: ``image/stat.json`` and ``image/plan-<identity digest>.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from axl.errors import UsageError
from axl.graph._loadcache import StatCache
from axl.hashing import key_digest

#: Bump when the plan's layout changes; older plans are then ignored.
FORMAT = 1


@dataclass(frozen=True)
class WorkflowPlan:
    """What an image needs to know about a workflow.

    Attributes:
        name: The workflow's name.
        entry: ``module:qualname`` of its class.
        image: Its ``image`` attribute (the default repository of its baked image).
        deps_kind: How it declares dependencies (:mod:`axl.graph._deps` kinds).
        deps_entry: The key's environment entry for them (``uv.lock:<digest>``, ...).
        deps_files: Workspace-relative files that declare them.
        requirements: Inline requirements, sorted.
        sources: Workspace-relative project modules the load compiled, sorted.
    """

    name: str
    entry: str
    image: str
    deps_kind: str
    deps_entry: str
    deps_files: tuple[str, ...]
    requirements: tuple[str, ...]
    sources: tuple[str, ...]

    @staticmethod
    def from_json(data: dict[str, Any]) -> WorkflowPlan:
        return WorkflowPlan(
            name=str(data["name"]),
            entry=str(data["entry"]),
            image=str(data["image"]),
            deps_kind=str(data["deps_kind"]),
            deps_entry=str(data["deps_entry"]),
            deps_files=tuple(data["deps_files"]),
            requirements=tuple(data["requirements"]),
            sources=tuple(data["sources"]),
        )


def canonical_spec(spec: str) -> str:
    """``spec`` with a file path made absolute (the same workflow, however it was named)."""
    from axl._loader import split_spec

    target, cls = split_spec(spec)
    if target.endswith(".py") or "/" in target:
        return f"{(Path.cwd() / target).resolve()}:{cls}"
    return f"{target}:{cls}@{Path.cwd().resolve()}"  # a module name resolves from the cwd


class PlanCache:
    """Plans stored under ``<cache dir>/image``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stats = StatCache(folder / "stat.json")

    def _path(self, identity: dict[str, Any]) -> Path:
        return self.folder / f"plan-{key_digest('image-plan', identity)}.json"

    def lookup(self, identity: dict[str, Any]) -> WorkflowPlan | None:
        """The stored plan for ``identity`` if every file it came from is unchanged."""
        try:
            data = json.loads(self._path(identity).read_bytes())
            if data.get("identity") != identity:
                return None
            files: dict[str, str | None] = data["files"]
            if any(self.stats.digest(path) != digest for path, digest in files.items()):
                return None
            return WorkflowPlan.from_json(data["plan"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(
        self, identity: dict[str, Any], files: dict[str, str | None], plan: WorkflowPlan
    ) -> None:
        data = {"identity": identity, "files": files, "plan": asdict(plan)}
        path = self._path(identity)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, path)

    def save(self) -> None:
        self.stats.save()


def workflow_plan(spec: str, root: Path, cache: PlanCache | None) -> WorkflowPlan:
    """The plan of workflow ``spec`` in workspace ``root``: from ``cache`` if still valid, else
    by loading the workflow (and checking its dependency settings).

    Raises:
        AxlError: The workflow does not load, or its dependency settings are inconsistent (both
            a lockfile and requirements, a missing file, a lockfile out of date).
    """
    from axl import __version__

    identity = {
        "format": FORMAT,
        "spec": canonical_spec(spec),
        "root": str(root),
        "axl": __version__,
        "python": sys.version,
    }
    if cache is not None:
        found = cache.lookup(identity)
        if found is not None:
            return found
    plan, files = _load(spec, root)
    if cache is not None:
        # Digests taken after the load: a file edited during it is caught on the next run,
        # because the code layer is keyed from the files themselves, not from this list.
        cache.store(identity, {path: cache.stats.digest(path) for path in files}, plan)
    return plan


def _load(spec: str, root: Path) -> tuple[WorkflowPlan, list[str]]:
    from axl import _loader
    from axl.graph._deps import LOCKFILE, dependency_spec, require_files
    from axl.ir import build_ir

    cls = _loader.load_workflow(spec, root)
    ir = build_ir(cls)
    deps = dependency_spec(ir, root)
    require_files(deps, root, "baking an image")
    if deps.kind == LOCKFILE:
        check_lock_current(root)
    resolved = root.resolve()
    files = project_modules(cls.__module__, resolved)
    sources = [Path(f).relative_to(resolved).as_posix() for f in files]
    watched = list(files)
    watched.extend(str(resolved / rel) for rel in deps.files)
    plan = WorkflowPlan(
        name=ir.name,
        entry=f"{ir.module}:{ir.qualname}",
        image=ir.image,
        deps_kind=deps.kind,
        deps_entry=deps.entry,
        deps_files=deps.files,
        requirements=deps.requirements,
        sources=tuple(sorted(sources)),
    )
    return plan, sorted(set(watched))


def _in_env(rel: Path) -> bool:
    return any(part in {".venv", "site-packages", ".axl"} for part in rel.parts)


def project_modules(module: str, root: Path) -> list[str]:
    """Files of ``module`` and of the project modules it imports, transitively (absolute).

    Follows the import statements of each module's source to modules that are loaded and live
    under ``root`` (outside virtualenvs): what this workflow needs, whatever else the process
    happened to import before. Imports that did not run (under ``if``, in functions never
    called at import) name modules that are not loaded, and are not followed.
    """
    import ast

    found: dict[str, str] = {}
    queue = [module]
    while queue:
        name = queue.pop()
        mod = sys.modules.get(name)
        file = getattr(mod, "__file__", None)
        if name in found or not file or not file.endswith(".py"):
            continue
        path = Path(file).resolve()
        if not path.is_relative_to(root) or _in_env(path.relative_to(root)):
            continue
        found[name] = str(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        parts = name.split(".")
        queue.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # its packages
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                queue.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                queue.append(base)
                queue.extend(f"{base}.{alias.name}" for alias in node.names)
    return sorted(set(found.values()))


def check_lock_current(root: Path) -> None:
    """Refuse a ``uv.lock`` that is out of date with ``pyproject.toml`` (``uv lock --check``).

    Offline: a lock that matches is confirmed from the lock alone; one that does not fails
    (uv either says it needs updating or, without the packages' metadata in its cache, cannot
    resolve the new requirements offline). Without uv on the machine the check is skipped.

    Raises:
        UsageError: The lockfile is out of date (with uv's words).
    """
    uv = shutil.which("uv")
    if uv is None:
        return
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc = subprocess.run(
            [uv, "lock", "--check", "--offline", "--project", str(root)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**os.environ, "UV_NO_PROGRESS": "1"},
        )
        if proc.returncode != 0:
            lines = [
                line.strip()
                for line in proc.stderr.splitlines()
                if line.strip() and not line.startswith("Using ")
            ]
            raise UsageError(
                f"{root / 'uv.lock'} is out of date with pyproject.toml (uv lock --check: "
                + " | ".join(lines[:3])
                + ")",
                hint=f"run `uv lock` in {root} and commit uv.lock",
            )
