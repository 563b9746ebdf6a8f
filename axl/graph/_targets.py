"""The target graph: packages found under the workspace root, patterns expanded, deps followed.

BUILD files are parsed lazily, one package at a time, so ``axl build //examples:churn`` reads one
small file. Only ``//pkg/...`` (and errors that want a "did you mean") walk the tree.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from pathlib import Path

from axl.errors import BuildFileError, LabelError
from axl.graph._buildfile import BUILD_NAMES, BuildFile, Target, display_path, parse_build_file
from axl.graph._labels import Label, Pattern, package_of, parse_pattern

#: Folders never searched for packages. ``workspace`` at the root is axl's readable view of
#: build outputs (``axl.exec._session.OUTPUT_DIR``), a tree of links into the cache.
_SKIP = frozenset({"node_modules", "__pycache__", "site-packages"})
_SKIP_AT_ROOT = frozenset({"workspace"})

_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_FUNCTIONS = ("deps",)


class TargetGraph:
    """The targets of one workspace.

    Args:
        root: The workspace root.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._packages: dict[str, BuildFile | None] = {}

    # -- packages -----------------------------------------------------------------------------

    def cwd_package(self, cwd: Path | None = None) -> str | None:
        """The package path of ``cwd`` (default: the current folder); ``None`` if outside."""
        here = (cwd or Path.cwd()).resolve()
        if not here.is_relative_to(self.root):
            return None
        return package_of(here.relative_to(self.root).as_posix())

    def build_file(self, package: str) -> BuildFile | None:
        """The parsed BUILD file of ``package``, or ``None`` when the folder has none."""
        if package not in self._packages:
            folder = self.root / package
            path = next((folder / n for n in BUILD_NAMES if (folder / n).is_file()), None)
            self._packages[package] = None if path is None else parse_build_file(path, package)
        return self._packages[package]

    def packages_under(self, package: str) -> list[str]:
        """Every package at or below ``package``, sorted."""
        start = self.root / package
        found: list[str] = []
        for folder, dirs, files in os.walk(start):
            rel = Path(folder).relative_to(self.root).as_posix()
            dirs[:] = [
                d
                for d in dirs
                if not d.startswith(".")
                and d not in _SKIP
                and not (rel == "." and d in _SKIP_AT_ROOT)
                and not os.path.islink(os.path.join(folder, d))
            ]
            if any(n in files for n in BUILD_NAMES):
                found.append(package_of(rel))
        return sorted(found)

    def _require(self, package: str, text: str) -> BuildFile:
        build = self.build_file(package)
        if build is not None:
            return build
        where = f"{package}/" if package else "the workspace root"
        near = get_close_matches(package, self.packages_under(""), n=1)
        if not (self.root / package).is_dir():
            why = f"folder {where} does not exist under {self.root}"
        else:
            why = f"there is no BUILD file in {where}"
        raise LabelError(
            f"no package //{package} (in {text}): {why}",
            hint=f"did you mean //{near[0]}?" if near else "create a BUILD file there",
        )

    # -- targets ------------------------------------------------------------------------------

    def target(self, label: Label, *, wanted_by: Target | None = None) -> Target:
        """The target ``label`` names.

        Raises:
            LabelError: No such package or target (a :class:`BuildFileError` at the referring
                line when ``wanted_by`` names it in a BUILD file).
        """
        try:
            return self._find(label)
        except LabelError as exc:
            if wanted_by is None:
                raise
            raise BuildFileError(
                f"{wanted_by.label} depends on {label}: {exc.message}",
                hint=exc.hint,
                file=display_path(wanted_by.file),
                line=wanted_by.line,
            ) from None

    def _find(self, label: Label) -> Target:
        build = self._require(label.package, str(label))
        found = build.targets.get(label.name)
        if found is not None:
            return found
        near = get_close_matches(label.name, list(build.targets), n=1)
        raise LabelError(
            f"no target {str(label)!r} in {display_path(build.path)}",
            hint=f"did you mean //{label.package}:{near[0]}?"
            if near
            else f"targets there: {', '.join(build.targets) or 'none'}",
        )

    def expand(self, patterns: Iterable[str | Pattern], cwd: Path | None = None) -> list[Label]:
        """The labels ``patterns`` name, in order, each once.

        Raises:
            LabelError: A pattern is malformed or names nothing.
        """
        cwd_package = self.cwd_package(cwd)
        labels: dict[Label, None] = {}
        for item in patterns:
            pattern = item if isinstance(item, Pattern) else parse_pattern(item, cwd_package)
            for label in self._expand_one(pattern):
                labels.setdefault(label, None)
        return list(labels)

    def _expand_one(self, pattern: Pattern) -> list[Label]:
        if pattern.kind == "target":
            return [self.target(pattern.label).label]
        if pattern.kind == "all":
            return [t.label for t in self._require(pattern.package, str(pattern)).targets.values()]
        if not (self.root / pattern.package).is_dir():
            self._require(pattern.package, str(pattern))
        labels: list[Label] = []
        for package in self.packages_under(pattern.package):
            build = self.build_file(package)
            assert build is not None  # packages_under only lists folders with a BUILD file
            labels.extend(t.label for t in build.targets.values())
        return labels

    def deps(self, target: Target) -> list[Target]:
        """The targets ``target`` depends on directly."""
        return [self.target(label, wanted_by=target) for label in target.deps]

    def closure(self, labels: Sequence[Label]) -> list[Target]:
        """``labels``' targets and everything they depend on, dependencies first.

        Raises:
            BuildFileError: A dependency is missing, or the dependencies form a cycle.
        """
        order: list[Target] = []
        done: set[Label] = set()
        for start in labels:
            if start in done:
                continue
            # Iterative DFS (graphs can be deep); ``path`` holds the chain for cycle reports.
            path: list[Label] = []
            on_path: set[Label] = set()
            stack: list[tuple[Target, list[Target] | None]] = [(self.target(start), None)]
            while stack:
                target, pending = stack[-1]
                if pending is None:
                    if target.label in done:
                        stack.pop()
                        continue
                    path.append(target.label)
                    on_path.add(target.label)
                    pending = self.deps(target)
                    stack[-1] = (target, pending)
                if pending:
                    dep = pending.pop(0)
                    if dep.label in on_path:
                        cycle = [*path[path.index(dep.label) :], dep.label]
                        raise BuildFileError(
                            "dependency cycle: " + " -> ".join(map(str, cycle)),
                            hint="remove one of these deps",
                            file=display_path(target.file),
                            line=target.line,
                        )
                    if dep.label not in done:
                        stack.append((dep, None))
                    continue
                stack.pop()
                path.pop()
                on_path.discard(target.label)
                done.add(target.label)
                order.append(target)
        return order

    def query(self, expression: str, cwd: Path | None = None) -> list[Target]:
        """The targets a query expression names: a pattern, or ``deps(EXPR)`` /
        ``deps(EXPR, DEPTH)`` (EXPR and what it depends on, transitively or to DEPTH levels).

        Raises:
            LabelError: The expression is malformed or names nothing.
        """
        match = _CALL.match(expression)
        if match is None:
            return [self.target(label) for label in self.expand([expression.strip()], cwd)]
        func, inner = match.groups()
        if func not in _FUNCTIONS:
            near = get_close_matches(func, _FUNCTIONS, n=1)
            raise LabelError(
                f"unknown query function {func}()",
                hint=f"did you mean {near[0]}()?" if near else "use deps(//pkg:name)",
            )
        expr, _, depth_text = inner.rpartition(",") if "," in inner else (inner, "", "")
        depth: int | None = None
        if depth_text:
            if not depth_text.strip().isdigit():
                raise LabelError(
                    f"deps() depth {depth_text.strip()!r} is not a whole number",
                    hint="e.g. deps(//examples:churn, 1)",
                )
            depth = int(depth_text)
        start = self.query(expr, cwd)
        found: dict[Label, Target] = {t.label: t for t in start}
        queue = deque((t, 0) for t in start)
        while queue:
            target, level = queue.popleft()
            if depth is not None and level >= depth:
                continue
            for dep in self.deps(target):
                if dep.label not in found:
                    found[dep.label] = dep
                    queue.append((dep, level + 1))
        return list(found.values())
