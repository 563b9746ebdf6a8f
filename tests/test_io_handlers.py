"""The plain handlers: json, text, bytes, npy, pickle. Round trips, refusals, metadata, bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from axl import io
from axl.errors import RunnerError
from axl.hashing import file_digest


def roundtrip(handler: str, value: Any, tmp_path: Path) -> Any:
    h = io.get(handler)
    path = tmp_path / f"out.{h.extension}"
    h.save(value, path)
    return h.load(path)


# -- json ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"acc": 0.93, "n": 10, "ok": True, "none": None, "tags": ["a", "é"], "nested": {"x": [1]}},
        [1, 2.5, "three", [], {}],
        {},
        [],
        0.1,
        -0.0,
        10**30,
        None,
        False,
    ],
)
def test_json_roundtrip(value: Any, tmp_path: Path) -> None:
    back = roundtrip("json", value, tmp_path)
    assert back == value
    assert type(back) is type(value)


def test_json_bytes_are_canonical(tmp_path: Path) -> None:
    h = io.get("json")
    h.save({"b": 1, "a": [1, 2]}, tmp_path / "one.json")
    h.save({"a": [1, 2], "b": 1}, tmp_path / "two.json")
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert (
        tmp_path / "one.json"
    ).read_bytes() == b'{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


def test_json_refuses_nan_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="json IO handler cannot save a dict") as info:
        io.get("json").save({"loss": float("nan")}, tmp_path / "x.json")
    assert "io_handler='pickle'" in (info.value.hint or "")
    assert not (tmp_path / "x.json").exists()


def test_json_metadata(tmp_path: Path) -> None:
    h = io.get("json")
    h.save({"a": 1, "b": 2}, tmp_path / "x.json")
    assert h.metadata(tmp_path / "x.json") == {"type": "object", "length": 2}


# -- text and bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "hello", "a\r\nb\rc\n", "naïve ☃ 𝄞", "no newline at end"])
def test_text_roundtrip_is_exact(value: str, tmp_path: Path) -> None:
    assert roundtrip("text", value, tmp_path) == value
    assert (tmp_path / "out.txt").read_bytes() == value.encode()


def test_text_metadata_counts_lines(tmp_path: Path) -> None:
    h = io.get("text")
    for text, lines in [("", 0), ("a", 1), ("a\n", 1), ("a\nb", 2), ("a\nb\n", 2)]:
        h.save(text, tmp_path / "t.txt")
        assert h.metadata(tmp_path / "t.txt") == {"lines": lines}, text


def test_text_refuses_non_str_and_lone_surrogates(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="text IO handler cannot save a bytes"):
        io.get("text").save(b"x", tmp_path / "t.txt")
    with pytest.raises(RunnerError, match="surrogates not allowed"):
        io.get("text").save("\ud800", tmp_path / "t.txt")


def test_bytes_roundtrip(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    assert roundtrip("bytes", data, tmp_path) == data
    # Declared, any bytes-like value saves; it loads back as bytes.
    assert roundtrip("bytes", bytearray(b"abc"), tmp_path) == b"abc"
    assert roundtrip("bytes", np.arange(3, dtype="<u2"), tmp_path) == b"\x00\x00\x01\x00\x02\x00"
    assert roundtrip("bytes", memoryview(b"abcdef")[::2], tmp_path) == b"ace"
    with pytest.raises(RunnerError, match="bytes IO handler cannot save a int"):
        io.get("bytes").save(3, tmp_path / "x.bin")


# -- npy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="float64").reshape(3, 4),
        np.array([np.nan, np.inf, -0.0]),
        np.arange(12, dtype="int8").reshape(3, 4).T,  # Fortran order round-trips
        np.array([True, False]),
        np.array(["a", "é"]),
        np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"),
        np.zeros((0, 5)),
        np.array(3.5),
        np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8")]),
    ],
    ids=["2d", "nan", "fortran", "bool", "unicode", "datetime", "empty", "0d", "structured"],
)
def test_npy_roundtrip(array: np.ndarray, tmp_path: Path) -> None:
    back = roundtrip("npy", array, tmp_path)
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    assert np.isfortran(back) == np.isfortran(array)
    np.testing.assert_array_equal(back, array)
    meta = io.get("npy").metadata(tmp_path / "out.npy")
    assert meta == {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "fortran_order": bool(np.isfortran(array)),
    }


def test_npy_refuses_objects_and_masked_arrays(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="dtype object holds objects"):
        io.get("npy").save(np.array([{}, 1], dtype=object), tmp_path / "x.npy")
    with pytest.raises(RunnerError, match="npy IO handler cannot save a numpy.ma"):
        io.get("npy").save(np.ma.masked_array([1, 2], mask=[0, 1]), tmp_path / "x.npy")
    with pytest.raises(RunnerError, match="cannot save a list"):
        io.get("npy").save([1, 2], tmp_path / "x.npy")


def test_npy_never_unpickles(tmp_path: Path) -> None:
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        io.get("npy").load(path)


def test_npy_bytes_are_stable(tmp_path: Path) -> None:
    h = io.get("npy")
    h.save(np.arange(10.0), tmp_path / "a.npy")
    h.save(np.arange(10.0), tmp_path / "b.npy")
    assert file_digest(tmp_path / "a.npy") == file_digest(tmp_path / "b.npy")


# -- pickle ---------------------------------------------------------------------------------------


def test_pickle_and_cloudpickle_roundtrip(tmp_path: Path) -> None:
    assert roundtrip("pickle", {"a": (1, {2})}, tmp_path) == {"a": (1, {2})}
    double = roundtrip("cloudpickle", lambda x: 2 * x, tmp_path)
    assert double(4) == 8
