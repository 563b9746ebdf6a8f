"""Reading BUILD files with :mod:`ast`, never executing them.

A BUILD file is a sequence of rule calls with keyword arguments whose values are literals
(strings, numbers, booleans, lists, dicts): the Starlark subset that both Bazel and axl read.
``load(...)``, ``package(...)`` and ``exports_files(...)`` are accepted and ignored, so the same
file can serve Bazel. Anything else (assignments, functions, variables, ``glob()``) is an error
that names the line, because a BUILD file axl cannot read without running it would make the target
graph depend on more than its text.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.errors import BuildFileError, LabelError
from axl.graph._labels import ALL, Label, check_name, parse_label
from axl.graph._rules import (
    DIRECTIVES,
    LABEL,
    LABEL_LIST,
    LABEL_OR_STRING,
    RuleKind,
    check_attrs,
    get_kind,
)

#: File names that make a folder a package; when both exist, BUILD.bazel wins (as in Bazel).
BUILD_NAMES = ("BUILD.bazel", "BUILD")


@dataclass(frozen=True)
class Target:
    """One declared target: its label, kind, literal attributes and where it is declared."""

    label: Label
    kind: RuleKind
    attrs: dict[str, Any] = field(compare=False)
    file: Path = field(compare=False)
    line: int = field(compare=False)
    #: Labels this target needs built first: ``deps`` and every label-typed attribute.
    deps: tuple[Label, ...] = field(compare=False, default=())

    @property
    def folder(self) -> Path:
        """The BUILD file's folder, against which the target's file attributes resolve."""
        return self.file.parent


@dataclass
class BuildFile:
    """A parsed BUILD file: its package and targets in declaration order."""

    package: str
    path: Path
    targets: dict[str, Target] = field(default_factory=dict)


def display_path(path: Path) -> str:
    """``path`` relative to the current folder when it is below it (clickable in terminals)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def parse_build_file(path: Path, package: str) -> BuildFile:
    """Parse the BUILD file at ``path`` (the file of ``package``).

    Raises:
        BuildFileError: The file cannot be read, is not valid syntax, or breaks a rule.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildFileError(f"cannot read BUILD file: {exc}", file=display_path(path)) from None
    return parse_build_text(text, path, package)


def parse_build_text(text: str, path: Path, package: str) -> BuildFile:
    """Parse BUILD-file ``text`` as if read from ``path``."""
    shown = display_path(path)
    try:
        tree = ast.parse(text, filename=shown)
    except SyntaxError as exc:
        raise BuildFileError(
            f"syntax error: {exc.msg}",
            hint="a BUILD file holds rule calls such as axl_workflow(name = ..., ...)",
            file=shown,
            line=exc.lineno,
        ) from None
    build = BuildFile(package, path)
    for stmt in tree.body:
        target = _statement(stmt, build, shown)
        if target is None:
            continue
        first = build.targets.get(target.label.name)
        if first is not None:
            raise BuildFileError(
                f"duplicate target name {target.label.name!r} "
                f"(first declared on line {first.line})",
                hint="give each target in a package its own name",
                file=shown,
                line=target.line,
            )
        build.targets[target.label.name] = target
    return build


def _statement(stmt: ast.stmt, build: BuildFile, shown: str) -> Target | None:
    is_text = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
    if is_text and isinstance(stmt.value.value, str):  # type: ignore[attr-defined]
        return None  # a docstring or comment block
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        raise BuildFileError(
            f"a BUILD file may only hold rule calls, not {_describe(stmt)}",
            hint="write each target as kind(name = ..., ...) with literal values",
            file=shown,
            line=stmt.lineno,
        )
    call = stmt.value
    if not isinstance(call.func, ast.Name):
        raise BuildFileError(
            f"{ast.unparse(call.func)}(...) is not a rule call",
            hint="call a rule kind by its plain name, e.g. axl_workflow(...)",
            file=shown,
            line=call.lineno,
        )
    if call.func.id in DIRECTIVES:
        return None  # Bazel's own statements; nothing to declare for axl
    kind = get_kind(call.func.id, file=shown, line=call.lineno)
    return _target(kind, call, build, shown)


def _target(kind: RuleKind, call: ast.Call, build: BuildFile, shown: str) -> Target:
    if call.args:
        raise BuildFileError(
            f"{kind.name}(...) takes keyword arguments only",
            hint=f'write {kind.name}(name = "...", ...)',
            file=shown,
            line=call.args[0].lineno,
        )
    given: dict[str, tuple[Any, int]] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise BuildFileError(
                f"{kind.name}(**...) is not allowed: attributes must be written out",
                file=shown,
                line=kw.value.lineno,
            )
        if kw.arg in given:
            raise BuildFileError(
                f"attribute {kw.arg!r} is given twice", file=shown, line=kw.value.lineno
            )
        if kind.bazel_only and kw.arg != "name":
            # Bazel evaluates these (glob(), select(), ...); axl keeps their text only.
            given[kw.arg] = (ast.unparse(kw.value), kw.value.lineno)
            continue
        given[kw.arg] = (_literal(kw.value, kw.arg, shown), kw.value.lineno)
    check_attrs(kind, given, file=shown, line=call.lineno)
    name_value, name_line = given.get("name", (None, call.lineno))
    if not isinstance(name_value, str):
        raise BuildFileError(f"{kind.name}(...) needs a string name", file=shown, line=name_line)
    try:
        check_name(name_value, name_value)
    except LabelError as exc:
        raise BuildFileError(exc.message, hint=exc.hint, file=shown, line=name_line) from None
    if name_value == ALL:
        raise BuildFileError(
            f"a target may not be named {ALL!r}: //pkg:{ALL} means every target of a package",
            file=shown,
            line=name_line,
        )
    attrs = {k: v for k, (v, _) in given.items()}
    deps = _deps(kind, given, build.package, shown)
    return Target(
        Label(build.package, name_value), kind, attrs, build.path, call.lineno, tuple(deps)
    )


def _deps(
    kind: RuleKind, given: dict[str, tuple[Any, int]], package: str, shown: str
) -> list[Label]:
    if kind.bazel_only:
        return []  # Bazel's labels (files, external repos) are Bazel's business
    attrs = kind.all_attrs
    deps: list[Label] = []
    for name, (value, line) in given.items():
        kind_of = attrs[name].type
        if kind_of == LABEL_OR_STRING and str(value).startswith((":", "//")):
            kind_of = LABEL
        if kind_of not in (LABEL, LABEL_LIST):
            continue
        for text in [value] if kind_of == LABEL else value:
            try:
                label = parse_label(text, package)
            except LabelError as exc:
                raise BuildFileError(
                    f"attribute {name!r}: {exc.message}", hint=exc.hint, file=shown, line=line
                ) from None
            if label not in deps:
                deps.append(label)
    return deps


def _literal(node: ast.expr, attr: str, shown: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise BuildFileError(
            f"attribute {attr!r} is not a literal value: {ast.unparse(node)}",
            hint="BUILD files are read, never run: write strings, numbers, True/False, "
            "lists and dicts directly (no variables, calls or glob())",
            file=shown,
            line=node.lineno,
        ) from None


def _describe(stmt: ast.stmt) -> str:
    names = {
        ast.Assign: "an assignment",
        ast.AnnAssign: "an assignment",
        ast.AugAssign: "an assignment",
        ast.FunctionDef: "a function definition",
        ast.ClassDef: "a class definition",
        ast.Import: "an import",
        ast.ImportFrom: "an import",
        ast.If: "an if statement",
        ast.For: "a for loop",
    }
    return names.get(type(stmt), f"a {type(stmt).__name__} statement")
