"""The action graph: keys (the only place that composes them), code digests, labels."""

from axl.graph._code import CodeIndex
from axl.graph._keys import KeyParts, environment_part, explain_change, key_parts

__all__ = ["CodeIndex", "KeyParts", "environment_part", "explain_change", "key_parts"]
