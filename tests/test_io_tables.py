"""The parquet and arrow handlers: frames and tables round-trip and always give the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from axl import io
from axl.errors import RunnerError
from axl.hashing import file_digest
from axl.io import _tables

REPO = Path(__file__).resolve().parent.parent
TABLE_HANDLERS = ["parquet", "arrow"]


def rich_frame(rows: int = 6) -> pd.DataFrame:
    """One column of each dtype the handlers promise to keep, in a deliberately unsorted order."""
    i = np.arange(rows)
    return pd.DataFrame(
        {
            "zeta": np.where(i % 3 == 0, np.nan, i * 0.5),
            "int": i.astype("int64"),
            "u8": i.astype("uint8"),
            "nullable": pd.array([None if k % 2 else k for k in i], dtype="Int64"),
            "flag": pd.array([None if k == 1 else bool(k % 2) for k in i], dtype="boolean"),
            "text": [None if k == 2 else f"s{k}" for k in i],
            "obj": np.array([None if k == 2 else f"o{k}" for k in i], dtype=object),
            "pystr": pd.array([None if k == 3 else f"p{k}" for k in i], dtype="string[python]"),
            "cat": pd.Categorical(
                [["lo", "hi"][k % 2] for k in i], categories=["hi", "mid", "lo"], ordered=True
            ),
            "when": pd.date_range("2024-03-30 23:00", periods=rows, freq="h", tz="Europe/Paris"),
            "naive_s": pd.date_range("2024-01-01", periods=rows, freq="D").as_unit("s"),
            "delta": pd.to_timedelta(i, unit="min"),
            "alpha": np.linspace(0, 1, rows, dtype="float32"),
        },
        index=pd.Index([f"r{k}" for k in i], name="row"),
    )


def save_load(handler: str, value: Any, path: Path) -> Any:
    h = io.get(handler)
    h.save(value, path)
    return h.load(path)


def assert_same_frame(got: Any, want: pd.DataFrame) -> None:
    assert type(got) is pd.DataFrame
    pd.testing.assert_frame_equal(
        got,
        want,
        check_dtype=True,
        check_index_type=True,
        check_column_type=True,
        check_categorical=True,
        check_exact=True,
        check_freq=False,  # a DatetimeIndex's freq is derived, not data: not stored
    )
    assert list(got.columns) == list(want.columns)
    assert got.attrs == want.attrs


def frames() -> dict[str, pd.DataFrame]:
    with_attrs = pd.DataFrame({"a": [1.0]})
    with_attrs.attrs = {"source": "s3://bucket/x", "version": 3}
    return {
        "rich": rich_frame(),
        "empty": pd.DataFrame(),
        "empty_with_columns": rich_frame().drop(columns="cat").iloc[:0],
        "empty_with_index": pd.DataFrame(index=pd.Index([1, 2], name="k")),
        "all_nan": pd.DataFrame({"a": [np.nan, np.nan]}),
        "wide_1000": pd.DataFrame(
            np.arange(3000, dtype="float64").reshape(3, 1000),
            columns=[f"c{999 - k}" for k in range(1000)],
        ),
        "int_labels": pd.DataFrame(np.eye(3)),
        "range_index_step": pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(10, 14, 2)),
        "multiindex": pd.DataFrame(
            {"v": [1.0, 2.0]},
            index=pd.MultiIndex.from_tuples([("x", 1), ("y", 2)], names=["l", "n"]),
        ),
        "multi_columns": pd.DataFrame(
            [[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
        ),
        "object_index": pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], dtype=object)),
        "tz_index": pd.DataFrame(
            {"a": [1, 2]}, index=pd.date_range("2024-01-01", periods=2, tz="UTC", name="t")
        ),
        "attrs": with_attrs,
        # Parquet names columns by dotted paths; a dot inside a name must not lose the dictionary.
        "dotted_names": pd.DataFrame(
            {"x.y": pd.Categorical(["a"], categories=["a", "b"]), "f.g": [1.0]}
        ),
    }


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
@pytest.mark.parametrize("case", list(frames()))
def test_frame_roundtrip(handler: str, case: str, tmp_path: Path) -> None:
    df = frames()[case]
    assert_same_frame(save_load(handler, df, tmp_path / f"x.{handler}"), df)


def test_arrow_keeps_categoricals_parquet_cannot(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "ints": pd.Categorical([3, 1, 3], categories=[3, 1, 2], ordered=True),
            "days": pd.Categorical(pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-02"])),
        }
    )
    assert_same_frame(save_load("arrow", df, tmp_path / "x.arrow"), df)
    with pytest.raises(RunnerError, match="Parquet does not keep categories of int64") as info:
        io.get("parquet").save(df, tmp_path / "x.parquet")
    assert "io_handler=" in (info.value.hint or "")
    assert io.detect(df, "pickle").name == "arrow"


def test_empty_categoricals_go_to_arrow(tmp_path: Path) -> None:
    df = rich_frame().iloc[:0]
    assert_same_frame(save_load("arrow", df, tmp_path / "x.arrow"), df)
    with pytest.raises(RunnerError, match="categories of a categorical without rows"):
        io.get("parquet").save(df, tmp_path / "x.parquet")
    assert io.detect(df, "pickle").name == "arrow"


@pytest.mark.parametrize(
    ("df", "reason"),
    [
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "column labels are not unique"),
        (pd.DataFrame({0: [1], "b": [2]}), "neither all str nor all int"),
        (pd.DataFrame({"a": np.array([1, "x"], dtype=object)}), "object column of mixed-integer"),
        (pd.DataFrame({"a": np.array([1, 2], dtype=object)}), "object column of integer"),
        (pd.DataFrame({"a": np.array([1j])}), "complex128 has no Arrow type"),
        (pd.DataFrame({"a": pd.arrays.SparseArray([0, 1])}), "Sparse"),
    ],
    ids=["duplicate", "mixed_labels", "mixed_objects", "int_objects", "complex", "sparse"],
)
@pytest.mark.parametrize("handler", TABLE_HANDLERS)
def test_frames_that_would_not_roundtrip_are_refused(
    handler: str, df: pd.DataFrame, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(RunnerError, match=reason):
        io.get(handler).save(df, tmp_path / "x")
    assert not io.get(handler).accepts(df)
    assert io.detect(df, "pickle").name == "pickle"


def test_unjsonable_attrs_are_refused(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1]})
    df.attrs = {"k": {1, 2}}
    with pytest.raises(RunnerError, match="attrs are not JSON-able"):
        io.get("parquet").save(df, tmp_path / "x")


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
def test_other_values_are_refused(handler: str, tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match=f"the {handler} IO handler cannot save a dict") as info:
        io.get(handler).save({"a": [1]}, tmp_path / "x")
    assert "pandas DataFrames and pyarrow Tables" in (info.value.hint or "")


def rich_table() -> pa.Table:
    return pa.table(
        {
            "f": pa.array([1.5, None, -0.0]),
            "ts": pa.array([0, 1, None], pa.timestamp("s", tz="Asia/Tokyo")),
            "d": pa.array(["x", "y", "x"]).dictionary_encode(),
            "ls": pa.array(["a", None, "c"], pa.large_string()),
            "u32": pa.array([1, 2, 3], pa.uint32()),
            "nested": pa.array([[1], [], None], pa.list_(pa.int16())),
            "struct": pa.StructArray.from_arrays(
                [pa.array([1, None, 3], pa.int8())],
                names=["a"],
                mask=pa.array([False, True, False]),
            ),
            "dec": pa.array([1, 2, 3], pa.decimal128(10, 2)),
            "date": pa.array([0, 1, 2], pa.date32()),
        },
        metadata={"owner": "team-x"},
    )


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
@pytest.mark.parametrize("empty", [False, True])
def test_table_roundtrip_keeps_types_and_metadata(
    handler: str, empty: bool, tmp_path: Path
) -> None:
    table = rich_table().slice(0, 0) if empty else rich_table()
    got = save_load(handler, table, tmp_path / f"x.{handler}")
    assert type(got) is pa.Table
    assert got.schema.equals(table.schema, check_metadata=True), got.schema
    assert got.equals(table)


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
def test_table_from_pandas_loads_as_table(handler: str, tmp_path: Path) -> None:
    table = pa.Table.from_pandas(rich_frame())
    got = save_load(handler, table, tmp_path / f"x.{handler}")
    assert type(got) is pa.Table
    assert got.equals(table)
    assert got.schema.metadata == table.schema.metadata


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
def test_same_frame_twice_gives_same_bytes(handler: str, tmp_path: Path) -> None:
    h = io.get(handler)
    h.save(rich_frame(), tmp_path / "a")
    h.save(rich_frame(), tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
def test_many_pieces_with_shared_dictionaries(
    handler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tables, "PIECE_ROWS", 8)
    df = rich_frame(rows=53)
    got = save_load(handler, df, tmp_path / "x")
    assert_same_frame(got, df)
    meta = io.get(handler).metadata(tmp_path / "x")
    assert meta[{"parquet": "row_groups", "arrow": "record_batches"}[handler]] == 7
    # A table chunked differently in memory, with different dictionaries per chunk.
    chunks = [
        pa.array(["x", "y"] * 9).dictionary_encode(),
        pa.array(["z", "x"] * 9).dictionary_encode(),
    ]
    table = pa.table({"d": pa.chunked_array(chunks), "n": pa.chunked_array([list(range(36))])})
    got = save_load(handler, table, tmp_path / "t")
    assert got.to_pylist() == table.to_pylist()


def test_parquet_bytes_do_not_depend_on_chunking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tables, "PIECE_ROWS", 16)
    values = pa.array([None if k % 3 == 0 else f"s{k % 7}" for k in range(50)])
    one = pa.table({"s": values})
    many = pa.table({"s": pa.chunked_array([values[:5], values[5:23], values[23:]])})
    h = io.get("parquet")
    h.save(one, tmp_path / "one")
    h.save(many, tmp_path / "many")
    assert file_digest(tmp_path / "one") == file_digest(tmp_path / "many")


DIGEST_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from test_io_tables import rich_frame
    from axl import io
    from axl.hashing import file_digest
    out = {}
    for name in ("parquet", "arrow"):
        path = Path(sys.argv[2]) / f"{sys.argv[3]}.{name}"
        io.get(name).save(rich_frame(50), path)
        out[name] = file_digest(path)
    print(json.dumps(out))
    """
)


