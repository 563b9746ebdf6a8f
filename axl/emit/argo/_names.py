"""Names Argo and Kubernetes accept, and turning axl's names into them without collisions."""

from __future__ import annotations

import re

#: A DNS-1123 label (Kubernetes): lowercase alphanumerics and '-', at most 63 characters.
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: A DNS-1123 subdomain (``metadata.name``): labels joined by '.', at most 253 characters.
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: Argo's parameter and artifact names (``paramOrArtifactNameRegex``).
PARAM_OR_ARTIFACT = re.compile(r"^[-a-zA-Z0-9_]+$")
#: A Kubernetes label or annotation key's name part.
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
#: Room left in a workflow's name for the 5 random characters of ``generateName`` and for the
#: label ``workflows.argoproj.io/workflow`` (a label value: at most 63 characters).
WORKFLOW_NAME_MAX = 57


def dns_label(text: str, limit: int = LABEL_MAX) -> str:
    """``text`` as a DNS-1123 label: lowercased, other characters turned into '-'."""
    name = re.sub(r"[^a-z0-9-]", "-", text.lower())[:limit].strip("-")
    return name or "x"


def artifact_name(text: str) -> str:
    """``text`` as an Argo parameter or artifact name (other characters become '-')."""
    return re.sub(r"[^-a-zA-Z0-9_]", "-", text) or "x"


def is_annotation_key(key: str) -> bool:
    """Whether ``key`` is a valid Kubernetes annotation (or label) key: ``[prefix/]name``."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return bool(_QUALIFIED.match(name))


class NameTable:
    """Hands out unique names in one namespace (templates, tasks, a template's artifacts).

    A name already taken gets ``-2``, ``-3``, ... appended, shortened to fit ``limit``, so two
    different axl names that map to the same Argo name (``a_b`` and ``a-b``) both survive.
    Deterministic: the same requests in the same order give the same names.
    """

    def __init__(self, limit: int = LABEL_MAX) -> None:
        self.limit = limit
        self.taken: set[str] = set()

    def take(self, wanted: str) -> str:
        """``wanted``, or the first free variant of it; the name is then taken."""
        name = wanted[: self.limit]
        number = 1
        while name in self.taken:
            number += 1
            suffix = f"-{number}"
            name = wanted[: self.limit - len(suffix)].rstrip("-") + suffix
        self.taken.add(name)
        return name
