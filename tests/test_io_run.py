"""Data IO through `axl run local` in real processes: detection recorded in the result, object
and path input modes, a declared handler winning, and the same frame giving the same digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import axl, write

WF = """
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

from axl import Workflow, step


class Data(Workflow):
    @step
    def frame(self):
        return pd.DataFrame(
            {
                "a": [1.0, float("nan"), 3.0],
                "c": pd.Categorical(["x", "y", "x"], categories=["y", "x", "z"]),
                "t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
            }
        )

    @step
    def table(self) -> pa.Table:
        return pa.table({"n": [1, 2, 3]})

    @step
    def array(self):
        return np.arange(6.0).reshape(2, 3)

    @step(io_handler="pickle")
    def declared(self) -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    @step
    def as_object(self, df, t, arr) -> dict:
        return {
            "types": [type(v).__name__ for v in (df, t, arr)],
            "nans": int(df["a"].isna().sum()),
            "categories": list(df["c"].cat.categories),
            "tz": str(df["t"].dt.tz),
            "shape": list(arr.shape),
        }

    @step(input_mode="path")
    def as_path(self, df, t) -> dict:
        return {
            "suffixes": [Path(df).suffix, Path(t).suffix],
            "rows": [pq.read_table(df).num_rows, pa.ipc.open_file(str(t)).read_all().num_rows],
        }

    @step(input_mode={"t": "path"})
    def mixed(self, df, t) -> dict:
        return {"df": type(df).__name__, "t": Path(t).suffix}

    def graph(self):
        df, t, arr = self.frame(), self.table(), self.array()
        return self.as_object(df, t, arr), self.as_path(df, t), self.mixed(df, t), self.declared()
"""


def run(root: Path, *extra: str) -> dict[str, Any]:
    r = axl("run", "local", "-m", "wf.py:Data", "--json", *extra, cwd=root)
    assert r.code == 0, r.err
    return json.loads(r.out)["steps"]


def blob(root: Path, out: dict[str, Any]) -> Path:
    return root / ".axl" / "cas" / out["digest"][:2] / out["digest"]


def test_handlers_detected_declared_and_both_input_modes(workspace: Path) -> None:
    write(workspace / "wf.py", WF)
    steps = run(workspace)
    handlers = {
        name: (step["outputs"]["out"]["handler"], step["outputs"]["out"]["extension"])
        for name, step in steps.items()
    }
    assert handlers == {
        "frame": ("parquet", "parquet"),  # detected from the value at run time
        "table": ("arrow", "arrow"),  # pinned by the return annotation
        "array": ("npy", "npy"),
        "declared": ("pickle", "pkl"),  # declared wins over the annotation
        "as_object": ("json", "json"),
        "as_path": ("json", "json"),
        "mixed": ("json", "json"),
    }

    def result(name: str) -> Any:
        return json.loads(blob(workspace, steps[name]["outputs"]["out"]).read_text())

    assert result("as_object") == {
        "types": ["DataFrame", "Table", "ndarray"],
        "nans": 1,
        "categories": ["y", "x", "z"],
        "tz": "Europe/Paris",
        "shape": [2, 3],
    }
    assert result("as_path") == {"suffixes": [".parquet", ".arrow"], "rows": [3, 3]}
    assert result("mixed") == {"df": "DataFrame", "t": ".arrow"}

    # Run again in a new process without the cache: every step reruns and gives the same bytes.
    again = run(workspace, "--no-cache")
    assert {name: step["status"] for name, step in again.items()} == dict.fromkeys(steps, "ran")
    for name, step in steps.items():
        assert again[name]["outputs"]["out"]["digest"] == step["outputs"]["out"]["digest"], name


def test_validate_shows_handlers_pinned_at_ir_time(workspace: Path) -> None:
    write(workspace / "wf.py", WF)
    r = axl("validate", "-m", "wf.py:Data", "--json", cwd=workspace)
    assert r.code == 0, r.err
    nodes = {n["name"]: n["outputs"][0] for n in json.loads(r.out)["nodes"]}
    assert (nodes["table"]["handler"], nodes["table"]["extension"]) == ("arrow", "arrow")
    assert (nodes["declared"]["handler"], nodes["declared"]["extension"]) == ("pickle", "pkl")
    assert (nodes["frame"]["handler"], nodes["frame"]["extension"]) == ("auto", "")
