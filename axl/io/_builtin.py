"""The handlers that need nothing beyond the standard library and cloudpickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from axl.io._base import register

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
    """JSON-able values (dicts of metrics, params). Canonical: sorted keys, so equal values give
    equal bytes."""

    name = "json"
    extension = "json"

    def save(self, value: Any, path: Path) -> None:
        text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")

    def load(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    def accepts(self, value: Any) -> bool:
        return False

    def metadata(self, path: Path) -> dict[str, Any]:
        return {}


register(PickleHandler())
register(CloudpickleHandler())
register(JsonHandler())
