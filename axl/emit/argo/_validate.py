"""Checking an Argo object without a cluster: Argo's JSON schema, then what its linter checks.

:func:`check` returns every problem found (errors and warnings), each with where it is
(``spec.templates[3].dag.tasks[1].template``); :func:`validate` raises one
:class:`axl.errors.EmitError` listing the errors. The schema (``schema/workflows-schema.json``,
vendored from argoproj/argo-workflows) checks types and field names only; the semantic checks
are the ones a structurally valid object can still fail at submission: references that resolve
(templates, tasks, artifacts, parameters, ``{{...}}`` variables), names Kubernetes and Argo
accept, no duplicates, no dependency cycles, a size well under Kubernetes' object limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from axl.emit.argo import _refs, _size
from axl.emit.argo._names import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_MAX,
    PARAM_OR_ARTIFACT,
    SUBDOMAIN_MAX,
    is_annotation_key,
)
from axl.errors import EmitError

SCHEMA_FILE = Path(__file__).with_name("schema") / "workflows-schema.json"
_DEFINITION = "io.argoproj.workflow.v1alpha1."
WARN_BYTES = _size.WARN_BYTES
MAX_BYTES = _size.MAX_BYTES
#: The message of the size error (:func:`validate` raises the dedicated error for it).
TOO_BIG = "Kubernetes refuses objects this big"
#: Template types: a template must have exactly one.
TEMPLATE_TYPES = (
    "container",
    "containerSet",
    "dag",
    "data",
    "http",
    "plugin",
    "resource",
    "script",
    "steps",
    "suspend",
)
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Problem:
    """One finding: where (a path into the object) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class Findings:
    """Everything :func:`check` found."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, where: str, message: str) -> None:
        self.errors.append(Problem(where, message))

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(Problem(where, message))


def check(document: Any) -> Findings:
    """Every problem of ``document`` (a Workflow or WorkflowTemplate as a dict)."""
    found = Findings()
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind not in ("Workflow", "WorkflowTemplate"):
        found.error("kind", f"expected Workflow or WorkflowTemplate, got {kind!r}")
        return found
    for where, message in schema_errors(document, kind):
        found.error(where, message)
    if found.errors:
        return found  # the semantic checks assume the types the schema guarantees
    _check_metadata(document.get("metadata", {}), kind, found)
    _check_spec(document.get("spec", {}), kind, found)
    size = _size.object_bytes(document)
    if size > MAX_BYTES:
        found.error("", f"the object is {size // 1024} KiB; {TOO_BIG}")
    elif size > WARN_BYTES:
        found.warn(
            "",
            f"the object is {size // 1024} KiB, over {WARN_BYTES // 1024} KiB: Argo adds the "
            "run's status to it, and Kubernetes caps objects at about 1.5 MiB",
        )
    return found


def validate(document: Any) -> list[str]:
    """Check ``document``; returns the warnings.

    Raises:
        EmitError: Any error, all of them listed.
    """
    found = check(document)
    if found.errors and all(p.message.endswith(TOO_BIG) for p in found.errors):
        args = document.get("spec", {}).get("templates", [])
        stored = any("--store" in t.get("container", {}).get("args", []) for t in args)
        raise _size.too_big(document, _size.object_bytes(document), by_reference=stored)
    if found.errors:
        shown = "\n  ".join(str(p) for p in found.errors[:20])
        more = len(found.errors) - 20
        raise EmitError(
            f"the emitted Argo {document.get('kind', 'object')} is invalid:\n  {shown}"
            + (f"\n  ... and {more} more" if more > 0 else ""),
            hint="this is a bug in axl's Argo emitter unless the workflow's options (names, "
            "resources, when) are at fault; please report it",
        )
    return [str(p) for p in found.warnings]


def validate_objects(objects: list[dict[str, Any]]) -> list[str]:
    """Check the emitted objects (the manifest's ConfigMap, then the Argo object); returns the
    warnings.

    Raises:
        EmitError: Any error of the Argo object (see :func:`validate`), or a ConfigMap that
            Kubernetes would refuse.
    """
    from axl.emit.argo._manifest import CONFIGMAP_MAX_BYTES, configmap_bytes

    *configmaps, document = objects
    volumes = {
        v.get("configMap", {}).get("name") for v in document.get("spec", {}).get("volumes", [])
    }
    for item in configmaps:
        name = item["metadata"]["name"]
        if len(name) > SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.match(name):
            raise EmitError(f"ConfigMap name {name!r} is not a DNS-1123 subdomain")
        if name not in volumes:
            raise EmitError(f"ConfigMap {name!r} is not a volume of the workflow")
        size = configmap_bytes(item)
        if size > CONFIGMAP_MAX_BYTES:
            steps = sum(len(json.loads(v).get("steps", {})) for v in item["data"].values())
            raise _size.configmap_too_big(name, size, CONFIGMAP_MAX_BYTES, steps)
    return validate(document)


# -- schema -----------------------------------------------------------------------------------


@cache
def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["definitions"]
    return definitions


@cache
def _validator(kind: str) -> Any:
    import jsonschema

    root = {"$ref": f"#/definitions/{_DEFINITION}{kind}", "definitions": _definitions()}
    return jsonschema.Draft7Validator(root)


def schema_errors(document: Any, kind: str) -> list[tuple[str, str]]:
    """Where and why ``document`` breaks Argo's schema for ``kind`` (at most 20, in order)."""
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [(_path(e.absolute_path), f"schema: {e.message}") for e in errors[:20]]


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- metadata and spec ------------------------------------------------------------------------


def _check_metadata(meta: dict[str, Any], kind: str, found: Findings) -> None:
    name, generate = meta.get("name"), meta.get("generateName")
    if name is not None:
        if len(name) > SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.match(name):
            found.error("metadata.name", f"{name!r} is not a DNS-1123 subdomain")
    elif generate is not None and kind == "Workflow":
        # Kubernetes appends 5 random characters.
        if len(generate) > SUBDOMAIN_MAX - 5 or not DNS1123_SUBDOMAIN.match(generate + "abcde"):
            found.error("metadata.generateName", f"{generate!r} is not a DNS-1123 name prefix")
    else:
        need = "name or generateName" if kind == "Workflow" else "name"
        found.error("metadata", f"a {kind} needs a {need}")
    namespace = meta.get("namespace")
    if namespace is not None and not DNS1123_LABEL.match(namespace):
        found.error("metadata.namespace", f"{namespace!r} is not a DNS-1123 label")
    _check_labels(meta, "metadata", found)


def _check_labels(meta: dict[str, Any], where: str, found: Findings) -> None:
    for key, value in meta.get("labels", {}).items():
        if not is_annotation_key(key):
            found.error(f"{where}.labels", f"{key!r} is not a valid label key")
        if len(value) > LABEL_MAX or not _LABEL_VALUE.match(value):
            found.error(f"{where}.labels.{key}", f"{value!r} is not a valid label value")
    for key in meta.get("annotations", {}):
        if not is_annotation_key(key):
            found.error(f"{where}.annotations", f"{key!r} is not a valid annotation key")


def _check_spec(spec: dict[str, Any], kind: str, found: Findings) -> None:
    templates = spec.get("templates", [])
    by_name: dict[str, dict[str, Any]] = {}
    for i, template in enumerate(templates):
        where = f"spec.templates[{i}]"
        name = template.get("name", "")
        if not DNS1123_LABEL.match(name):
            found.error(f"{where}.name", f"{name!r} is not a DNS-1123 label")
        if name in by_name:
            found.error(f"{where}.name", f"a second template named {name!r}")
        by_name.setdefault(name, template)
    entry = spec.get("entrypoint")
    if entry is None:
        if kind == "Workflow" and "workflowTemplateRef" not in spec:
            found.error("spec.entrypoint", "a Workflow needs an entrypoint")
    elif entry not in by_name:
        found.error("spec.entrypoint", f"names no template: {entry!r}")
    params = _named(spec.get("arguments", {}).get("parameters", []), "spec.arguments", found)
    volumes = {v.get("name", "") for v in spec.get("volumes", [])}
    for i, template in enumerate(templates):
        _check_template(template, f"spec.templates[{i}]", found, volumes)
    _check_images(templates, found)
    context = _refs.Context(templates=by_name, workflow_parameters=set(params))
    for i, template in enumerate(templates):
        _refs.check_template_refs(template, f"spec.templates[{i}]", context, found)


def _named(items: list[dict[str, Any]], where: str, found: Findings) -> list[str]:
    """Check the parameter/artifact names of one list: valid and unique. Returns them."""
    names: list[str] = []
    for j, item in enumerate(items):
        name = item.get("name", "")
        if not PARAM_OR_ARTIFACT.match(name):
            found.error(f"{where}[{j}].name", f"{name!r} is not a valid Argo name")
        elif name in names:
            found.error(f"{where}[{j}].name", f"{name!r} appears twice")
        names.append(name)
    return names


def _check_template(
    template: dict[str, Any], where: str, found: Findings, volumes: set[str]
) -> None:
    types = [t for t in TEMPLATE_TYPES if t in template]
    if len(types) != 1:
        found.error(where, f"a template needs exactly one of {', '.join(TEMPLATE_TYPES)}")
    _check_labels(template.get("metadata", {}), f"{where}.metadata", found)
    leaf = "container" in template or "script" in template
    paths: dict[str, str] = {}
    for side in ("inputs", "outputs"):
        block = template.get(side, {})
        _named(block.get("parameters", []), f"{where}.{side}.parameters", found)
        _named(block.get("artifacts", []), f"{where}.{side}.artifacts", found)
        for j, art in enumerate(block.get("artifacts", [])):
            at = f"{where}.{side}.artifacts[{j}]"
            path = art.get("path")
            if leaf and not path:
                found.error(at, "an artifact of a container template needs a path")
            elif path is not None and not path.startswith("/"):
                found.error(f"{at}.path", f"{path!r} is not absolute")
            elif path is not None and side == "inputs" and path in paths:
                found.error(f"{at}.path", f"{path!r} is also the path of {paths[path]!r}")
            elif path is not None and side == "inputs":
                paths[path] = art.get("name", "")
    if "container" in template:
        _check_container(template["container"], f"{where}.container", found, volumes)
    limit = template.get("retryStrategy", {}).get("limit")
    if isinstance(limit, str) and not limit.isdigit():
        found.error(f"{where}.retryStrategy.limit", f"{limit!r} is not a whole number")


def _check_images(templates: list[dict[str, Any]], found: Findings) -> None:
    users: dict[str, int] = {}
    for template in templates:
        image = template.get("container", {}).get("image")
        if image and "@sha256:" not in image and "{{" not in image:
            users[image] = users.get(image, 0) + 1
    for image, count in users.items():
        found.warn(
            "spec.templates",
            f"image {image!r} ({count} templates) is not pinned by digest: a tag can move, and "
            "the runner refuses to run a step whose sources differ from the compiled ones; "
            "pass --image repo/name@sha256:...",
        )


def _check_container(
    container: dict[str, Any], where: str, found: Findings, volumes: set[str]
) -> None:
    for j, mount in enumerate(container.get("volumeMounts", [])):
        if mount.get("name") not in volumes:
            found.error(
                f"{where}.volumeMounts[{j}].name",
                f"names no volume of the workflow: {mount.get('name')!r}",
            )
    if not container.get("image"):
        found.error(f"{where}.image", "a container needs an image")
    for j, env in enumerate(container.get("env", [])):
        if not _ENV_NAME.match(env.get("name", "")):
            found.error(f"{where}.env[{j}].name", f"{env.get('name')!r} is not a valid name")
    for side in ("requests", "limits"):
        for name, value in container.get("resources", {}).get(side, {}).items():
            if not _QUANTITY.match(str(value)):
                found.error(
                    f"{where}.resources.{side}.{name}",
                    f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 1.5, 4Gi)",
                )
