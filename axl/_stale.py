"""Refusing project modules edited after Python imported them (for :func:`axl.build`).

A step's code key digests the source of the project code it reaches. A module that axl imported
itself is keyed from the bytes it compiled (:data:`axl._loader.SOURCES`), and cell code from its
cells; but a class passed to :func:`axl.build` may come from a module Python imported earlier (a
notebook's ``from flows import Flow``), and its file may have been edited since. The key would
then name the new text while the old code runs: a result stored under a key it does not match.
So each such module's file is compiled again and compared with what is loaded: every function's
code object (by qualified name) and every module-level literal constant.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

from axl.errors import UsageError

#: Files found to match their loaded module, by path: the ``(size, mtime_ns)`` they had then
#: (so that a notebook's repeated builds do not compile unchanged modules again).
_CURRENT: dict[str, tuple[int, int]] = {}


def check_current(root: Path) -> None:
    """Raise when a project module under ``root`` that Python imported differs from its file.

    Raises:
        UsageError: Naming the module, what changed, and how to reload it.
    """
    from axl import _loader

    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(module, ModuleType) or not file or not file.endswith(".py"):
            continue
        path = Path(file).resolve()
        if str(path) in _loader.SOURCES or not path.is_relative_to(root):
            continue
        if {".venv", "site-packages"} & set(path.parts) or not path.is_file():
            continue
        if module.__name__ == "axl" or module.__name__.startswith("axl."):
            continue  # axl's own sources (a checkout's): never step code; keyed by the load cache
        st = path.stat()
        if _CURRENT.get(str(path)) == (st.st_size, st.st_mtime_ns):
            continue
        changed = _changed(module, path)
        if changed is not None:
            raise UsageError(
                f"{path.relative_to(root)} changed after it was imported ({changed}): its "
                "steps would run the old code under the new code's key",
                hint=f"reload it: importlib.reload({module.__name__}), or %autoreload in a "
                "notebook",
            )
        _CURRENT[str(path)] = (st.st_size, st.st_mtime_ns)


def _changed(module: ModuleType, path: Path) -> str | None:
    """What differs between the loaded ``module`` and its file, or ``None``."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source)
        compiled = _code_objects(compile(tree, str(path), "exec", dont_inherit=True), "")
    except (SyntaxError, ValueError):
        return "it no longer compiles"
    for qualname, code in _live_functions(module).items():
        if compiled.get(qualname) != code:
            return f"`{qualname}` differs"
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and target.id in vars(module):
                try:
                    value = ast.literal_eval(stmt.value)
                except ValueError:
                    continue
                if value != vars(module)[target.id]:
                    return f"`{target.id}` differs"
    return None


def _code_objects(code: CodeType, prefix: str) -> dict[str, CodeType]:
    """Every function's code object in ``code``, by qualified name."""
    found: dict[str, CodeType] = {}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            qualname = f"{prefix}{const.co_name}"
            found[qualname] = const
            found.update(_code_objects(const, f"{qualname}."))
    return found


def _live_functions(module: ModuleType) -> dict[str, CodeType]:
    """The code of the functions and methods ``module`` defines, by qualified name."""
    found: dict[str, CodeType] = {}
    for value in vars(module).values():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        members: list[Any] = list(vars(value).values()) if isinstance(value, type) else [value]
        for member in members:
            fn = getattr(member, "fn", member)  # a StepDef: its function
            if isinstance(fn, (staticmethod, classmethod)):
                fn = fn.__func__
            if isinstance(fn, FunctionType) and fn.__module__ == module.__name__:
                found[fn.__qualname__] = fn.__code__
    return found