def test_same_frame_in_two_processes_gives_same_digest(tmp_path: Path) -> None:
    digests = []
    for run in ("first", "second"):
        proc = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT, str(REPO / "tests"), str(tmp_path), run],
            capture_output=True,
            text=True,
            check=True,
            # A different hash seed per process: set and dict order must not leak into the bytes.
            env={**os.environ, "PYTHONHASHSEED": {"first": "1", "second": "2"}[run]},
        )
        digests.append(json.loads(proc.stdout))
    assert digests[0] == digests[1]
    for name in TABLE_HANDLERS:
        io.get(name).save(rich_frame(50), tmp_path / f"here.{name}")
        assert file_digest(tmp_path / f"here.{name}") == digests[0][name]


@pytest.mark.parametrize("handler", TABLE_HANDLERS)
def test_metadata_describes_the_frame(handler: str, tmp_path: Path) -> None:
    h = io.get(handler)
    h.save(rich_frame(), tmp_path / "x")
    meta = h.metadata(tmp_path / "x")
    assert meta["kind"] == "pandas"
    assert meta["rows"] == 6
    assert meta["columns"] == 13  # the index is not counted as a column
    assert meta["schema"]["when"] == str(
        pa.Table.from_pandas(rich_frame()).schema.field("when").type
    )
    assert meta["schema"]["when"].endswith("tz=Europe/Paris]")
    assert "row" not in meta["schema"]
    h.save(frames()["wide_1000"], tmp_path / "w")
    wide = h.metadata(tmp_path / "w")
    assert (wide["columns"], len(wide["schema"]), wide["schema_omitted"]) == (1000, 50, 950)
    h.save(rich_table(), tmp_path / "t")
    assert h.metadata(tmp_path / "t")["kind"] == "pyarrow"


