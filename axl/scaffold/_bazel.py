"""``axl bazel init``: the files a project needs before ``bazel build`` runs axl's rules.

``WORKSPACE`` declares ``@axl`` (the rules of the axl that runs this command) and
``@axl_python`` (the venv whose Python the actions run), a root ``BUILD.bazel`` exports
``uv.lock``, ``.bazelrc`` sets the flags the rules need and ``.bazelignore`` keeps Bazel out of
the venv and axl's folders. Paths inside the project are written relative to it, so the files do
not depend on where it lives. axl's own checkout holds exactly what this writes there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from axl.errors import AxlError, UsageError
from axl.scaffold._files import (
    APPENDED,
    KEPT,
    REPLACED,
    UP_TO_DATE,
    WROTE,
    Outcome,
    add_lines,
    needed_lines,
    write_text,
)

HEADER = "# Written by `axl bazel init`"
_PYTHON = """load("@axl//rules:python.bzl", "axl_python")

# The actions run this venv's Python (`uv sync` makes it; in axl's checkout, `make setup`).
axl_python(
    name = "axl_python",
    venv = "{venv}",
)
"""
_SELF = (
    f"{HEADER}: axl's checkout is a Bazel workspace, so\n"
    "# `make setup && bazel build //examples:churn` works in a fresh clone (rules/README.md).\n"
    'workspace(name = "axl")\n\n'
)
_USER = (
    f"{HEADER}: what axl's Bazel rules need (see rules/README.md in axl).\n"
    "# The rules of the axl installed in the venv; run `axl bazel init --force` again after\n"
    "# changing the venv's Python version.\n"
    "new_local_repository(\n"
    '    name = "axl",\n'
    '    path = "{rules}",\n'
    '    build_file_content = "",\n'
    ")\n\n"
)
BUILD_TEXT = (
    f"{HEADER}: the generated step targets read the lockfile (part of every key).\n"
    'exports_files(["uv.lock"])\n'
)
BAZELRC = f"""{HEADER}: the flags axl's rules need (rules/README.md).
# Actions get a fixed PATH, so their keys do not depend on the shell that started Bazel; their
# Python comes from @axl_python (WORKSPACE), not from PATH.
build --incompatible_strict_action_env
# The process-wrapper sandbox works in containers, where Linux namespaces often do not.
build --spawn_strategy=processwrapper-sandbox
# Debian's /etc/bazel/bazelrc turns sandbox debugging on, which keeps every sandbox on disk.
build --nosandbox_debug
"""
#: Folders Bazel must not search for packages (a venv may ship BUILD files).
IGNORED = (".venv", ".axl", "workspace")
#: The root BUILD already makes the lockfile readable.
_EXPORTS_LOCK = re.compile(r"exports_files\(\s*\[[^\]]*[\"']uv\.lock[\"']")


def render(rules: str | None, venv: str) -> dict[str, str]:
    """The four files, by name. Pure.

    Args:
        rules: The folder holding axl's ``rules/`` (relative to the project, or absolute);
            ``None`` for axl's own checkout, which is the ``@axl`` repository itself.
        venv: The venv the actions run (relative to the project, or absolute).
    """
    head = _SELF if rules is None else _USER.format(rules=rules)
    ignored = [*IGNORED, *([venv] if venv not in IGNORED and not venv.startswith("/") else [])]
    return {
        "WORKSPACE": head + _PYTHON.format(venv=venv),
        "BUILD.bazel": BUILD_TEXT,
        ".bazelrc": BAZELRC,
        ".bazelignore": "".join(f"{name}\n" for name in ignored),
    }


def rules_root() -> Path:
    """The folder holding the running axl's ``rules/axl.bzl``: in the wheel, ``axl/_bazel``; in a
    checkout, the checkout.

    Raises:
        AxlError: Neither holds them (a broken install).
    """
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_bazel", package.parent):
        if (candidate / "rules" / "axl.bzl").is_file():
            return candidate
    raise AxlError(
        f"axl's Bazel rules are not installed with it (no rules/axl.bzl in {package}/_bazel)",
        hint="reinstall axl",
    )


def _venv() -> Path:
    if sys.prefix == sys.base_prefix:
        raise UsageError(
            f"axl runs from {sys.executable}, which is in no venv: Bazel's actions need one",
            hint="run it from the project's venv: uv sync && uv run axl bazel init",
        )
    return Path(sys.prefix).resolve()


def _where(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def init(root: Path, *, force: bool = False) -> list[Outcome]:
    """Write the Bazel files into the project ``root``; keep the ones that already hold them.

    A file that differs (a person's WORKSPACE, an older axl's) is replaced only with ``force``;
    without it nothing is written and the error names every such file.

    Raises:
        UsageError: A file differs and ``force`` is false; or axl runs outside a venv.
    """
    root = root.resolve()
    rules, venv = rules_root(), _venv()
    files = render(None if rules == root else _where(rules, root), _where(venv, root))
    plan: list[tuple[str, str, str]] = []  # (file, action, note)
    for name, text in files.items():
        plan.append((name, *_decide(root, name, text, force)))
    clash = [
        f"{name} ({note})" if note else name for name, action, note in plan if action == "clash"
    ]
    if clash:
        raise UsageError(
            f"{root}: {', '.join(clash)} exist{'s' if len(clash) == 1 else ''} and differ"
            f"{'s' if len(clash) == 1 else ''} from what axl bazel init writes",
            hint="rerun with --force to replace "
            f"{'it' if len(clash) == 1 else 'them'} (the lines axl needs: rules/README.md)",
        )
    done = []
    for name, action, note in plan:
        if action in (WROTE, REPLACED):
            write_text(root / name, files[name])
        elif action == APPENDED:
            add_lines(root / "BUILD", ['exports_files(["uv.lock"])'], "BUILD")
        # A root BUILD serves Bazel too (see _decide): report that file, not BUILD.bazel.
        shown = (
            "BUILD"
            if name == "BUILD.bazel" and action in (KEPT, APPENDED) and not (root / name).exists()
            else name
        )
        done.append(Outcome(shown, action, note))
    if (root / ".gitignore").is_file():
        done.append(add_lines(root / ".gitignore", ["/bazel-*"], ".gitignore"))
    return done


def _decide(root: Path, name: str, text: str, force: bool) -> tuple[str, str]:
    """What to do with one file: write, keep, replace, append to BUILD, or a clash."""
    path = root / name
    if name == "BUILD.bazel" and not path.exists() and (root / "BUILD").is_file():
        # A root BUILD.bazel would hide the BUILD axl reads from Bazel: export from that one.
        if _EXPORTS_LOCK.search((root / "BUILD").read_text()):
            return KEPT, "it exports uv.lock: no BUILD.bazel, which would hide it from Bazel"
        if force:
            return APPENDED, 'exports_files(["uv.lock"])'
        return (
            "clash",
            'a root BUILD.bazel would hide BUILD, which lacks exports_files(["uv.lock"])',
        )
    if not path.exists():
        return WROTE, ""
    old = path.read_text()
    if old == text:
        return UP_TO_DATE, ""
    have = set(needed_lines(old))
    if all(line in have for line in needed_lines(text)):
        return KEPT, "it holds what axl needs"
    return (REPLACED, "") if force else ("clash", "")
