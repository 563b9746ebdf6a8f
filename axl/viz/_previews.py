"""Previews of stored outputs as HTML fragments: a table's schema and first rows, a metrics dict
as a table, an image inline, the head of a text.

Only formats that can be read without running user code are opened: pickles are never loaded (a
pickle can execute anything), they are described from their recorded metadata. pyarrow is imported
when a table is previewed, and a preview that fails says so instead of failing the report.
"""

from __future__ import annotations

import base64
import json
import math
from html import escape
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.cache._records import OutputRecord
from axl.viz._model import human_size

HEAD_ROWS = 10
MAX_COLUMNS = 30
MAX_CELL = 80
MAX_JSON = 1 << 20
MAX_IMAGE = 5 << 20
MAX_TEXT = 4000

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def image_type(head: bytes) -> str | None:
    """The MIME type of PNG/JPEG/GIF/WebP bytes, from their first bytes; else ``None``."""
    for magic, mime in _IMAGE_MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def preview(store: LocalStore, rec: OutputRecord) -> str:
    """An HTML fragment showing what the output holds."""
    if not store.has_blob(rec.digest, rec.size):
        return _note("not in the cache any more (garbage-collected or built elsewhere)")
    path = store.blob_path(rec.digest)
    try:
        with path.open("rb") as f:
            head = f.read(16)
        mime = image_type(head)
        if mime is not None:
            return _image(path, mime, rec.size)
        if rec.handler in ("parquet", "arrow"):
            return _table(path, rec)
        if rec.handler == "json":
            return _json(path, rec.size)
        if rec.handler == "text":
            return _text(path)
    except Exception as exc:  # noqa: BLE001 - one unreadable output must not sink the report
        return _note(f"no preview: {type(exc).__name__}: {exc}")
    return _described(rec)


def _described(rec: OutputRecord) -> str:
    """What the metadata says about an output we do not open (pickles, arrays, bytes)."""
    facts = [f"{k}: {_cell(v)}" for k, v in sorted(rec.metadata.items()) if k != "schema"]
    what = f"{rec.handler} · {human_size(rec.size)}"
    if rec.handler in ("pickle", "cloudpickle"):
        what += " · not unpickled for the preview"
    return _note(" · ".join([what, *facts]))


def _image(path: Path, mime: str, size: int) -> str:
    if size > MAX_IMAGE:
        return _note(f"an image of {human_size(size)}: too large to embed")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img class="preview-image" alt="output image" src="data:{mime};base64,{data}">'


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, default=str)
    text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def html_table(header: list[str], rows: list[list[Any]], css: str = "data") -> str:
    """A ``<table>`` with escaped, shortened cells."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _table(path: Path, rec: OutputRecord) -> str:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyarrow import ipc
    except ImportError:
        return _table_from_metadata(rec)
    if rec.handler == "parquet":
        pf = pq.ParquetFile(str(path))
        schema, rows = pf.schema_arrow, pf.metadata.num_rows
        batch = next(pf.iter_batches(batch_size=HEAD_ROWS), None)
        head = pa.Table.from_batches([batch]) if batch is not None else schema.empty_table()
    else:
        reader = ipc.open_file(pa.memory_map(str(path), "r"))
        schema, rows = reader.schema, reader.count_rows()
        head = (
            pa.Table.from_batches([reader.get_batch(0)])
            if reader.num_record_batches
            else schema.empty_table()
        )
    names = list(schema.names)
    shown = names[:MAX_COLUMNS]
    head = head.slice(0, HEAD_ROWS).select(shown)
    records = head.to_pylist()
    more = f", {len(names) - len(shown)} more columns not shown" if len(names) > len(shown) else ""
    counted = f"{rows} row{'' if rows == 1 else 's'}, {len(names)} columns{more}"
    summary = _note(f"{counted} · {human_size(rec.size)}")
    types = [[name, str(schema.field(name).type)] for name in names]
    return (
        summary
        + '<div class="scroll">'
        + html_table(shown, [[r[c] for c in shown] for r in records])
        + "</div><details><summary>schema</summary>"
        + html_table(["column", "type"], types, "schema")
        + "</details>"
    )


def _table_from_metadata(rec: OutputRecord) -> str:
    schema = rec.metadata.get("schema")
    text = f"{rec.metadata.get('rows', '?')} rows · {human_size(rec.size)} (pyarrow not installed)"
    if not isinstance(schema, dict):
        return _note(text)
    return _note(text) + html_table(
        ["column", "type"], [[k, v] for k, v in schema.items()], "schema"
    )


def _json(path: Path, size: int) -> str:
    if size > MAX_JSON:
        return _note(f"JSON of {human_size(size)}: too large to preview")
    value = json.loads(path.read_bytes())
    if isinstance(value, dict) and value:
        # A metrics dict (or params): one row per key.
        return html_table(["key", "value"], [[k, v] for k, v in value.items()], "metrics")
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value[:HEAD_ROWS]):
        columns: list[str] = []
        for item in value[:HEAD_ROWS]:
            columns += [k for k in item if k not in columns]
        rows = [[item.get(c) for c in columns] for item in value[:HEAD_ROWS]]
        return _note(f"{len(value)} records") + html_table(columns[:MAX_COLUMNS], rows)
    text = json.dumps(value, indent=2, sort_keys=True)
    return f"<pre>{escape(_clip(text))}</pre>"


def _text(path: Path) -> str:
    with path.open("rb") as f:
        raw = f.read(MAX_TEXT + 1)
    return f"<pre>{escape(_clip(raw.decode('utf-8', errors='replace')))}</pre>"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n… (cut)"
