"""`axl cache stats|verify|gc` on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import axl, write

from axl.cache._admin import parse_size
from axl.errors import UsageError

WF = """
from axl import Workflow, step


class G(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 1000}

    @step
    def blob(self, n: int) -> bytes:
        return bytes(n * 100)

    def graph(self):
        return self.blob(self.params()["n"])
"""


def test_parse_size() -> None:
    assert parse_size("500M") == 500 << 20
    assert parse_size("2GiB") == 2 << 30
    assert parse_size("1.5k") == 1536
    assert parse_size("1000") == 1000
    with pytest.raises(UsageError):
        parse_size("lots")


def _build(ws: Path, n: int) -> None:
    write(ws / "p.yaml", f"n: {n}\n")
    r = axl("run", "local", "-m", "g.py:G", "-p", "p.yaml", "--json", cwd=ws)
    assert r.code == 0, r.err


def test_gc_keeps_the_latest_build_and_drops_old_results(workspace: Path) -> None:
    write(workspace / "g.py", WF)
    for n in (1000, 2000, 3000):
        _build(workspace, n)
    before = json.loads(axl("cache", "stats", "--json", cwd=workspace).out)
    assert before["records"] == 6
    r = axl("cache", "gc", "--max-size", "1", "--json", cwd=workspace)
    assert r.code == 0, r.err
    result = json.loads(r.out)
    assert result["removed_records"] == 4
    # What the latest build needs survives: a rebuild is all cached.
    report = json.loads(
        axl("run", "local", "-m", "g.py:G", "-p", "p.yaml", "--json", cwd=workspace).out
    )
    assert {s["status"] for s in report["steps"].values()} == {"cached"}
    # An older build's results are gone.
    write(workspace / "p.yaml", "n: 1000\n")
    report = json.loads(
        axl("run", "local", "-m", "g.py:G", "-p", "p.yaml", "--json", cwd=workspace).out
    )
    assert report["steps"]["blob"]["status"] == "ran"


def test_gc_rejects_a_bad_size(workspace: Path) -> None:
    r = axl("cache", "gc", "--max-size", "huge", cwd=workspace)
    assert r.code == 2
    assert r.err.startswith("error: 'huge' is not a size")
    assert "Traceback" not in r.err


def test_verify_on_a_clean_store(workspace: Path) -> None:
    write(workspace / "g.py", WF)
    _build(workspace, 10)
    r = axl("cache", "verify", "--json", cwd=workspace)
    data = json.loads(r.out)
    assert data["bad_blobs"] == 0
    assert data["bad_records"] == 0
