"""The ``parquet`` handler: pandas DataFrames and pyarrow Tables as Parquet, compact and portable.

Every writer setting is pinned (below), so the same table always gives the same bytes, hence the
same digest, and a step that reruns to an identical frame stops the rebuild there. The bytes do
depend on the pyarrow version (its ``created_by`` string and encoders), which the lockfile pins and
the action key covers.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from axl.io import _tables
from axl.io._base import register, require

#: Writer settings. Each is spelled out, even where it equals today's pyarrow default, so that a
#: pyarrow upgrade that changes a default cannot change the bytes behind our back.
WRITER_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",  # save() leaves floating-point columns uncompressed
    "compression_level": 1,
    "use_dictionary": True,  # save() narrows it to the columns that are not floating point
    "dictionary_pagesize_limit": 1 << 20,
    "write_statistics": True,
    "data_page_version": "1.0",
    "data_page_size": 1 << 20,
    "write_batch_size": 1024,
    "use_byte_stream_split": False,
    "use_deprecated_int96_timestamps": False,
    "coerce_timestamps": None,
    "allow_truncated_timestamps": False,
    "use_compliant_nested_type": True,
    "store_schema": True,
    "write_page_index": False,
    "write_page_checksum": False,
    "store_decimal_as_integer": False,
    "write_time_adjusted_to_utc": False,
    "use_content_defined_chunking": False,
}


class ParquetIOHandler:
    """A pandas DataFrame or a pyarrow Table; loads back the same type (recorded in the schema).

    Index, column order, dtypes (categoricals of strings, timezone-aware timestamps, nullable
    integers, strings) and ``attrs`` round-trip; a frame that would not (duplicate labels, mixed
    objects, categoricals of numbers) is refused with the reason. Row groups hold
    :data:`axl.io._tables.PIECE_ROWS` rows; every column but the floating-point ones is
    dictionary-encoded and zstd-compressed (level 1).
    """

    name = "parquet"
    extension = "parquet"

    def save(self, value: Any, path: Path) -> None:
        table = _tables.to_table(value, self.name, parquet=True)
        pq = require(self.name, "pyarrow.parquet")
        options = {
            **WRITER_OPTIONS,
            "use_dictionary": _dictionary_columns(table.schema),
            "compression": _compression(table.schema),
        }
        if isinstance(options["compression"], dict):
            # A level is only valid for the compressed columns.
            options["compression_level"] = {
                col: WRITER_OPTIONS["compression_level"]
                for col, codec in options["compression"].items()
                if codec != "none"
            }
        with pq.ParquetWriter(str(path), table.schema, **options) as writer:
            for piece in _tables.pieces(table):
                writer.write_batch(piece, row_group_size=_tables.PIECE_ROWS)

    def load(self, path: Path) -> Any:
        pq = require(self.name, "pyarrow.parquet")
        # pre_buffer reads every column chunk into memory before decoding: a win on object
        # stores, a second copy of the file on a local disk.
        table = pq.read_table(str(path), use_threads=True, pre_buffer=False)
        written = _written_schema(pq, path)
        if written is not None and not table.schema.equals(written, check_metadata=False):
            # Parquet has no seconds unit for timestamps (and a few other Arrow types); the
            # schema stored at write time says what each column was, and the cast is exact.
            table = table.cast(written.with_metadata(table.schema.metadata))
        return _tables.from_table(table)

    def accepts(self, value: Any) -> bool:
        # Tables go to the arrow handler (faster, exact); DataFrames come here when they fit.
        return (
            _tables.is_frame(value)
            and _tables.have_pyarrow()
            and _tables.frame_problem(value, parquet=True) is None
        )

    def metadata(self, path: Path) -> dict[str, Any]:
        pq = require(self.name, "pyarrow.parquet")
        meta = pq.read_metadata(str(path))
        facts = _tables.describe(pq.read_schema(str(path)), meta.num_rows)
        facts["row_groups"] = meta.num_row_groups
        return facts


def _dictionary_columns(schema: Any) -> bool | list[str]:
    """The columns to dictionary-encode: all but floating-point ones, whose values rarely repeat
    (the writer would build a dictionary per page only to give up on it).

    Nested columns are named by their leaf paths in Parquet; a schema with any keeps the
    dictionary on for every column rather than guess those paths.
    """
    pa = require("parquet", "pyarrow")
    if any(pa.types.is_nested(field.type) for field in schema):
        return True
    return [field.name for field in schema if not pa.types.is_floating(field.type)]


def _compression(schema: Any) -> str | dict[str, str]:
    """Per column: zstd, except floating-point columns, which are stored plain.

    Measured here on 5,000,000 x 4 random float64: zstd saved 6 % of the bytes and made the load
    five times slower (2.6 s against 0.5 s). Measured values rarely compress; integers, strings,
    categories and timestamps do, and keep it.
    """
    pa = require("parquet", "pyarrow")
    if any(pa.types.is_nested(field.type) for field in schema):
        return str(WRITER_OPTIONS["compression"])
    return {
        field.name: "none"
        if pa.types.is_floating(field.type)
        else str(WRITER_OPTIONS["compression"])
        for field in schema
    }


def _written_schema(pq: Any, path: Path) -> Any:
    pa = require("parquet", "pyarrow")
    raw = (pq.read_metadata(str(path)).metadata or {}).get(b"ARROW:schema")
    if raw is None:
        return None
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(raw)))


register(
    ParquetIOHandler(),
    detect_rank=10,
    annotations=(
        "pandas.DataFrame",
        "pandas.core.frame.DataFrame",
        "pd.DataFrame",
        "DataFrame",
    ),
)
