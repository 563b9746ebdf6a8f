"""The code part of an action key: what a step's function is, down to the project code it uses.

A step's code is the normalised source of its function (parsed with :mod:`ast`, so comments and
formatting do not count; docstrings are dropped; the ``@step(...)`` decorator is dropped because its
options enter the key separately) plus, transitively, every project function, class and module
constant it references by name: ``helper()``, ``mod.helper()``, ``self.helper()``, ``CONSTANT``.
Third-party code is not walked; the lockfile digest covers it.

"Project" means: defined in a file under the workspace root and not inside a virtualenv.
The sources parsed are the bytes the loader compiled (:data:`axl._loader.SOURCES`), so the key
covers exactly the code that runs.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, MethodType, ModuleType
from typing import Any

from axl import _loader
from axl.graph._cells import CELL, cell_file, cell_source, sibling_cells
from axl.hashing import key_digest


@dataclass
class _Module:
    name: str
    file: str
    rel: str
    tree: ast.Module
    assigns: dict[str, ast.AST] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)


class CodeIndex:
    """Computes and memoises code digests for the project under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._modules: dict[str, _Module | None] = {}
        self._memo: dict[int, dict[str, str]] = {}
        self._cells: dict[str, _Module | None] = {}
        #: Source files read, absolute path -> digest of their bytes (for reuse without import).
        self.files: dict[str, str] = {}

    # -- public -------------------------------------------------------------------------------

    def step_code(self, fn: Any, owner: type | None) -> dict[str, str]:
        """Digests of ``fn`` and all project code it reaches.

        Keys are ``def:path/file.py:qualname`` and ``const:path/file.py:NAME``, with the file
        relative to the workspace root (not the module name, which depends on how the workflow
        was imported).

        Args:
            fn: The step's function.
            owner: The workflow class, to resolve ``self.name`` references.
        """
        memo_key = id(fn)
        cached = self._memo.get(memo_key)
        if cached is not None:
            return cached
        parts: dict[str, str] = {}
        queue: list[tuple[str, Any]] = [("fn", fn)]
        seen: set[str] = set()
        first = True
        while queue:
            kind, obj = queue.pop()
            found = self._describe(kind, obj, strip_decorators=first)
            first = False
            if found is None:
                continue
            ident, digest, refs, mod_globals, module = found
            if ident in seen:
                continue
            seen.add(ident)
            parts[ident] = digest
            for ref in refs:
                queue.extend(self._resolve(ref, mod_globals, module, owner))
        self._memo[memo_key] = parts
        return parts

    # -- describing one object ----------------------------------------------------------------

    def _describe(
        self, kind: str, obj: Any, *, strip_decorators: bool
    ) -> tuple[str, str, list[list[str]], dict[str, Any], _Module] | None:
        if kind == "const":
            module, name = obj
            node = module.assigns[name]
            ident = f"const:{module.rel}:{name}"
            refs = _references(node)
            mod = sys.modules.get(module.name)
            return ident, _digest("const", node), refs, vars(mod) if mod else {}, module
        if isinstance(obj, MethodType):
            obj = obj.__func__
        obj = inspect.unwrap(obj) if isinstance(obj, FunctionType) else obj
        if not isinstance(obj, (FunctionType, type)):
            return None
        module = self._module(getattr(obj, "__module__", None)) or self._cell(cell_file(obj))
        if module is None:
            return None
        node = _find_def(module.tree, obj.__qualname__)
        if node is None:
            return None
        ident = f"def:{module.rel}:{obj.__qualname__}"
        clean = _strip(node, strip_decorators=strip_decorators)
        refs = _references(clean)
        mod_globals = (
            obj.__globals__ if isinstance(obj, FunctionType) else vars(sys.modules[module.name])
        )
        return ident, _digest("def", clean), refs, mod_globals, module

    def _module(self, name: str | None) -> _Module | None:
        if name is None:
            return None
        if name in self._modules:
            return self._modules[name]
        mod = sys.modules.get(name)
        file = getattr(mod, "__file__", None)
        result: _Module | None = None
        if file and file.endswith(".py") and self._is_project(Path(file)):
            path = str(Path(file).resolve())
            source = _loader.SOURCES.get(path)
            if source is None:
                source = Path(path).read_bytes()
            from axl.hashing import bytes_digest

            self.files[path] = bytes_digest(source)
            tree = ast.parse(source, filename=path)
            rel = Path(path).relative_to(self.root).as_posix()
            result = _Module(name, path, rel, tree)
            _index_module(result)
        self._modules[name] = result
        return result

    def _cell(self, filename: str | None) -> _Module | None:
        """The notebook cell compiled as ``filename`` (see :mod:`axl.graph._cells`)."""
        if filename is None:
            return None
        if filename not in self._cells:
            cell: _Module | None = None
            with contextlib.suppress(SyntaxError):
                cell = _Module("__main__", filename, CELL, ast.parse(cell_source(filename)))
                _index_module(cell)
            self._cells[filename] = cell
        return self._cells[filename]

    def _is_project(self, path: Path) -> bool:
        path = path.resolve()
        if not path.is_relative_to(self.root):
            return False
        rel = path.relative_to(self.root).parts
        return not any(p in {".venv", "site-packages", ".axl"} for p in rel)

    # -- resolving names ----------------------------------------------------------------------

    def _resolve(
        self, ref: list[str], mod_globals: dict[str, Any], module: _Module, owner: type | None
    ) -> list[tuple[str, Any]]:
        head, *rest = ref
        if head == "self":
            return _self_ref(owner, rest)
        if head not in mod_globals:
            return [("const", (module, head))] if head in module.assigns else []
        obj: Any = mod_globals[head]
        for attr in rest:
            if isinstance(obj, ModuleType) and self._module(obj.__name__) is not None:
                target = self._module(obj.__name__)
                assert target is not None
                if attr in target.assigns and not callable(getattr(obj, attr, None)):
                    return [("const", (target, attr))]
                obj = getattr(obj, attr, None)
            else:
                break
        if isinstance(obj, (FunctionType, type, MethodType)):
            return [("obj", obj)]
        if isinstance(obj, ModuleType):
            return []
        # A module-level value: find where it is assigned (here, or the module it came from).
        origin = self._const_origin(module, head)
        return [("const", origin)] if origin is not None else []

    def _const_origin(self, module: _Module, name: str) -> tuple[_Module, str] | None:
        seen: set[tuple[str, str]] = set()
        while (module.name, name) not in seen:
            seen.add((module.name, name))
            if name in module.assigns:
                return module, name
            if module.rel == CELL:
                return self._cell_const(module, name)
            imported = module.imports.get(name)
            if imported is None:
                return None
            source_mod = self._module(imported[0])
            if source_mod is None:
                return None
            module, name = source_mod, imported[1]
        return None

    def _cell_const(self, module: _Module, name: str) -> tuple[_Module, str] | None:
        """A constant a cell reads, assigned by the most recent cell that assigns it."""
        for filename in sibling_cells(module.file):
            cell = self._cell(filename)
            if cell is not None and name in cell.assigns:
                return cell, name
        return None


