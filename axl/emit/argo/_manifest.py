"""The workflow's IO manifest by reference: one ConfigMap beside the Workflow, read by every pod.

Why a ConfigMap, and not the manifest inside the Workflow: Argo hands each pod its resolved
template (``ARGO_TEMPLATE``, an environment variable, at most 128 KiB), so a manifest travelling
as a ``raw`` artifact is copied into every pod and, for a workflow of thousands of steps, into
the Workflow object as many times as it has templates. A ConfigMap is stored once, mounted by
name (a pod spec only names it), and has its own 1 MiB budget. It is:

* named after the manifest's digest (``<workflow>-manifest-<digest>``) and ``immutable``: two
  compilations of the same workflow share it, the kubelet does not watch it, and a Workflow
  never reads another compilation's manifest;
* checked by the runner: every container passes ``--manifest-digest``, and a manifest whose
  bytes differ (an edited or another ConfigMap) is refused (exit 2);
* compact (:mod:`axl.runtime._manifest_shared`): each step function's entry once, each call as
  what differs, one line per step.

The params step keeps its manifest inline in its own template: Argo substitutes submitted
parameters into it, which it would not do in a ConfigMap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from axl.hashing import bytes_digest

VOLUME = "axl-manifest"
FOLDER = "/axl/manifest"
KEY = "manifest.json"
PATH = f"{FOLDER}/{KEY}"
ANNOTATION_DIGEST = "axl.dev/manifest-digest"
LABEL_KIND = "axl.dev/kind"
#: Kubernetes refuses a ConfigMap whose data exceeds 1 MiB.
CONFIGMAP_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ManifestRef:
    """The stored manifest: its ConfigMap's name, its text and the digest pods check."""

    configmap: str
    text: str
    digest: str

    @property
    def volume(self) -> dict[str, Any]:
        """The workflow's volume for it (``spec.volumes``)."""
        return {"name": VOLUME, "configMap": {"name": self.configmap}}

    @staticmethod
    def mount() -> dict[str, Any]:
        """A container's mount of it: the manifest is then at :data:`PATH`."""
        return {"name": VOLUME, "mountPath": FOLDER, "readOnly": True}


def manifest_ref(workflow: str, manifest: Mapping[str, Any]) -> ManifestRef:
    """The compact text of ``manifest`` (whole-workflow) and where it is stored."""
    from axl.runtime._manifest_shared import compact_text, share

    text = compact_text(share(manifest))
    digest = bytes_digest(text.encode())
    return ManifestRef(f"{workflow}-manifest-{digest[:16]}", text, digest)


def configmap(
    ref: ManifestRef, *, labels: Mapping[str, str], namespace: str | None
) -> dict[str, Any]:
    """The ConfigMap object holding the manifest."""
    meta: dict[str, Any] = {"name": ref.configmap}
    if namespace:
        meta["namespace"] = namespace
    # A label of its own, so `kubectl apply -l axl.dev/kind=manifest -f FILE` picks it alone.
    meta["labels"] = {**labels, LABEL_KIND: "manifest"}
    meta["annotations"] = {ANNOTATION_DIGEST: ref.digest}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "immutable": True,
        "data": {KEY: ref.text},
    }


def configmap_bytes(document: Mapping[str, Any]) -> int:
    """The size Kubernetes counts against a ConfigMap's limit: its data, keys and values."""
    data = document.get("data", {})
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in data.items())
