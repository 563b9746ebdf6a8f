"""Labels (``//pkg:name``) and target patterns (``//pkg:all``, ``//pkg/...``), as in Bazel.

A *package* is a folder under the workspace root holding a ``BUILD`` (or ``BUILD.bazel``) file,
named by its path relative to the root (``""`` for the root itself). A *label* names one target in
a package. On the command line a pattern may also name every target of a package (``:all``) or of
every package below a folder (``/...``). Relative forms resolve against the package of the
current folder, like Bazel's command line: ``:name`` is a target of it, ``sub`` and ``sub:name``
are in its subpackage ``sub``. Inside a BUILD file a bare ``name`` means ``:name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axl.errors import LabelError

#: A target that ``:all`` stands for; no target may be named like it.
ALL = "all"
RECURSIVE = "..."

_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+\-=,@~]*")


@dataclass(frozen=True, order=True)
class Label:
    """One target: its package (``"examples"``, ``""`` for the root) and its name."""

    package: str
    name: str

    def __str__(self) -> str:
        return f"//{self.package}:{self.name}"

    def relative_to(self, package: str) -> str:
        """``:name`` when the label is in ``package``, else the full label."""
        return f":{self.name}" if package == self.package else str(self)


@dataclass(frozen=True)
class Pattern:
    """What a command-line argument names: one target, a package's targets, or a subtree's.

    ``kind`` is ``"target"`` (``name`` set), ``"all"`` or ``"recursive"``.
    """

    kind: str
    package: str
    name: str | None = None

    def __str__(self) -> str:
        if self.kind == "target":
            return f"//{self.package}:{self.name}"
        if self.kind == "all":
            return f"//{self.package}:{ALL}"
        return f"//{self.package}/{RECURSIVE}" if self.package else f"//{RECURSIVE}"

    @property
    def label(self) -> Label:
        """The label a ``"target"`` pattern names."""
        if self.kind != "target" or self.name is None:
            raise LabelError(f"{self} names several targets, not one")
        return Label(self.package, self.name)


_HINT = "labels look like //pkg:name, :name, //pkg, //pkg:all or //pkg/..."


def _bad(text: str, why: str, hint: str = _HINT) -> LabelError:
    return LabelError(f"malformed label {text!r}: {why}", hint=hint)


def check_name(name: str, text: str) -> str:
    """``name`` if it is a valid target name, else a :class:`LabelError` about ``text``."""
    if not name:
        raise _bad(text, "the target name is empty")
    if name in {".", ".."} or not _NAME.fullmatch(name):
        raise _bad(
            text,
            f"target name {name!r} has characters a name cannot have",
            "use letters, digits and _ - . + = , @ ~ (not starting with . or -)",
        )
    return name


def check_package(package: str, text: str) -> str:
    """``package`` (``a/b``) if it is a valid package path, else a :class:`LabelError`."""
    if not package:
        return package
    for segment in package.split("/"):
        if not segment:
            raise _bad(text, "the package path has an empty segment (a doubled or trailing /)")
        if segment in {".", ".."} or not _SEGMENT.fullmatch(segment):
            raise _bad(
                text,
                f"package segment {segment!r} is not a folder name a package can have",
                "packages are paths below the workspace root, without . or .. segments",
            )
    return package


def _join(base: str, rel: str) -> str:
    return "/".join(p for p in (base, rel) if p)


def parse_pattern(text: str, cwd_package: str | None = None) -> Pattern:
    """Parse a command-line target pattern.

    Args:
        text: ``//pkg:name``, ``//pkg``, ``//pkg:all``, ``//pkg/...``, ``//...``, or a relative
            form (``:name``, ``sub``, ``sub:name``, ``sub/...``).
        cwd_package: The package of the current folder (``None`` when it is outside the
            workspace, where relative forms are refused).

    Raises:
        LabelError: The pattern is malformed, or relative with no current package.
    """
    raw = text.strip()
    if not raw:
        raise _bad(text, "it is empty")
    if raw.startswith("@"):
        raise _bad(text, "external repositories (@repo//...) are not supported")
    if raw.startswith("//"):
        base, body = "", raw[2:]
    else:
        if cwd_package is None:
            raise LabelError(
                f"relative label {text!r} needs the current folder to be inside the workspace",
                hint="write it from the root: //pkg:name",
            )
        if raw.startswith("/"):
            raise _bad(text, "it starts with a single /", "absolute labels start with //")
        base, body = cwd_package, raw
    if body.count(":") > 1:
        raise _bad(text, "it has more than one ':'")
    pkg, colon, name = body.partition(":")
    if RECURSIVE in pkg.split("/"):
        return _recursive(text, base, pkg, name if colon else None)
    package = check_package(_join(base, pkg), text)
    if colon:
        if name == ALL:
            return Pattern("all", package)
        return Pattern("target", package, check_name(name, text))
    if not pkg:
        raise _bad(text, "it names no package and no target", "the root's targets are //:name")
    return Pattern("target", package, check_name(package.rsplit("/", 1)[-1], text))


def _recursive(text: str, base: str, pkg: str, name: str | None) -> Pattern:
    if pkg != RECURSIVE and not pkg.endswith("/" + RECURSIVE):
        raise _bad(text, "'...' may only end a package path")
    if name is not None and name != ALL:
        raise _bad(text, f"'...' may only be followed by ':{ALL}'")
    sub = pkg[: -len(RECURSIVE)].rstrip("/")
    return Pattern("recursive", check_package(_join(base, sub), text))


def parse_label(text: str, package: str) -> Label:
    """Parse a label written inside the BUILD file of ``package``.

    ``//pkg:name``, ``//pkg`` and ``:name`` are accepted, and a bare ``name`` means ``:name``.

    Raises:
        LabelError: The label is malformed or is a pattern (``:all``, ``...``).
    """
    raw = text.strip()
    if raw and not raw.startswith(("/", ":", "@")) and ":" not in raw and "/" not in raw:
        raw = ":" + raw
    if raw and not raw.startswith(("//", ":", "@")):
        raise _bad(text, "in a BUILD file a label is //pkg:name or :name")
    pattern = parse_pattern(raw, package)
    if pattern.kind != "target":
        raise _bad(text, "a BUILD file must name single targets, not :all or ...")
    return pattern.label


def package_of(rel_folder: str) -> str:
    """The package name of a folder path relative to the root (``.`` -> ``""``)."""
    return "" if rel_folder in {"", "."} else rel_folder.replace("\\", "/").strip("/")
