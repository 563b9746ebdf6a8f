"""What the Parquet and Arrow handlers share: pandas <-> Arrow conversion that round-trips, and a
layout of row pieces that makes the written bytes depend on the table's content only.

A saved table carries one schema metadata key, ``axl``, holding canonical JSON: the kind of value
to load back (``"pandas"`` or ``"pyarrow"``) and the few pandas details the ``pandas`` metadata
pyarrow writes does not restore (a ``RangeIndex`` of column labels, ``string[python]`` columns,
``object`` index levels).

Nothing here imports pandas or pyarrow at module level; callers hold a value of one of those types
(so its library is already loaded) or have imported pyarrow through :func:`axl.io._base.require`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections.abc import Iterator
from typing import Any

from axl.io._base import cannot_save, is_exact, require

#: Rows per Parquet row group and per Arrow record batch. Fixed, so the file's layout depends on
#: the row count only, never on how the table happened to be chunked in memory.
PIECE_ROWS = 1 << 20

# The schema metadata key axl owns.
_KEY = b"axl"
# Layout of the value stored under _KEY; bump when it changes incompatibly.
_VERSION = 1
# metadata() lists at most this many fields: a 1,000-column schema is not a summary.
_SUMMARY_FIELDS = 50

# infer_dtype() answers for object columns whose values Arrow stores and pandas gives back as the
# same Python objects in an object column. Anything else ("integer", "mixed", "boolean", ...)
# would come back with another dtype or not convert at all.
_OBJECT_KINDS = frozenset({"string", "bytes", "empty", "decimal", "date"})
_NUMPY_KINDS = frozenset("biufmM")
# Column kinds numeric_table() converts itself: numpy booleans, integers, floats, datetimes.
_FAST_KINDS = frozenset("biufmM")


def is_frame(value: Any) -> bool:
    """Whether ``value`` is exactly a pandas DataFrame (subclasses would not load back as such)."""
    return is_exact(value, "pandas", "DataFrame")


def is_table(value: Any) -> bool:
    """Whether ``value`` is exactly a pyarrow Table."""
    return is_exact(value, "pyarrow", "Table")


@functools.cache
def have_pyarrow() -> bool:
    """Whether pyarrow is installed (found, not imported)."""
    return importlib.util.find_spec("pyarrow") is not None


def frame_problem(df: Any, *, parquet: bool) -> str | None:
    """Why ``df`` would not load back equal (values, dtypes, index, labels, attrs), or ``None``.

    Only dtypes and labels are inspected, plus one :func:`pandas.api.types.infer_dtype` pass over
    each ``object`` column, so the answer is cheap and depends on the frame alone.
    """
    pd = sys.modules["pandas"]
    columns = df.columns
    if not columns.is_unique:
        return "its column labels are not unique"
    if isinstance(columns, pd.MultiIndex):
        if any(level.inferred_type not in ("string", "empty") for level in columns.levels):
            return "its column labels are not all str"
    elif len(columns) and columns.inferred_type not in ("string", "integer"):
        return "its column labels are neither all str nor all int"
    if not all(name is None or type(name) is str for name in (*columns.names, *df.index.names)):
        return "its index or column-label names are not all str"
    try:
        json.dumps(df.attrs)
    except (TypeError, ValueError):
        return "its attrs are not JSON-able"
    for position, dtype in enumerate(df.dtypes):
        problem = _dtype_problem(
            pd, dtype, lambda p=position: df.iloc[:, p], parquet=parquet, empty=df.empty
        )
        if problem:
            return f"column {columns[position]!r}: {problem}"
    for level in range(df.index.nlevels):
        values = df.index.get_level_values(level)
        problem = _dtype_problem(
            pd, values.dtype, lambda v=values: v, parquet=parquet, empty=df.empty
        )
        if problem:
            return f"index level {level}: {problem}"
    return None


def _dtype_problem(
    pd: Any, dtype: Any, values: Any, *, parquet: bool, empty: bool = False
) -> str | None:
    np = sys.modules["numpy"]
    if isinstance(dtype, np.dtype):
        if dtype.kind in _NUMPY_KINDS:
            return None
        if dtype.kind == "O":
            kind = pd.api.types.infer_dtype(values(), skipna=True)
            if kind in _OBJECT_KINDS:
                return None
            return f"an object column of {kind} values would not load back as objects"
        return f"dtype {dtype} has no Arrow type"
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if parquet and categories.inferred_type not in ("string", "empty"):
            # Parquet keeps the dictionary of strings only; other categories come back as values.
            return f"Parquet does not keep categories of {categories.dtype}"
        if parquet and empty and len(categories):
            # No rows, no dictionary page: the categories would be lost.
            return "Parquet does not keep the categories of a categorical without rows"
        return _dtype_problem(pd, categories.dtype, lambda: categories, parquet=parquet)
    if isinstance(dtype, _extension_dtypes(pd)):
        return None
    return f"dtype {dtype} has no Arrow type that loads back the same"


@functools.cache
def _extension_dtypes(pd: Any) -> tuple[type, ...]:
    return (
        pd.DatetimeTZDtype,
        pd.StringDtype,
        pd.PeriodDtype,
        pd.IntervalDtype,
        pd.ArrowDtype,
        pd.BooleanDtype,
        pd.Int8Dtype,
        pd.Int16Dtype,
        pd.Int32Dtype,
        pd.Int64Dtype,
        pd.UInt8Dtype,
        pd.UInt16Dtype,
        pd.UInt32Dtype,
        pd.UInt64Dtype,
        pd.Float32Dtype,
        pd.Float64Dtype,
    )


def to_table(value: Any, handler: str, *, parquet: bool) -> Any:
    """``value`` (a DataFrame or a Table) as a pyarrow Table tagged with how to load it back.

    Raises:
        RunnerError: ``value`` is neither, or is a DataFrame that would not round-trip.
    """
    expected = "pandas DataFrames and pyarrow Tables"
    if is_frame(value):
        problem = frame_problem(value, parquet=parquet)
        if problem:
            raise cannot_save(handler, value, expected, problem)
        pa = require(handler, "pyarrow")
        table = numeric_table(value, pa) or pa.Table.from_pandas(value, preserve_index=None)
        tag: dict[str, Any] = {"kind": "pandas", **_pandas_fixes(value)}
    elif is_table(value):
        table, tag = value, {"kind": "pyarrow"}
    else:
        raise cannot_save(handler, value, expected)
    tag["version"] = _VERSION
    encoded = json.dumps(tag, sort_keys=True, separators=(",", ":")).encode()
    return table.replace_schema_metadata({**(table.schema.metadata or {}), _KEY: encoded})


def numeric_table(df: Any, pa: Any) -> Any:
    """``pa.Table.from_pandas(df)``, computed faster for the common ML frame, or ``None``.

    For a frame of numpy numbers, booleans and datetimes with a ``RangeIndex``, the result is
    the same table with the same metadata bytes (the tests hold it to that); only the way float
    columns are checked for NaN differs. ``from_pandas`` turns NaN into nulls with an element by
    element loop; here a vectorised ``min()`` shows most columns have no NaN at all, and those are
    handed to Arrow as they are, without a copy. The schema and the ``pandas`` metadata come from
    ``from_pandas`` on the frame's first zero rows, with the RangeIndex's bounds put back.
    """
    pd, np = sys.modules["pandas"], sys.modules["numpy"]
    index = df.index
    if type(index) is not pd.RangeIndex or not len(df.columns):
        return None  # (a table without columns would lose its row count)
    if not all(isinstance(d, np.dtype) and d.kind in _FAST_KINDS for d in df.dtypes):
        return None
    head = pa.Table.from_pandas(df.iloc[:0], preserve_index=None)
    pandas_meta = json.loads(head.schema.metadata[b"pandas"])
    (entry,) = pandas_meta["index_columns"]
    entry.update(start=index.start, stop=index.stop, step=index.step)
    arrays = []
    for position, field in enumerate(head.schema):
        values = df.iloc[:, position].to_numpy()
        if values.dtype.kind == "f" and len(values) and not np.isnan(values.min()):
            arrays.append(pa.array(values, type=field.type))
        else:
            arrays.append(pa.array(values, type=field.type, from_pandas=True))
    # Serialised as pyarrow does (json.dumps defaults), so the bytes match from_pandas's.
    metadata = {**head.schema.metadata, b"pandas": json.dumps(pandas_meta).encode()}
    return pa.Table.from_arrays(arrays, schema=head.schema.with_metadata(metadata))


def _pandas_fixes(df: Any) -> dict[str, Any]:
    pd = sys.modules["pandas"]
    fixes: dict[str, Any] = {}
    if isinstance(df.columns, pd.RangeIndex):
        fixes["columns_range"] = [df.columns.start, df.columns.stop, df.columns.step]
    astype = []
    for position, dtype in enumerate(df.dtypes):
        if isinstance(dtype, pd.StringDtype) and dtype.storage == "python":
            astype.append(["column", position, _string_spec(pd, dtype)])
    for level in range(df.index.nlevels):
        dtype = df.index.get_level_values(level).dtype
        if isinstance(dtype, sys.modules["numpy"].dtype) and dtype.kind == "O":
            astype.append(["index", level, "object"])
        elif isinstance(dtype, pd.StringDtype) and dtype.storage == "python":
            astype.append(["index", level, _string_spec(pd, dtype)])
    if astype:
        fixes["astype"] = astype
    return fixes


def _string_spec(pd: Any, dtype: Any) -> str:
    return f"string:{dtype.storage}:{'NA' if dtype.na_value is pd.NA else 'nan'}"


def _dtype_of(pd: Any, spec: str) -> Any:
    if spec.startswith("string:"):
        _, storage, na = spec.split(":")
        np = sys.modules["numpy"]
        return pd.StringDtype(storage=storage, na_value=pd.NA if na == "NA" else np.nan)
    return spec


def from_table(table: Any) -> Any:
    """The value a table saved by :func:`to_table` holds: a DataFrame or a Table."""
    metadata = dict(table.schema.metadata or {})
    tag = json.loads(metadata.pop(_KEY, b'{"kind": "pyarrow"}'))
    if tag.get("kind") != "pandas":
        return table.replace_schema_metadata(metadata or None)
    # self_destruct frees each Arrow column once converted, so a load holds about one copy.
    df = table.to_pandas(self_destruct=True)
    del table
    # Hand the freed Arrow buffers back to the system now rather than keep them cached.
    sys.modules["pyarrow"].default_memory_pool().release_unused()
    pd = sys.modules["pandas"]
    if "columns_range" in tag:
        df.columns = pd.RangeIndex(*tag["columns_range"])
    for axis, position, spec in tag.get("astype", ()):
        dtype = _dtype_of(pd, spec)
        if axis == "column":
            df[df.columns[position]] = df.iloc[:, position].astype(dtype)
        elif df.index.nlevels == 1:
            df.index = df.index.astype(dtype)
        else:
            df.index = df.index.set_levels(df.index.levels[position].astype(dtype), level=position)
    return df


def pieces(table: Any) -> Iterator[Any]:
    """``table`` cut into record batches of :data:`PIECE_ROWS` rows (one, empty, if it has none).

    Writers lay pages and batches out along chunks, so two equal tables chunked differently in
    memory could give different bytes; cutting at fixed rows makes the layout a function of the
    row count. A piece that falls inside one chunk is a zero-copy slice; one that spans chunks is
    concatenated, which copies that piece only.
    """
    if table.num_rows and any(column.num_chunks > 1 for column in table.columns):
        # One dictionary per column across chunks, so every piece shares it (the Arrow file
        # format cannot replace a dictionary between batches).
        table = table.unify_dictionaries()
    # An empty table still yields one (empty) batch: a dictionary, which holds a categorical's
    # categories, is written with a batch only.
    for offset in range(0, max(table.num_rows, 1), PIECE_ROWS):
        piece = (table.slice(offset, PIECE_ROWS) if table.num_rows else table).combine_chunks()
        batches = piece.to_batches()
        if batches:
            yield batches[0]
        else:
            pa = require("arrow", "pyarrow")
            columns = [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in piece.columns]
            yield pa.RecordBatch.from_arrays(columns, schema=piece.schema)


def describe(schema: Any, rows: int) -> dict[str, Any]:
    """The facts metadata() reports for a saved table: kind, rows, columns and their types."""
    metadata = schema.metadata or {}
    tag = json.loads(metadata.get(_KEY, b'{"kind": "pyarrow"}'))
    names = list(schema.names)
    if tag.get("kind") == "pandas" and b"pandas" in metadata:
        # Index levels are stored as columns; a user counts the frame's own columns.
        index = json.loads(metadata[b"pandas"]).get("index_columns", [])
        names = [n for n in names if n not in {i for i in index if isinstance(i, str)}]
    types = {name: str(schema.field(name).type) for name in names[:_SUMMARY_FIELDS]}
    facts: dict[str, Any] = {
        "kind": tag.get("kind", "pyarrow"),
        "rows": rows,
        "columns": len(names),
        "schema": types,
    }
    if len(names) > _SUMMARY_FIELDS:
        facts["schema_omitted"] = len(names) - _SUMMARY_FIELDS
    return facts
