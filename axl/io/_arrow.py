"""The ``arrow`` handler: the Arrow IPC file format (Feather v2), the fast path for tables.

Uncompressed, so a load memory-maps the file and a Table comes back without copying a byte; a
DataFrame costs one copy into pandas. The bytes depend on the table's content and the pyarrow
version only: no timestamps, fixed batch size, fixed options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axl.io import _tables
from axl.io._base import register, require


class ArrowIOHandler:
    """A pyarrow Table or a pandas DataFrame; loads back the same type (recorded in the schema).

    Everything Arrow has a type for round-trips, including categoricals of any category type.
    Record batches hold :data:`axl.io._tables.PIECE_ROWS` rows; buffers are not compressed.
    """

    name = "arrow"
    extension = "arrow"

    def save(self, value: Any, path: Path) -> None:
        table = _tables.to_table(value, self.name, parquet=False)
        pa = require(self.name, "pyarrow")
        ipc = require(self.name, "pyarrow.ipc")
        options = ipc.IpcWriteOptions(
            metadata_version=ipc.MetadataVersion.V5,
            allow_64bit=False,
            compression=None,
            use_threads=False,
            emit_dictionary_deltas=False,
            unify_dictionaries=False,
        )
        with (
            pa.OSFile(str(path), "wb") as sink,
            ipc.new_file(sink, table.schema, options=options) as writer,
        ):
            for piece in _tables.pieces(table):
                writer.write_batch(piece)

    def load(self, path: Path) -> Any:
        pa = require(self.name, "pyarrow")
        ipc = require(self.name, "pyarrow.ipc")
        # Zero-copy: the Table's buffers are the mapped file (the CAS never rewrites a blob in
        # place, so the mapping stays valid as long as the Table lives).
        table = ipc.open_file(pa.memory_map(str(path), "r")).read_all()
        return _tables.from_table(table)

    def accepts(self, value: Any) -> bool:
        if _tables.is_table(value):
            return True
        # A DataFrame reaches here only when Parquet refused it; take it if Arrow keeps it whole.
        return (
            _tables.is_frame(value)
            and _tables.have_pyarrow()
            and _tables.frame_problem(value, parquet=False) is None
        )

    def metadata(self, path: Path) -> dict[str, Any]:
        pa = require(self.name, "pyarrow")
        ipc = require(self.name, "pyarrow.ipc")
        reader = ipc.open_file(pa.memory_map(str(path), "r"))
        facts = _tables.describe(reader.schema, reader.count_rows())
        facts["record_batches"] = reader.num_record_batches
        return facts


register(
    ArrowIOHandler(),
    detect_rank=20,
    annotations=("pyarrow.Table", "pyarrow.lib.Table", "pa.Table"),
)