def _self_ref(owner: type | None, rest: list[str]) -> list[tuple[str, Any]]:
    """``self.name``: a method (or step) of the workflow class."""
    if owner is None or not rest:
        return []
    attr = inspect.getattr_static(owner, rest[0], None)
    if attr is None:
        return []
    attr = getattr(attr, "fn", attr)  # a StepDef: its function
    if isinstance(attr, (staticmethod, classmethod)):
        attr = attr.__func__
    return [("obj", attr)]


def _index_module(module: _Module) -> None:
    for stmt in module.tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    module.assigns[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            module.assigns[stmt.target.id] = stmt.value
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            for alias in stmt.names:
                module.imports[alias.asname or alias.name] = (stmt.module, alias.name)
        elif isinstance(stmt, ast.ImportFrom) and stmt.level > 0:
            base = module.name.rsplit(".", stmt.level)[0] if "." in module.name else ""
            full = ".".join(p for p in (base, stmt.module or "") if p)
            for alias in stmt.names:
                module.imports[alias.asname or alias.name] = (full, alias.name)


def _find_def(tree: ast.Module, qualname: str) -> ast.AST | None:
    body: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in qualname.split("."):
        if part == "<locals>":
            return None
        node = next(
            (
                n
                for n in body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        body = node.body
    return node


class _Stripper(ast.NodeTransformer):
    """Drops docstrings (they do not change behaviour)."""

    def _drop_doc(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _drop_doc  # noqa: N815


def _strip(node: ast.AST, *, strip_decorators: bool) -> ast.AST:
    import copy

    clean = copy.deepcopy(node)
    if strip_decorators and isinstance(clean, (ast.FunctionDef, ast.AsyncFunctionDef)):
        # The step's own @step(...) options are keyed separately (and only those that matter).
        clean.decorator_list = []
    return _Stripper().visit(clean)  # type: ignore[no-any-return]


def _references(node: ast.AST) -> list[list[str]]:
    """Dotted names read in ``node``: ``helper`` -> ["helper"], ``np.mean`` -> ["np", "mean"]."""
    refs: list[list[str]] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load):
            chain: list[str] = []
            cur: ast.AST = sub
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                refs.append([cur.id, *reversed(chain)])
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            refs.append([sub.id])
    return refs


def _digest(kind: str, node: ast.AST) -> str:
    return key_digest(
        f"code-{kind}", ast.dump(node, annotate_fields=True, include_attributes=False)
    )
