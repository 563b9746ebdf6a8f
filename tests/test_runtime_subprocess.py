"""``axl run local --subprocess``: every step through ``python -m axl.runtime``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import axl, write
from runtime_helpers import write_flow

EXTRA = """
import os
import signal
from pathlib import Path

from axl import Workflow, step


class Flaky(Workflow):
    @step(retries=1)
    def once(self) -> int:
        marker = Path("tried")
        if not marker.exists():
            marker.write_text("1")
            raise RuntimeError("first attempt fails")
        return 7

    def graph(self):
        return self.once()


class Crash(Workflow):
    @step
    def die(self) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    def graph(self):
        return self.die()
"""


def _run(*args: str, cwd: Path) -> tuple[int, dict[str, Any], str]:
    result = axl("run", "local", *args, "--json", cwd=cwd)
    data = json.loads(result.out) if result.out.strip().startswith("{") else {}
    return result.code, data, result.err


def _digests(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {out: rec["digest"] for out, rec in step["outputs"].items()}
        for name, step in report["steps"].items()
    }


def test_subprocess_mode_matches_in_process(workspace: Path) -> None:
    write_flow(workspace)
    code, sub, err = _run("-m", "flow.py:Flow", "--subprocess", "--cache-dir", "c1", cwd=workspace)
    assert code == 0, err
    assert {s["status"] for s in sub["steps"].values()} == {"ran"}
    code, local, err = _run(
        "-m", "flow.py:Flow", "--in-process", "--cache-dir", "c2", cwd=workspace
    )
    assert code == 0, err
    assert _digests(sub) == _digests(local)
    assert {n: s["key"] for n, s in sub["steps"].items()} == {
        n: s["key"] for n, s in local["steps"].items()
    }
    # The step's prints were captured as its log blob, in the local cache.
    digest = sub["steps"]["make"]["log_digest"]
    log = (workspace / "c1" / "cas" / digest[:2] / digest).read_text()
    assert "making 4 values" in log
    # Results went into the action cache: a second build reuses every step.
    code, again, err = _run(
        "-m", "flow.py:Flow", "--subprocess", "--cache-dir", "c1", cwd=workspace
    )
    assert code == 0, err
    assert {s["status"] for s in again["steps"].values()} == {"cached"}


def test_subprocess_mode_reports_a_failing_step(workspace: Path) -> None:
    write_flow(workspace)
    code, report, _ = _run("-m", "flow.py:Broken", "--subprocess", cwd=workspace)
    assert code == 1
    boom = report["steps"]["boom"]
    assert boom["status"] == "failed"
    assert "boom: the data is bad" in boom["error"]
    assert "raise ValueError" in boom["traceback"]


def test_subprocess_mode_retries_and_isolates_crashes(workspace: Path) -> None:
    write(workspace / "extra.py", EXTRA)
    code, report, err = _run("-m", "extra.py:Flaky", "--subprocess", "-j", "1", cwd=workspace)
    assert code == 0, err
    assert report["steps"]["once"]["status"] == "ran"
    assert report["steps"]["once"]["attempts"] == 2
    code, report, _ = _run("-m", "extra.py:Crash", "--subprocess", "-j", "1", cwd=workspace)
    assert code == 1  # the build failed; axl itself did not die with the step
    die = report["steps"]["die"]
    assert die["status"] == "error"
    assert "killed by signal 9" in die["error"]


def test_subprocess_and_in_process_contradict(workspace: Path) -> None:
    write_flow(workspace)
    result = axl(
        "run", "local", "-m", "flow.py:Flow", "--subprocess", "--in-process", cwd=workspace
    )
    assert result.code == 2
    assert result.err.startswith("error: --subprocess and --in-process contradict each other")
    assert "Traceback" not in result.err
