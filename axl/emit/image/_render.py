"""The image emitter: an :class:`ImageSpec` in, a Dockerfile and its build context's layout out.

Pure: no file is read except the template (``images/Dockerfile.workflow.tmpl``), and nothing is
written. The caller (:mod:`axl.image`) decides what goes into the spec (it loads the workflow,
resolves its dependencies and finds the code files), reads the files this module lists and
sends the build context to a builder.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from axl.errors import UsageError

#: The base image when none is given: Debian bookworm's Python 3.11 (the version axl keys with).
DEFAULT_BASE = "python:3.11-slim-bookworm"
#: The uv the builder stage installs (pinned, so the layer is the same on every machine).
UV_VERSION = "0.13.9"
#: 1980-01-01, the earliest time a zip (a wheel) can hold: file times in the context and the
#: ``SOURCE_DATE_EPOCH`` build arg, so that tools which honour it write the same bytes.
SOURCE_DATE_EPOCH = 315532800
#: Where the build CA goes in the context (the builder stage only; never keyed).
CA_ARCNAME = "axl-build/ca.crt"
#: Dependency kinds (the values of :data:`axl.graph._deps.LOCKFILE`, ...).
_KINDS = ("lockfile", "requirements", "file", "none")
TEMPLATE_NAME = "Dockerfile.workflow.tmpl"
#: Stands for an empty block until its line is dropped.
_DROP = "\x00"

_DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+-]*$")


def _sorted_unique(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class ImageSpec:
    """Everything the Dockerfile depends on. Normalised in the constructor (sorted, unique), so
    that the order options were given in changes neither the Dockerfile nor the image key.

    Attributes:
        workflow: The workflow's name (for the header comment).
        entry: ``module:Class`` of the workflow (for the header comment).
        base: The base image reference.
        deps_kind: ``lockfile``, ``requirements`` (inline), ``file`` or ``none``.
        deps_files: Workspace-relative files of the dependency layer (``pyproject.toml`` and
            ``uv.lock``, or the requirements file).
        requirements: Inline requirement strings (``deps_kind == "requirements"``).
        extras: Optional-dependency groups of the project to install (lockfile only).
        groups: Dependency groups to install (lockfile only); the default groups are not.
        install_project: Install the project itself (a lockfile project with a build system).
        code_files: Workspace-relative files of the code layer.
        system_packages: Debian packages installed with apt-get (at build time only).
        build_args: Names of build args declared in the builder stage.
        ca_bundle: Whether a build CA is in the context (used by the builder stage only).
        uv_version: The uv the builder installs.
        source_date_epoch: The ``SOURCE_DATE_EPOCH`` default.
    """

    workflow: str
    entry: str
    base: str = DEFAULT_BASE
    deps_kind: str = "lockfile"
    deps_files: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    install_project: bool = False
    code_files: tuple[str, ...] = ()
    system_packages: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    ca_bundle: bool = False
    uv_version: str = UV_VERSION
    source_date_epoch: int = SOURCE_DATE_EPOCH

    def __post_init__(self) -> None:
        for name in ("requirements", "extras", "groups", "code_files", "system_packages"):
            object.__setattr__(self, name, _sorted_unique(getattr(self, name)))
        object.__setattr__(self, "build_args", _sorted_unique(self.build_args))
        object.__setattr__(self, "deps_files", tuple(self.deps_files))
        _check(self)


def _check(spec: ImageSpec) -> None:
    """Refuse values that would not be one Dockerfile token (or would inject a line).

    Raises:
        UsageError: A malformed base, package, extra, group, build arg or path.
    """
    if spec.deps_kind not in _KINDS:
        raise UsageError(f"unknown dependency kind {spec.deps_kind!r}")
    if not _REFERENCE.match(spec.base):
        raise UsageError(f"base image {spec.base!r} is not an image reference")
    if not _VERSION.match(spec.uv_version):
        raise UsageError(f"uv version {spec.uv_version!r} is not a version")
    checks = (
        (spec.system_packages, _DEBIAN_PACKAGE, "system package", "a Debian package name"),
        (spec.extras, _NAME, "extra", "a name of [project.optional-dependencies]"),
        (spec.groups, _NAME, "dependency group", "a name of [dependency-groups]"),
        (spec.build_args, _ARG, "build arg", "NAME=VALUE with NAME a shell variable name"),
    )
    for values, pattern, what, expected in checks:
        for value in values:
            if not pattern.match(value):
                raise UsageError(f"{what} {value!r} is not valid", hint=f"give {expected}")
    for req in spec.requirements:
        if "\n" in req or "\r" in req:
            raise UsageError(f"requirement {req!r} spans lines", hint="one requirement per entry")
    for rel in (*spec.code_files, *spec.deps_files):
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts or not rel or "\n" in rel:
            raise UsageError(f"path {rel!r} is not relative to the workspace")
    if (spec.extras or spec.groups) and spec.deps_kind != "lockfile":
        raise UsageError(
            "extras and dependency groups apply to lockfile dependencies only",
            hint="list the packages in the workflow's requirements instead",
        )


@dataclass(frozen=True)
class Rendered:
    """The emitter's result.

    Attributes:
        dockerfile: The Dockerfile text (``Dockerfile`` at the context's root).
        files: Context path -> workspace-relative source file, for files taken from the workspace.
        generated: Context path -> bytes, for files the emitter wrote (inline requirements).
        ca_arcname: Where the builder must put the CA bundle, or ``None`` without one.
    """

    dockerfile: str
    files: dict[str, str] = field(default_factory=dict)
    generated: dict[str, bytes] = field(default_factory=dict)
    ca_arcname: str | None = None


def render(spec: ImageSpec) -> Rendered:
    """The Dockerfile and the context layout for ``spec`` (byte-stable for equal specs)."""
    files = {f"code/{rel}": rel for rel in spec.code_files}
    generated: dict[str, bytes] = {}
    if spec.deps_kind == "lockfile":
        files.update({f"deps/{PurePosixPath(rel).name}": rel for rel in spec.deps_files})
    elif spec.deps_kind == "file":
        files["deps/requirements.txt"] = spec.deps_files[0]
    elif spec.deps_kind == "requirements":
        generated["deps/requirements.txt"] = "".join(f"{r}\n" for r in spec.requirements).encode()
    values = {
        "workflow": spec.workflow,
        "entry": spec.entry,
        "deps_summary": _deps_summary(spec),
        "deps_when": _deps_when(spec),
        "code_summary": _code_summary(spec),
        "base": spec.base,
        "system_block": _system_block(spec),
        "source_date_epoch": str(spec.source_date_epoch),
        "arg_block": "\n".join(f"ARG {name}" for name in spec.build_args),
        "ca_block": _ca_block(spec),
        "uv_version": spec.uv_version,
        "deps_block": _deps_block(spec),
        "project_block": _project_block(spec),
        "project_final": (
            "# The project's installed files (metadata, entry points, the path to /app).\n"
            "COPY --from=builder /opt/project/ /opt/venv/"
            if spec.install_project
            else ""
        ),
    }
    # A block left empty drops its whole line, so the Dockerfile has no holes.
    blocks = {k: v or _DROP for k, v in values.items() if k.endswith(("_block", "_final"))}
    text = string.Template(_template()).substitute({**values, **blocks})
    return Rendered(
        dockerfile=_tidy(text),
        files=dict(sorted(files.items())),
        generated=generated,
        ca_arcname=CA_ARCNAME if spec.ca_bundle else None,
    )


@functools.cache
def _template() -> str:
    here = Path(__file__).resolve()
    # An installed wheel carries a copy beside this module; a checkout has the original.
    for candidate in (here.with_name(TEMPLATE_NAME), here.parents[3] / "images" / TEMPLATE_NAME):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise UsageError(
        f"the Dockerfile template {TEMPLATE_NAME} is missing from this axl installation",
        hint="reinstall axl",
    )


def _tidy(text: str) -> str:
    """Drop trailing spaces, the lines of empty blocks and doubled blank lines."""
    lines = [line.rstrip() for line in text.splitlines() if line != _DROP]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def _deps_summary(spec: ImageSpec) -> str:
    if spec.deps_kind == "lockfile":
        chosen = [f"extra {e}" for e in spec.extras] + [f"group {g}" for g in spec.groups]
        return "uv.lock" + (f" ({', '.join(chosen)})" if chosen else "")
    if spec.deps_kind == "file":
        return spec.deps_files[0]
    if spec.deps_kind == "requirements":
        return f"{len(spec.requirements)} requirements"
    return "none declared"


def _deps_when(spec: ImageSpec) -> str:
    files = list(spec.deps_files) if spec.deps_kind != "requirements" else ["the requirements"]
    return " or ".join([", ".join(files), "a stage above"] if files else ["a stage above"])


def _code_summary(spec: ImageSpec) -> str:
    if spec.install_project:
        return "the workflow's modules and the project's files"
    return "the workflow's modules"


def _system_block(spec: ImageSpec) -> str:
    if not spec.system_packages:
        return ""
    packages = " ".join(spec.system_packages)
    return (
        "# System packages, installed at build time only (nothing is installed when it runs).\n"
        "RUN apt-get update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n"
        f"    {packages} \\\n"
        " && rm -rf /var/lib/apt/lists/*"
    )


def _ca_block(spec: ImageSpec) -> str:
    if not spec.ca_bundle:
        return ""
    return (
        "# The build's CA bundle (a TLS-intercepting proxy): this stage only, never the image.\n"
        f"COPY {CA_ARCNAME} /etc/axl-build-ca.crt\n"
        "ENV SSL_CERT_FILE=/etc/axl-build-ca.crt PIP_CERT=/etc/axl-build-ca.crt"
    )


def _deps_block(spec: ImageSpec) -> str:
    if spec.deps_kind == "lockfile":
        flags = "".join(f" --extra {e}" for e in spec.extras)
        flags += "".join(f" --group {g}" for g in spec.groups)
        return (
            "# The dependency layer: only pyproject.toml and uv.lock are in this COPY, so it is\n"
            "# rebuilt when they change, not when the code does. Exactly what uv.lock pins.\n"
            "COPY deps/ /app/\n"
            f"RUN uv sync --frozen --no-install-project --no-default-groups{flags}"
        )
    if spec.deps_kind in ("file", "requirements"):
        return (
            "# The dependency layer: the requirements only, so it is rebuilt when they change.\n"
            "COPY deps/requirements.txt /opt/axl-deps/requirements.txt\n"
            "RUN uv venv /opt/venv \\\n"
            " && uv pip install --python /opt/venv/bin/python -r /opt/axl-deps/requirements.txt"
        )
    return (
        "# No declared dependencies: the venv sees the base image's packages (e.g. axl's).\n"
        "RUN uv venv --system-site-packages /opt/venv"
    )


def _project_block(spec: ImageSpec) -> str:
    if not spec.install_project:
        return ""
    return (
        "# The project itself, editable (its modules stay in /app, as on the host), installed\n"
        "# into a staging prefix that the final stage lays over the venv: the dependency layer\n"
        "# keeps its bytes when only the code changes.\n"
        "COPY code/ /app/\n"
        "RUN uv pip install --python /opt/venv/bin/python --no-deps --prefix /opt/project \\\n"
        "    -e /app \\\n"
        " && rm -f /opt/project/.lock"
    )
