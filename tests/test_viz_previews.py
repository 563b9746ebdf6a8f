"""Output previews in the HTML report: tables (Parquet, Arrow), metrics dicts, images, text, and
what is never opened (pickles) or no longer there."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from axl import io
from axl.cache._local import LocalStore
from axl.cache._records import OutputRecord
from axl.exec._history import Run
from axl.viz._previews import image_type, preview
from axl.viz._report_html import build_report


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real (red) RGB PNG, made by hand."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "cache")


def put(store: LocalStore, data: bytes, handler: str, **metadata: object) -> OutputRecord:
    digest, size = store.put_bytes(data)
    return OutputRecord(digest, size, handler, io.extension_of(handler), dict(metadata))


def put_value(store: LocalStore, tmp_path: Path, value: object, handler: str) -> OutputRecord:
    path = tmp_path / f"value.{handler}"
    io.get(handler).save(value, path)
    return put(store, path.read_bytes(), handler)


def test_image_types() -> None:
    assert image_type(tiny_png()[:16]) == "image/png"
    assert image_type(b"\xff\xd8\xff\xe0" + b"\0" * 12) == "image/jpeg"
    assert image_type(b"GIF89a" + b"\0" * 10) == "image/gif"
    assert image_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert image_type(b"<svg") is None


def test_png_bytes_are_inlined(store: LocalStore) -> None:
    html = preview(store, put(store, tiny_png(), "bytes"))
    assert html.startswith(
        '<img class="preview-image" alt="output image" src="data:image/png;base64,'
    )


def test_metrics_dict_is_a_table(store: LocalStore) -> None:
    rec = put(store, b'{"accuracy": 0.9123456789, "f1": null, "note": "<b>x</b>"}', "json")
    html = preview(store, rec)
    assert html.startswith('<table class="metrics">')
    assert "<td>accuracy</td><td>0.912346</td>" in html
    assert "<td>f1</td><td>null</td>" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # user text is escaped
    assert "<b>x</b>" not in html


def test_json_records_and_scalars(store: LocalStore) -> None:
    html = preview(store, put(store, b'[{"a": 1, "b": 2}, {"a": 3, "c": 4}]', "json"))
    assert "2 records" in html
    assert "<th>a</th><th>b</th><th>c</th>" in html
    assert preview(store, put(store, b"42", "json")) == "<pre>42</pre>"


@pytest.mark.parametrize("handler", ["parquet", "arrow"])
def test_table_head_and_schema(store: LocalStore, tmp_path: Path, handler: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": range(25), "name": [f"n{i}" for i in range(25)]})
    html = preview(store, put_value(store, tmp_path, frame, handler))
    assert "25 rows, 2 columns" in html
    assert html.count("<tr>") == 1 + 10 + 1 + 2  # head header + 10 rows; schema header + 2
    assert "<td>n9</td>" in html
    assert "<td>n10</td>" not in html
    assert "<summary>schema</summary>" in html
    assert "<td>x</td><td>int64</td>" in html


def test_wide_table_shows_the_first_columns(store: LocalStore, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({f"c{i}": [i] for i in range(40)})
    html = preview(store, put_value(store, tmp_path, frame, "parquet"))
    assert "1 row, 40 columns, 10 more columns not shown" in html
    assert "<th>c29</th>" in html
    assert "<th>c30</th>" not in html


def test_text_head(store: LocalStore) -> None:
    html = preview(store, put(store, ("line\n" * 2000).encode(), "text"))
    assert html.startswith("<pre>line\nline\n")
    assert html.endswith("… (cut)</pre>")


def test_pickles_are_described_not_loaded(store: LocalStore) -> None:
    # Unpickling these bytes would run os.system: the preview must never do it.
    evil = b"cos\nsystem\n(S'touch /tmp/axl-pwned'\ntR."
    html = preview(store, put(store, evil, "pickle", type="sklearn.Model"))
    assert "not unpickled for the preview" in html
    assert "type: sklearn.Model" in html
    assert not Path("/tmp/axl-pwned").exists()


def test_missing_and_corrupt_outputs(store: LocalStore) -> None:
    gone = OutputRecord("ab" * 32, 10, "json", "json")
    assert "not in the cache any more" in preview(store, gone)
    broken = preview(store, put(store, b"not parquet at all", "parquet"))
    assert broken.startswith('<p class="note">no preview: ')


def test_report_with_an_image_output(store: LocalStore, tmp_path: Path) -> None:
    rec = put(store, tiny_png(), "bytes")
    logs, _ = store.put_bytes(b"drawing <the> plot\n")
    record = {
        "run": "20260101T000000-abcdef",
        "workflow": "plots",
        "ok": True,
        "started": 100.0,
        "finished": 101.0,
        "steps": {
            "plot": {
                "status": "ran",
                "started": 100.2,
                "seconds": 0.5,
                "outputs": {"out": rec.to_json()},
                "log_digest": logs,
            }
        },
        "graph": {"nodes": [{"name": "plot", "kind": "step", "outputs": [["out", "auto"]]}]},
    }
    html = build_report(Run.from_json(record, tmp_path / "r.json"), store, graphviz=False)
    assert 'src="data:image/png;base64,' in html
    assert "drawing &lt;the&gt; plot" in html
    assert '<g class="node step ran" id="step-plot">' in html