def test_loaded_frames_are_writable(tmp_path: Path) -> None:
    for handler in TABLE_HANDLERS:
        df = save_load(handler, pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), tmp_path / "x")
        df.iloc[0, 0] = 9.0
        df["b"] *= 2
        assert df.to_dict("list") == {"a": [9.0, 2.0], "b": [6.0, 8.0]}


def numeric_frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    with_attrs = pd.DataFrame({"a": [1.0]})
    with_attrs.attrs = {"k": [1, 2]}
    return {
        "floats": pd.DataFrame(rng.random((100, 3)), columns=["a", "b", "c"]),
        "nans": pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": np.array([np.nan] * 3, "float32")}),
        "mixed": pd.DataFrame(
            {
                "i": np.arange(4, dtype="int32"),
                "u": np.arange(4, dtype="uint64"),
                "b": [True, False, True, True],
                "h": np.arange(4, dtype="float16"),
                "t": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04"]),
                "d": pd.to_timedelta([1, None, 3, 4], unit="s"),
            }
        ),
        "no_rows": pd.DataFrame({"a": np.array([], "float64")}),
        "range_step": pd.DataFrame({"a": [1.5, 2.5]}, index=pd.RangeIndex(10, 14, 2, name="r")),
        "int_labels": pd.DataFrame(np.eye(2)),
        "attrs": with_attrs,
        "strided": pd.DataFrame(rng.random((50, 2))),  # columns are strided views of a C array
    }


@pytest.mark.parametrize("case", list(numeric_frames()))
def test_numeric_fast_path_equals_from_pandas(case: str, tmp_path: Path) -> None:
    df = numeric_frames()[case]
    fast = _tables.numeric_table(df, pa)
    assert fast is not None
    slow = pa.Table.from_pandas(df, preserve_index=None)
    assert fast.schema.metadata == slow.schema.metadata
    assert fast.schema.equals(slow.schema)
    assert fast.equals(slow)
    for handler in TABLE_HANDLERS:
        assert_same_frame(save_load(handler, df, tmp_path / handler), df)


def test_numeric_fast_path_leaves_other_frames_to_pyarrow() -> None:
    assert _tables.numeric_table(pd.DataFrame({"a": [1.0]}, index=[5]), pa) is None
    assert _tables.numeric_table(pd.DataFrame(index=pd.RangeIndex(3)), pa) is None
    assert _tables.numeric_table(pd.DataFrame({"a": ["x"]}), pa) is None
    assert _tables.numeric_table(pd.DataFrame({"a": pd.array([1], dtype="Int64")}), pa) is None
