"""Fast null builds: a warm ``axl build`` reuses the cached load and imports nothing of the
user's; any change to a file the load read (workflow, project modules, params, BUILD) reloads,
and touching a file without changing its bytes does not."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from axl.graph import _loadcache
from axl.graph._loadcache import StatCache
from tests.conftest import REPO, axl, write

# The module logs each import of itself: the tests count imports without reaching into axl.
WORKFLOW = """
from pathlib import Path

from pkg.settings import WIDTH

with Path(__file__).with_name("imports.log").open("a") as _log:
    _log.write("imported\\n")


class Fan(Workflow):
    @step
    def params(self) -> dict:
        return {"scale": 2}

    @step
    def part(self, i: int, scale: int) -> int:
        return i * scale

    @step(io_handler="json")
    def total(self, parts: list) -> int:
        return sum(parts)

    def graph(self):
        p = self.params()
        return self.total([self.part(i, p["scale"]) for i in range(WIDTH)])
"""


@pytest.fixture
def ws(workspace: Path) -> Path:
    write(workspace / "pkg" / "wf.py", "from axl import Workflow, step\n" + WORKFLOW)
    # Used only by graph(), never by a step: it feeds the IR, not any step's code key.
    write(workspace / "pkg" / "settings.py", "WIDTH = 3\n")
    write(workspace / "pkg" / "p.yaml", "scale: 10\n")
    write(
        workspace / "pkg" / "BUILD",
        'axl_workflow(name = "fan", workflow = "wf.py:Fan", params = "p.yaml")\n',
    )
    return workspace


def build(ws: Path, *extra: str) -> tuple[str, dict]:
    """Build //pkg:fan; return the load line's reason and the JSON report."""
    human = axl("build", "//pkg:fan", "-j", "1", *extra)
    assert human.code == 0, human.out + human.err
    load = re.search(r"//pkg:fan  \(load: (.*)\)", human.out)
    assert load is not None, human.out
    report = json.loads(axl("build", "//pkg:fan", "--json").out)
    return load.group(1), report


def imports(ws: Path) -> int:
    log = ws / "pkg" / "imports.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def statuses(report: dict) -> dict[str, str]:
    return {name: step["status"] for name, step in report["steps"].items()}


def total(report: dict) -> int:
    return int(json.loads(Path(report["steps"]["total"]["outputs"]["out"]["path"]).read_text()))


def touch(path: Path) -> None:
    later = time.time() + 5
    os.utime(path, (later, later))


def test_warm_build_imports_nothing_and_reuses_everything(ws: Path) -> None:
    load, report = build(ws)
    assert load == "no earlier load"
    assert total(report) == 30
    assert imports(ws) == 1  # the --json build after it was warm already
    load, report = build(ws)
    assert load == "cached"
    assert set(statuses(report).values()) == {"cached"}
    assert imports(ws) == 1


def test_touching_files_does_not_reload(ws: Path) -> None:
    build(ws)
    for name in ("wf.py", "settings.py", "p.yaml", "BUILD"):
        touch(ws / "pkg" / name)
    touch(ws / "uv.lock")
    load, report = build(ws)
    assert load == "cached"
    assert set(statuses(report).values()) == {"cached"}
    assert imports(ws) == 1


def test_editing_the_workflow_reloads(ws: Path) -> None:
    build(ws)
    wf = ws / "pkg" / "wf.py"
    wf.write_text(wf.read_text().replace("return sum(parts)", "return sum(parts) + 1"))
    load, report = build(ws)
    assert load == "pkg/wf.py changed"
    assert statuses(report)["total"] == "cached"  # the --json run after the reload
    assert total(report) == 31
    assert imports(ws) == 2


def test_editing_the_params_file_reloads(ws: Path) -> None:
    build(ws)
    (ws / "pkg" / "p.yaml").write_text("scale: 100\n")
    load, report = build(ws)
    assert load == "pkg/p.yaml changed"
    assert total(report) == 300


def test_editing_the_build_file_reloads(ws: Path) -> None:
    build(ws)
    with (ws / "pkg" / "BUILD").open("a") as f:
        f.write('axl_workflow(name = "other", workflow = "wf.py:Fan")\n')
    load, report = build(ws)
    assert load == "pkg/BUILD changed"
    assert set(statuses(report).values()) == {"cached"}
    assert imports(ws) == 2


def test_editing_a_module_used_only_by_graph_reloads(ws: Path) -> None:
    build(ws)
    (ws / "pkg" / "settings.py").write_text("WIDTH = 4\n")
    load, report = build(ws)
    assert load == "pkg/settings.py changed"
    assert len(report["steps"]) == 6  # params, 4 parts, total
    assert total(report) == 60


def test_a_step_that_must_run_imports_the_module_from_a_cached_load(ws: Path) -> None:
    build(ws)
    res = axl("build", "//pkg:fan", "--rerun", "total", "-j", "2")
    assert res.code == 0, res.err
    assert "(load: cached)" in res.out
    assert re.search(r"ran\s+total", res.out)
    assert imports(ws) == 2


def test_no_cache_loads_again(ws: Path) -> None:
    build(ws)
    load, _ = build(ws, "--no-cache")
    assert load == "--no-cache was given"


def test_stat_cache_trusts_unchanged_stats_and_rehashes_changed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "a.py"
    src.write_text("x = 1\n")
    old = time.time() - 60
    os.utime(src, (old, old))
    # ctime cannot be set back; make the racy window cover nothing for this test.
    monkeypatch.setattr(_loadcache, "RACY_SECONDS", -1e9)
    stats = StatCache(tmp_path / "stat.json")
    first = stats.digest(str(src))
    stats.save()
    hashed: list[str] = []
    real = _loadcache.file_digest

    def counting(path: str) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(_loadcache, "file_digest", counting)
    again = StatCache(tmp_path / "stat.json")
    assert again.digest(str(src)) == first
    assert hashed == []  # unchanged stat: not read at all
    touch(src)
    assert again.digest(str(src)) == first  # same bytes, new mtime: re-hashed, same digest
    assert len(hashed) == 1
    src.write_text("x = 2\n")  # same size; mtime set back below: ctime still moves
    os.utime(src, (old, old))
    assert again.digest(str(src)) != first
    assert again.digest(str(tmp_path / "missing.py")) is None


def test_recent_files_are_not_trusted_by_stat(tmp_path: Path) -> None:
    src = tmp_path / "a.py"
    src.write_text("x = 1\n")
    stats = StatCache(tmp_path / "stat.json")
    stats.digest(str(src))
    stats.save()
    # Written just now: its mtime could repeat after another edit in the same clock tick.
    assert not (tmp_path / "stat.json").exists()


def test_warm_churn_build_imports_neither_pandas_nor_sklearn(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    cold = axl("build", "//examples:churn", "--cache-dir", cache, cwd=REPO)
    assert cold.code == 0, cold.out + cold.err
    argv = [sys.executable, "-X", "importtime", "-m", "axl", "build", "//examples:churn"]
    warm = subprocess.run(
        [*argv, "--cache-dir", cache], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "//examples:churn  (load: cached)" in warm.stdout
    assert "(6 cached)" in warm.stdout
    imported = {line.split("|")[-1].strip() for line in warm.stderr.splitlines() if "|" in line}
    assert "axl.exec._targets" in imported  # importtime did report
    heavy = {m for m in imported if m.split(".")[0] in {"pandas", "sklearn", "numpy", "typer"}}
    assert heavy == set()
    assert "examples.churn_workflow" not in imported
