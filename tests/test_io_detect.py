"""Automatic detection: by value type at run time, by return annotation at IR time; lazy imports."""

from __future__ import annotations

import enum
import json
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pytest

from axl import Workflow, io, step
from axl.io import _base
from axl.io._builtin import JSON_MAX_NODES
from axl.ir import IROutput, build_ir


class Color(str, enum.Enum):
    RED = "red"


class MyFrame(pd.DataFrame):
    pass


DETECTION_TABLE: list[tuple[str, Any, str]] = [
    ("frame", pd.DataFrame({"a": [1.0, np.nan]}), "parquet"),
    ("frame_int_categories", pd.DataFrame({"c": pd.Categorical([1, 2])}), "arrow"),
    ("frame_mixed_objects", pd.DataFrame({"a": np.array([1, "x"], dtype=object)}), "pickle"),
    ("frame_subclass", MyFrame({"a": [1]}), "pickle"),
    ("series", pd.Series([1.0]), "pickle"),
    ("table", pa.table({"a": [1]}), "arrow"),
    ("record_batch", pa.record_batch({"a": [1]}), "pickle"),
    ("ndarray", np.zeros((2, 2)), "npy"),
    ("ndarray_of_objects", np.array([{}], dtype=object), "pickle"),
    ("masked_array", np.ma.masked_array([1, 2]), "pickle"),
    ("numpy_scalar", np.float64(1.5), "pickle"),
    ("bytes", b"\x00\x01", "bytes"),
    ("bytearray", bytearray(b"x"), "pickle"),
    ("str", "hello", "text"),
    ("str_with_lone_surrogate", "\ud800", "pickle"),
    ("str_enum", Color.RED, "pickle"),
    ("dict", {"acc": 0.9, "tags": ["a"], "n": None}, "json"),
    ("list", [1, 2.5, "x", True], "json"),
    ("int", 3, "json"),
    ("float", 0.5, "json"),
    ("bool", True, "json"),
    ("none", None, "json"),
    ("nan", float("nan"), "pickle"),
    ("dict_with_inf", {"x": float("inf")}, "pickle"),
    ("dict_with_int_keys", {1: "a"}, "pickle"),
    ("ordered_dict", OrderedDict(a=1), "pickle"),
    ("tuple", (1, 2), "pickle"),
    ("list_with_tuple", [(1, 2)], "pickle"),
    ("set", {1}, "pickle"),
    ("dict_with_numpy_float", {"x": np.float64(1.0)}, "pickle"),
    ("huge_list", list(range(JSON_MAX_NODES)), "pickle"),
    ("object", object(), "pickle"),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(v, e) for _, v, e in DETECTION_TABLE],
    ids=[name for name, _, _ in DETECTION_TABLE],
)
def test_detection_table(value: Any, expected: str) -> None:
    assert io.detect(value, "pickle").name == expected
    # Deterministic: asking again gives the same answer.
    assert io.detect(value, "pickle").name == expected


def test_undetected_values_get_the_workflow_default() -> None:
    assert io.detect((1, 2), "cloudpickle").name == "cloudpickle"
    assert io.detect({"a": 1}, "cloudpickle").name == "json"


def test_detection_order_is_the_documented_one() -> None:
    order = ["parquet", "arrow", "npy", "bytes", "text", "json"]
    assert io.detection_order() == order
    docs = (Path(__file__).resolve().parent.parent / "docs" / "io.md").read_text()
    assert " -> ".join(order) in docs
    assert all(f"{i}. ``{name}``" in _base.__doc__ for i, name in enumerate(order, 1))  # type: ignore[operator]


def test_json_cap_is_on_nodes_not_depth() -> None:
    assert io.detect(list(range(JSON_MAX_NODES - 1)), "pickle").name == "json"
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert io.detect(deep, "pickle").name == "json"


