"""examples/movies.py on its shipped CSV, as a user's first workflow: edit one row and exactly the
steps whose inputs changed rerun; `touch` reruns nothing; restoring the file is a full hit."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import REPO, axl

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "SciFi")


def _build(root: Path) -> dict[str, str]:
    r = axl("run", "local", "-m", "examples/movies.py:MovieStats", "--json", cwd=root)
    assert r.code == 0, r.err
    return {k: v["status"] for k, v in json.loads(r.out)["steps"].items()}


def test_one_row_edit_reruns_exactly_the_affected_steps(workspace: Path) -> None:
    shutil.copytree(REPO / "examples" / "data", workspace / "examples" / "data")
    shutil.copy(REPO / "examples" / "movies.py", workspace / "examples" / "movies.py")
    csv = workspace / "examples" / "data" / "movies.csv"
    original = csv.read_bytes()
    assert original.count(b"\n") == 3001  # a header and 3,000 movies
    assert set(_build(workspace).values()) == {"ran"}
    cached = dict.fromkeys(_build(workspace), "cached")
    assert set(cached) == {"params", "load", "by_genre", "report", *(f"stats-{g}" for g in GENRES)}

    # One Drama movie's rating: only the Drama statistics (and what reads them) change.
    lines = original.decode().splitlines(keepends=True)
    row = next(
        i for i, line in enumerate(lines) if ",Drama," in line and int(line.split(",")[4]) > 100
    )
    fields = lines[row].split(",")
    fields[3] = "1.0" if fields[3] != "1.0" else "9.9"
    lines[row] = ",".join(fields)
    csv.write_text("".join(lines))
    assert _build(workspace) == {
        **cached,
        "load": "ran",
        "by_genre": "ran",
        "stats-Drama": "ran",
        "report": "ran",
    }
    r = axl("explain", "-m", "examples/movies.py:MovieStats", "load", cwd=workspace)
    assert "ran because input file examples/data/movies.csv changed" in r.out

    os.utime(csv)
    assert _build(workspace) == cached
    csv.write_bytes(original)
    assert _build(workspace) == cached  # every result for the original bytes is still stored
