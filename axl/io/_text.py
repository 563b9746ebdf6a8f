"""Handlers for text and raw bytes: the file holds exactly the value, nothing around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axl.io._base import cannot_save, register


class TextHandler:
    """A ``str``, stored as UTF-8 as is (no newline added or translated)."""

    name = "text"
    extension = "txt"

    def save(self, value: Any, path: Path) -> None:
        if not isinstance(value, str):
            raise cannot_save(self.name, value, "str")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise cannot_save(self.name, value, "str encodable as UTF-8", str(exc)) from None
        path.write_bytes(data)

    def load(self, path: Path) -> str:
        return path.read_bytes().decode("utf-8")

    def accepts(self, value: Any) -> bool:
        # Exact type: a str subclass (an enum member, say) would load back as a plain str.
        if type(value) is not str:
            return False
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: pickle keeps them, UTF-8 cannot
            return False
        return True

    def metadata(self, path: Path) -> dict[str, Any]:
        lines = 0
        last = b"\n"
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        # A last line without a newline still counts as a line.
        return {"lines": lines + (last != b"\n")}


class BytesHandler:
    """``bytes`` (and, when declared, any bytes-like value; it loads back as ``bytes``)."""

    name = "bytes"
    extension = "bin"

    def save(self, value: Any, path: Path) -> None:
        try:
            view = memoryview(value)
        except TypeError:
            raise cannot_save(self.name, value, "bytes (or another bytes-like value)") from None
        with view, path.open("wb") as f:
            # Written from the value's own buffer: no second copy of a large blob.
            f.write(view if view.c_contiguous else view.tobytes())

    def load(self, path: Path) -> bytes:
        return path.read_bytes()

    def accepts(self, value: Any) -> bool:
        return type(value) is bytes

    def metadata(self, path: Path) -> dict[str, Any]:
        return {}


register(BytesHandler(), detect_rank=40, annotations=("bytes", "builtins.bytes"))
register(TextHandler(), detect_rank=50, annotations=("str", "builtins.str"))