def test_register_ranks_and_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    io.names()
    monkeypatch.setattr(_base, "_REGISTRY", dict(_base._REGISTRY))
    monkeypatch.setattr(_base, "_DETECTION", list(_base._DETECTION))
    monkeypatch.setattr(_base, "_ANNOTATIONS", dict(_base._ANNOTATIONS))

    class Ints:
        name = "ints"
        extension = "ints"

        def save(self, value: Any, path: Path) -> None:
            path.write_text(str(value))

        def load(self, path: Path) -> Any:
            return int(path.read_text())

        def accepts(self, value: Any) -> bool:
            return type(value) is int

        def metadata(self, path: Path) -> dict[str, Any]:
            return {}

    io.register(Ints(), detect_rank=35, annotations=("int", "builtins.int"))
    assert io.detection_order() == ["parquet", "arrow", "npy", "ints", "bytes", "text", "json"]
    assert io.detect(3, "pickle").name == "ints"
    assert io.detect_annotation(int) == "ints"
    # Registering again under the same name moves it rather than listing it twice.
    io.register(Ints(), detect_rank=99)
    assert io.detection_order()[-1] == "ints"
    assert io.detection_order().count("ints") == 1


ANNOTATIONS: list[tuple[Any, str | None]] = [
    (pd.DataFrame, "parquet"),
    ("pd.DataFrame", "parquet"),
    ("pandas.DataFrame", "parquet"),
    ("DataFrame", "parquet"),
    ("'pd.DataFrame'", "parquet"),
    (pa.Table, "arrow"),
    ("pa.Table", "arrow"),
    ("pyarrow.Table", "arrow"),
    (np.ndarray, "npy"),
    ("np.ndarray", "npy"),
    (npt.NDArray[np.float64], "npy"),
    ("npt.NDArray[np.float64]", "npy"),
    (bytes, "bytes"),
    ("bytes", "bytes"),
    (str, "text"),
    ("str", "text"),
    (dict, None),
    ("dict[str, float]", None),
    ("pd.DataFrame | None", None),
    (Optional[pd.DataFrame], None),  # noqa: UP045 - the typing spelling is what is under test
    ("tuple[pd.DataFrame, pd.DataFrame]", None),
    (int, None),
    (None, None),
    ("", None),
]


@pytest.mark.parametrize(
    ("annotation", "expected"), ANNOTATIONS, ids=[str(a) for a, _ in ANNOTATIONS]
)
def test_annotation_detection(annotation: Any, expected: str | None) -> None:
    assert io.detect_annotation(annotation) == expected


class Typed(Workflow):
    @step
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    @step
    def table(self) -> pa.Table:
        return pa.table({"a": [1]})

    @step
    def array(self) -> npt.NDArray[np.float64]:
        return np.zeros(3)

    @step
    def blob(self) -> bytes:
        return b""

    @step
    def report(self) -> str:
        return ""

    @step(io_handler="pickle")
    def declared(self) -> pd.DataFrame:
        return pd.DataFrame()

    @step
    def metrics(self) -> dict[str, float]:
        return {}

    def graph(self) -> Any:
        return (
            self.frame(),
            self.table(),
            self.array(),
            self.blob(),
            self.report(),
            self.declared(),
            self.metrics(),
        )


def test_return_annotations_pin_handlers_in_the_ir() -> None:
    # This module uses `from __future__ import annotations`: the IR sees the annotations as text.
    ir = build_ir(Typed)
    outputs = {node.name: node.outputs for node in ir.nodes}
    assert outputs == {
        "frame": (IROutput("out", "parquet", "parquet"),),
        "table": (IROutput("out", "arrow", "arrow"),),
        "array": (IROutput("out", "npy", "npy"),),
        "blob": (IROutput("out", "bytes", "bin"),),
        "report": (IROutput("out", "text", "txt"),),
        # A declared handler always wins over the annotation.
        "declared": (IROutput("out", "pickle", "pkl"),),
        # dict values are JSON-able or not by content: decided at run time.
        "metrics": (IROutput("out", "auto", ""),),
    }


LAZY = """
import json, sys
import axl, axl.io
axl.io.names()
axl.io.detection_order()
for value in ({"a": [1, 2.5]}, "text", b"bytes", (1, 2), None, object()):
    axl.io.detect(value, "pickle")
for annotation in ("pd.DataFrame", "pa.Table", "np.ndarray", "bytes", dict):
    axl.io.detect_annotation(annotation)
for name in axl.io.names():
    axl.io.get(name).extension
heavy = ("pandas", "pyarrow", "numpy")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_axl_io_never_imports_heavy_libraries_for_plain_values() -> None:
    proc = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []


THREADS = """
import threading
from axl import io
errors = []
start = threading.Barrier(8)
def ask():
    start.wait()
    try:
        assert io.get("arrow").extension == "arrow"
        assert io.detect("x", "pickle").name == "text"
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors)
"""


def test_first_use_from_many_threads_sees_every_handler() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", THREADS], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"
