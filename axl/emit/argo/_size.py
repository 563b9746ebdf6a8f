"""Kubernetes' object size limit: what makes an emitted object big, and the error when too big.

The Workflow is an object in etcd, which caps objects at about 1.5 MiB, and Argo adds the run's
status (one entry per pod) to the same object; a ConfigMap's data is capped at 1 MiB. A workflow
past those limits is not an axl bug: the error says which limit, how big the object is, what in
it is biggest, and how to get under it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from axl.errors import EmitError

#: Warn above this size: Argo adds the run's status to the object.
WARN_BYTES = 512 * 1024
#: Kubernetes (etcd) refuses objects above about this size.
MAX_BYTES = 1536 * 1024
SHOWN = 5


def object_bytes(document: Any) -> int:
    """The object's size as the API server stores it (compact JSON)."""
    return len(json.dumps(document, separators=(",", ":")).encode())


def contributors(document: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The biggest parts of a Workflow: each template, and the DAG tasks of each template
    (together), as ``(bytes, description)``, biggest first."""
    parts: list[tuple[int, str]] = []
    for template in document.get("spec", {}).get("templates", []):
        tasks = template.get("dag", {}).get("tasks")
        if tasks is None:
            inputs = template.get("inputs", {}).get("artifacts", [])
            what = f"template {template.get('name')!r}"
            if len(inputs) > 1:
                what += f" ({len(inputs)} input artifacts)"
            parts.append((object_bytes(template), what))
            continue
        by_template: dict[str, list[Any]] = {}
        for task in tasks:
            by_template.setdefault(str(task.get("template")), []).append(task)
        for name, group in by_template.items():
            size = object_bytes(group)
            artifacts = sum(len(t.get("arguments", {}).get("artifacts", [])) for t in group)
            what = f"{len(group)} DAG task(s) of template {name!r}"
            if artifacts:
                what += f" ({artifacts} input artifacts passed)"
            parts.append((size, what))
    return sorted(parts, key=lambda p: (-p[0], p[1]))


def too_big(document: Mapping[str, Any], size: int, *, by_reference: bool) -> EmitError:
    """The error for a Workflow of ``size`` bytes, over :data:`MAX_BYTES`.

    Args:
        document: The Workflow.
        size: Its size.
        by_reference: Its steps already read their inputs from a store (``--store``).
    """
    name = document.get("metadata", {}).get("name") or document.get("metadata", {}).get(
        "generateName", ""
    ).rstrip("-")
    shown = "; ".join(f"{what}: {kib(n)}" for n, what in contributors(document)[:SHOWN])
    store = (
        ""
        if by_reference
        else "pass --store s3://bucket/prefix so steps read their inputs from the store by "
        "digest (no artifact per input), or "
    )
    return EmitError(
        f"the Argo {document.get('kind', 'object')} {name!r} is {kib(size)}, over the "
        f"{kib(MAX_BYTES)} Kubernetes allows for one object (a size limit of Kubernetes, not a "
        f"bug in axl); biggest parts: {shown}",
        hint=f"{store}split the workflow into several; a map over the calls (Argo withParam, "
        "expanded by the controller at run time) will keep one task for all of them once axl "
        "has maps",
    )


def configmap_too_big(name: str, size: int, limit: int, steps: int) -> EmitError:
    """The error for a manifest ConfigMap over Kubernetes' limit."""
    return EmitError(
        f"the manifest of {steps} steps is {kib(size)} in ConfigMap {name!r}, over the "
        f"{kib(limit)} Kubernetes allows for a ConfigMap's data (a size limit of Kubernetes, not "
        "a bug in axl)",
        hint="split the workflow into several; a map over the calls (Argo withParam, expanded "
        "by the controller at run time) will keep one manifest entry for all of them once axl "
        "has maps",
    )


def kib(size: int) -> str:
    """``size`` in KiB, rounded up, for messages."""
    return f"{-(-size // 1024)} KiB"
