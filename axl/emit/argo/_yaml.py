"""A byte-stable YAML dump: keys in the order the emitter built them, block style, no aliases.

Multi-line strings (the IO manifest) become literal blocks (``|``) so a reviewer reads them as
text. Everything else is PyYAML's safe representation, which quotes any string that would
otherwise read back as another type (``'3'``, ``'true'``), so the YAML loads back to the dict.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Wide enough that no line is ever folded: a folded line would still load back the same, but a
#: diff of two emissions should show a changed value as one changed line.
_WIDTH = 1 << 20


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # An alias (&id001 / *id001) is valid YAML, but Argo users read and diff this file, and
        # Kubernetes tooling handles aliases unevenly.
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key (the Kubernetes documentation's style).
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(document: Any) -> str:
    """``document`` (dicts, lists, strings, numbers, booleans, None) as YAML text; a list of
    Kubernetes objects (dicts with a ``kind``) as one YAML document each, separated by ``---``."""
    if isinstance(document, list) and document and all(_is_object(d) for d in document):
        return "---\n".join(dump_yaml(d) for d in document)
    text: str = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_WIDTH,
        indent=2,
    )
    return text


def _is_object(item: Any) -> bool:
    return isinstance(item, dict) and "kind" in item and "apiVersion" in item
