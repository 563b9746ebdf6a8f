"""The rule registry: every kind of target a BUILD file may declare, in one place.

Adding a kind (or giving one a builder) touches only this module. A kind declares its attributes
(name, type, whether mandatory) so BUILD files are checked before anything is built, and names its
builder as ``"module:function"``, imported only when a target of that kind is built (the warm
path of ``axl build`` never imports the emitters). Kinds whose builder is ``None`` parse and show
in ``axl query`` but refuse to build with "rule kind X is not buildable yet".

Bazel's own rules (``py_library``, ``filegroup``, ...) are registered as *Bazel-only* kinds with
open attributes, so that the same BUILD file serves Bazel; axl lists them and skips them in
``:all`` and ``...`` builds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from axl.errors import BuildFileError, UsageError

#: Attribute types: how a literal value is checked.
STRING, INT, BOOL = "string", "int", "bool"
LABEL, LABEL_LIST = "label", "label_list"
STRING_LIST, STRING_DICT = "string_list", "string_dict"
#: A label (":name", "//pkg:name": a dependency) or any other string (e.g. a pinned image).
LABEL_OR_STRING = "label_or_string"

_TYPE_WORDS = {
    STRING: "a string",
    INT: "an integer",
    BOOL: "True or False",
    LABEL: 'a label string (":name" or "//pkg:name")',
    LABEL_LIST: "a list of label strings",
    STRING_LIST: "a list of strings",
    STRING_DICT: "a dict of strings to strings",
    LABEL_OR_STRING: "a string (a label, or a value such as an image reference)",
}


@dataclass(frozen=True)
class Attr:
    """One attribute of a rule kind."""

    name: str
    type: str
    mandatory: bool = False
    doc: str = ""

    def check(self, value: Any) -> str | None:
        """``None`` when ``value`` fits the type, else what was expected."""
        if self.type in (STRING, LABEL, LABEL_OR_STRING):
            ok = isinstance(value, str)
        elif self.type == INT:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.type == BOOL:
            ok = isinstance(value, bool)
        elif self.type in (LABEL_LIST, STRING_LIST):
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            )
        return None if ok else _TYPE_WORDS[self.type]


#: Attributes every kind has: ``deps`` orders builds (and `axl query deps()` follows them).
COMMON = (
    Attr("name", STRING, mandatory=True, doc="The target's name, unique in its package."),
    Attr("deps", LABEL_LIST, doc="Targets to build first."),
    Attr("visibility", STRING_LIST, doc="Accepted for Bazel; not enforced by axl."),
    Attr("tags", STRING_LIST, doc="Free-form tags."),
)


@dataclass(frozen=True)
class RuleKind:
    """A kind of target.

    Attributes:
        name: What BUILD files call it (``axl_workflow``).
        doc: One line for ``axl query --output label_kind`` readers and error hints.
        attrs: Its own attributes (the :data:`COMMON` ones are added).
        builder: ``"module:function"`` building a target of this kind, or ``None`` (not yet).
        bazel_only: Bazel's rule, accepted so the file serves Bazel; axl never builds it.
    """

    name: str
    doc: str
    attrs: tuple[Attr, ...] = ()
    builder: str | None = None
    bazel_only: bool = False

    @property
    def all_attrs(self) -> dict[str, Attr]:
        return {a.name: a for a in (*COMMON, *self.attrs)}

    def load_builder(self) -> Callable[..., Any]:
        """The builder function, imported now.

        Raises:
            UsageError: The kind has no builder (yet, or ever for Bazel-only kinds).
        """
        if self.bazel_only:
            raise UsageError(
                f"rule kind {self.name} is a Bazel rule; axl does not build it",
                hint="build it with Bazel, or name an axl target (axl query //... lists them)",
            )
        if self.builder is None:
            raise UsageError(
                f"rule kind {self.name} is not buildable yet",
                hint="build the axl_workflow target it refers to instead",
            )
        module, _, func = self.builder.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), func)
        return fn


_REGISTRY: dict[str, RuleKind] = {}

#: Calls that declare no target; accepted and ignored so a BUILD file can serve Bazel too.
DIRECTIVES = frozenset({"load", "package", "exports_files", "licenses", "package_group"})


def register(kind: RuleKind) -> RuleKind:
    """Add (or replace) a rule kind."""
    _REGISTRY[kind.name] = kind
    return kind


def kinds() -> Mapping[str, RuleKind]:
    """Every registered kind, by name."""
    return _REGISTRY


def get_kind(name: str, *, file: str | None = None, line: int | None = None) -> RuleKind:
    """The kind called ``name``.

    Raises:
        BuildFileError: No such kind (with the nearest name as a hint).
    """
    kind = _REGISTRY.get(name)
    if kind is not None:
        return kind
    axl_kinds = sorted(k for k, v in _REGISTRY.items() if not v.bazel_only)
    near = get_close_matches(name, [*_REGISTRY, *DIRECTIVES], n=1)
    hint = f"did you mean {near[0]}?" if near else f"axl rule kinds: {', '.join(axl_kinds)}"
    raise BuildFileError(f"unknown rule kind {name!r}", hint=hint, file=file, line=line)


register(
    RuleKind(
        "axl_workflow",
        "A workflow class, built step by step with the local engine.",
        (
            Attr(
                "workflow",
                STRING,
                mandatory=True,
                doc='"file.py:Class" (relative to the BUILD file\'s folder) or "module:Class".',
            ),
            Attr("params", STRING, doc="A YAML params file, relative to the BUILD file's folder."),
            Attr("config", STRING, doc="A run config file, relative to the BUILD file's folder."),
        ),
        builder="axl.exec._targets:build_workflow",
    )
)
register(
    RuleKind(
        "axl_image",
        "A container image holding a workflow's code and locked dependencies.",
        (
            Attr("workflow", LABEL, mandatory=True, doc="The axl_workflow target."),
            Attr("base", STRING, doc="The base image."),
            Attr("tag", STRING, doc="REPO[:TAG] (it is also tagged REPO:<image key>)."),
            Attr("system_packages", STRING_LIST, doc="Debian packages, installed at build time."),
            Attr("extras", STRING_LIST, doc="The project's optional dependencies to install."),
            Attr("groups", STRING_LIST, doc="Dependency groups to install."),
            Attr("include", STRING_LIST, doc="More files or folders for the code layer."),
            Attr("build_args", STRING_DICT, doc="Build args of the builder stage."),
            Attr("ca_bundle", STRING, doc="A CA bundle the build trusts (never in the image)."),
            Attr("network", STRING, doc="The build's network mode (e.g. host)."),
            Attr("push", BOOL, doc="Push the image; its registry digest is the output."),
        ),
        builder="axl.image._target:build_image_target",
    )
)
register(
    RuleKind(
        "argo_workflow",
        "Argo Workflows YAML for a workflow, pinned to an image.",
        (
            Attr("workflow", LABEL, mandatory=True, doc="The axl_workflow target."),
            Attr(
                "image",
                LABEL_OR_STRING,
                doc='The axl_image target whose digest the YAML pins, or "repo/name@sha256:...".',
            ),
            Attr("namespace", STRING, doc="The Kubernetes namespace."),
            Attr("kind", STRING, doc="Workflow (default) or WorkflowTemplate."),
            Attr("artifact_repo", STRING, doc="S3 key prefix of the output artifacts."),
            Attr("artifact_repo_ref", STRING, doc="CONFIGMAP[:KEY] of an artifact repository."),
            Attr("store", STRING, doc="s3://bucket/prefix: inputs by digest, no artifacts."),
            Attr("config", STRING, doc="A run config (default: the workflow target's)."),
        ),
        builder="axl.emit.argo._target:build_argo_target",
    )
)
register(
    RuleKind(
        "kfp_pipeline",
        "A Kubeflow Pipelines v2 pipeline spec for a workflow, pinned to an image.",
        (
            Attr("workflow", LABEL, mandatory=True, doc="The axl_workflow target."),
            Attr(
                "image",
                LABEL_OR_STRING,
                doc='The axl_image target whose digest the spec pins, or "repo/name@sha256:...".',
            ),
            Attr("remote_cache", STRING, doc="The remote cache every task's runner consults."),
            Attr("cache_secret_ref", STRING, doc="SECRET[:KEY] holding AXL_CACHE_SECRET."),
            Attr("config", STRING, doc="A run config (default: the workflow target's)."),
        ),
        builder="axl.emit.kfp._target:build_kfp_target",
    )
)
register(
    RuleKind(
        "dagster_job",
        "A Dagster job module for a workflow.",
        (
            Attr("workflow", LABEL, mandatory=True, doc="The axl_workflow target."),
            Attr("image", LABEL, doc="The axl_image target its ops run in."),
        ),
        builder="axl.emit.dagster._target:build_dagster_target",
    )
)

_BAZEL_RULES = (
    "alias",
    "config_setting",
    "filegroup",
    "genrule",
    "py_binary",
    "py_library",
    "py_test",
    "sh_binary",
    "sh_library",
    "sh_test",
    "test_suite",
)
for _name in _BAZEL_RULES:
    register(RuleKind(_name, "A Bazel rule (built by Bazel, not axl).", bazel_only=True))
# The step targets `axl bazel` generates (rules/axl.bzl): Bazel builds them, axl lists them.
for _name in ("axl_manifests", "axl_step"):
    register(
        RuleKind(_name, "A workflow step as a Bazel action (from axl bazel).", bazel_only=True)
    )


def check_attrs(
    kind: RuleKind, given: Mapping[str, tuple[Any, int]], *, file: str, line: int
) -> None:
    """Check attribute names, types and mandatory ones; ``given`` maps name -> (value, line).

    ``line`` is the rule call's, reported for a missing attribute.

    Raises:
        BuildFileError: An unknown or mistyped attribute, or a missing mandatory one.
    """
    if kind.bazel_only:
        return  # Bazel checks its own rules; axl only needs their name.
    attrs = kind.all_attrs
    for name, (value, at) in given.items():
        attr = attrs.get(name)
        if attr is None:
            near = get_close_matches(name, list(attrs), n=1)
            raise BuildFileError(
                f"{kind.name} has no attribute {name!r}",
                hint=f"did you mean {near[0]}?"
                if near
                else f"{kind.name} takes: {', '.join(attrs)}",
                file=file,
                line=at,
            )
        expected = attr.check(value)
        if expected is not None:
            raise BuildFileError(
                f"{kind.name} attribute {name!r} must be {expected}, "
                f"got {type(value).__name__} {value!r}",
                file=file,
                line=at,
            )
    missing = [a.name for a in attrs.values() if a.mandatory and a.name not in given]
    if missing:
        raise BuildFileError(
            f"{kind.name} needs attribute {missing[0]!r}",
            hint=f"add {missing[0]} = ...  ({attrs[missing[0]].doc})",
            file=file,
            line=line,
        )
