"""The runner's structured logs: one JSON object per line on stderr, nothing else there."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from conftest import write
from runtime_helpers import emit, forget_modules, runner, save

from axl.runtime._logs import JsonLog

NOISY = """
import os
import subprocess
import sys

from axl import Workflow, step


class Noisy(Workflow):
    @step
    def talk(self) -> int:
        print("plain print")
        print("python stderr", file=sys.stderr)
        os.write(2, b"raw fd 2\\n")
        subprocess.run(["sh", "-c", "echo child stderr >&2; echo child stdout"], check=True)
        return 1

    def graph(self):
        return self.talk()
"""


def test_lines_are_json_with_the_fixed_fields() -> None:
    stream = io.StringIO()
    log = JsonLog(stream)
    log.note("start", store=None)
    log.bind(workflow="wf", step="s")
    with log.timed("load", module="m") as extra:
        extra["files"] = 2
    with pytest.raises(ValueError, match="bad"), log.timed("run"):
        raise ValueError("bad")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["level"], x["event"]) for x in lines] == [
        ("info", "start"),
        ("info", "load"),
        ("error", "run"),
    ]
    assert lines[0]["workflow"] is None
    assert lines[0]["step"] is None
    assert lines[1]["workflow"] == "wf"
    assert lines[1]["step"] == "s"
    assert lines[1]["module"] == "m"
    assert lines[1]["files"] == 2
    assert lines[1]["duration"] >= 0
    assert lines[2]["exception"]["type"] == "ValueError"
    assert lines[2]["exception"]["message"] == "bad"
    assert "raise ValueError" in lines[2]["exception"]["traceback"]
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", line["time"])
        assert list(line)[:5] == ["time", "level", "workflow", "step", "event"]


def test_values_that_are_not_json_are_written_as_text() -> None:
    stream = io.StringIO()
    JsonLog(stream).note("x", path=Path("/a/b"))
    assert json.loads(stream.getvalue())["path"] == "/a/b"


def test_everything_but_the_log_lines_goes_to_stdout(workspace: Path) -> None:
    forget_modules()
    write(workspace / "noisy.py", NOISY)
    manifest, _ = emit("noisy.py:Noisy", workspace)
    path = save(workspace / "m.json", manifest)
    run = runner("--manifest", path, "--step", "talk", "--outputs", workspace / "o", cwd=workspace)
    assert run.code == 0, run.err  # runner() also checks that every stderr line is JSON
    for text in ("plain print", "python stderr", "raw fd 2", "child stderr", "child stdout"):
        assert text in run.out
        assert text not in run.err
    events = [line["event"] for line in run.logs]
    assert events[0] == "start"
    assert events[-1] == "done"
    assert {"loaded", "run", "ran", "output"} <= set(events)
    assert all(line["workflow"] == "Noisy" and line["step"] == "talk" for line in run.logs)
