"""The handlers that need nothing beyond the standard library and cloudpickle: pickle (the
default), cloudpickle and json."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

from axl.io._base import cannot_save, register

# Protocol pinned (not HIGHEST_PROTOCOL) so that a newer Python writes the same bytes.
PICKLE_PROTOCOL = 5


class PickleHandler:
    """Any picklable value. The default."""

    name = "pickle"
    extension = "pkl"

    def save(self, value: Any, path: Path) -> None:
        with path.open("wb") as f:
            pickle.dump(value, f, protocol=PICKLE_PROTOCOL)

    def load(self, path: Path) -> Any:
        with path.open("rb") as f:
            return pickle.load(f)

    def accepts(self, value: Any) -> bool:
        return True

    def metadata(self, path: Path) -> dict[str, Any]:
        return {}


class CloudpickleHandler(PickleHandler):
    """Values plain pickle refuses (lambdas, closures, classes defined in ``__main__``)."""

    name = "cloudpickle"
    extension = "cloudpkl"

    def save(self, value: Any, path: Path) -> None:
        import cloudpickle

        with path.open("wb") as f:
            cloudpickle.dump(value, f, protocol=PICKLE_PROTOCOL)


class JsonHandler:
    """JSON-able values (metrics, small configs). Canonical: sorted keys, fixed indentation, so
    equal values give equal bytes (a loaded dict therefore has its keys in sorted order)."""

    name = "json"
    extension = "json"

    def save(self, value: Any, path: Path) -> None:
        try:
            text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
            data = (text + "\n").encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise cannot_save(
                self.name,
                value,
                "dicts, lists, strings, finite numbers, booleans and None",
                str(exc),
            ) from None
        path.write_bytes(data)

    def load(self, path: Path) -> Any:
        return json.loads(path.read_bytes().decode("utf-8"))

    def accepts(self, value: Any) -> bool:
        return is_jsonable(value)

    def metadata(self, path: Path) -> dict[str, Any]:
        if path.stat().st_size > _JSON_METADATA_LIMIT:
            return {}
        value = self.load(path)
        facts: dict[str, Any] = {"type": _JSON_TYPES.get(type(value), type(value).__name__)}
        if isinstance(value, (dict, list)):
            facts["length"] = len(value)
        return facts


#: Detection sends a value to the json handler only below this many nodes: a tree bigger than
#: that is data, not a metric, and pickle stores it faster and smaller.
JSON_MAX_NODES = 100_000

# metadata() parses the file to describe it; past this size that costs more than it tells.
_JSON_METADATA_LIMIT = 16 << 20

_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def is_jsonable(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged, type for type.

    Conservative on purpose: exact types only (``numpy.float64`` and ``str`` subclasses are not
    JSON values even though :func:`json.dumps` writes them), no tuples (they load as lists), no
    non-``str`` keys (they load as strings), no NaN or infinity (not JSON), no lone surrogates (not
    UTF-8), and at most :data:`JSON_MAX_NODES` nodes. The answer depends only on the value.
    """
    stack = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > JSON_MAX_NODES:
            return False
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str or not _utf8(key):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is str:
            if not _utf8(item):
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind not in (int, bool, type(None)):
            return False
    return True


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


register(PickleHandler())
register(CloudpickleHandler())
# Last in detection: every more specific handler (text, bytes, arrays, frames) is asked first.
register(JsonHandler(), detect_rank=60)
