"""`axl runs`, `axl show` and `axl logs` after builds that ran, hit the cache and failed.

One workspace, three real builds (module-scoped: each is a fresh `axl` process): the first runs
every step, the second reuses them all, the third (with a params file that makes `check` raise)
fails one step and skips the one after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Result, axl, write

from axl.errors import UsageError

WF = """
import sys

from axl import Workflow, step


class Shop(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 4, "fail": False}

    @step
    def make(self, n: int) -> list:
        print(f"making {n} items")
        print("a warning on stderr", file=sys.stderr)
        return list(range(n))

    @step
    def check(self, items: list, fail: bool) -> int:
        print(f"checking {len(items)} items")
        if fail:
            raise ValueError("the check failed on purpose")
        return len(items)

    @step
    def publish(self, count: int) -> str:
        return f"{count} items"

    @step
    def quiet(self, items: list) -> int:
        return sum(items)

    def graph(self):
        p = self.params()
        items = self.make(p["n"])
        self.quiet(items)
        return self.publish(self.check(items, p["fail"]))
"""

BUILD = """
axl_workflow(name = "shop", workflow = "shop.py:Shop")
"""


class Shop:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / "cache"

    def axl(self, *args: str) -> Result:
        return axl(*args, "--cache-dir", str(self.cache), cwd=self.root)

    def json(self, *args: str) -> object:
        r = self.axl(*args, "--json")
        assert r.code == 0, r.err
        return json.loads(r.out)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    root = tmp_path_factory.mktemp("runs")
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    write(root / "shop.py", WF)
    write(root / "BUILD", BUILD)
    write(root / "fail.yaml", "fail: true\n")
    project = Shop(root)
    builds = [(), (), ("-p", "fail.yaml", "--keep-going")]
    for i, extra in enumerate(builds):
        r = project.axl("run", "local", "-m", "shop.py:Shop", "--json", *extra)
        assert r.code == (1 if i == 2 else 0), r.err
    return project


def test_runs_lists_every_build_newest_first(shop: Shop) -> None:
    runs = shop.json("runs")
    assert isinstance(runs, list)
    assert len(runs) == 3
    assert [r["ok"] for r in runs] == [False, True, True]
    assert [r["steps"] for r in runs] == [
        {"ran": 1, "cached": 2, "failed": 1, "skipped": 1},
        {"cached": 5},
        {"ran": 5},
    ]
    assert all(r["workflow"] == "Shop" for r in runs)
    assert runs[0]["started"] >= runs[1]["started"] >= runs[2]["started"]
    for field in ("run", "hash", "host", "user", "seconds", "finished"):
        assert field in runs[0]


def test_runs_text_and_filters(shop: Shop) -> None:
    r = shop.axl("runs")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["RUN", "WORKFLOW", "STARTED", "TIME", "RESULT", "BACKEND", "STEPS"]
    assert len(lines) == 4
    assert "FAILED" in lines[1]
    assert "5 cached" in lines[2]
    assert "5 ran" in lines[3]
    # The same three by module, by label and by name; none for another workflow.
    for how in (("-m", "shop.py:Shop"), ("//:shop",), ("--workflow", "Shop")):
        runs = shop.json("runs", *how)
        assert isinstance(runs, list)
        assert len(runs) == 3, how
    assert shop.json("runs", "--workflow", "Other") == []
    limited = shop.axl("runs", "--limit", "1")
    assert len(limited.out.splitlines()) == 2
    assert "2 older runs not shown" in limited.err


def test_show_a_run_that_ran(shop: Shop) -> None:
    oldest = shop.json("runs")[-1]["run"]  # type: ignore[index]
    r = shop.axl("show", oldest)
    assert r.code == 0, r.err
    assert f"run       {oldest}" in r.out
    assert "result    ok" in r.out
    steps = [line.split()[:2] for line in r.out.splitlines() if line.startswith("  ")]
    assert steps[0] == ["STEP", "STATUS"]
    # In the workflow's order, not the record's alphabetical one.
    assert steps[1:] == [
        ["params", "ran"],
        ["make", "ran"],
        ["quiet", "ran"],
        ["check", "ran"],
        ["publish", "ran"],
    ]


def test_show_the_cached_run_by_prefix_and_suffix(shop: Shop) -> None:
    cached = shop.json("runs")[1]["run"]  # type: ignore[index]
    data = shop.json("show", cached[:-2])
    assert isinstance(data, dict)
    assert data["run"] == cached
    assert {s["status"] for s in data["steps"].values()} == {"cached"}
    assert all("parts" in s for s in data["steps"].values())
    assert "graph" in data
    by_suffix = shop.json("show", cached.rsplit("-", 1)[1])
    assert isinstance(by_suffix, dict)
    assert by_suffix["run"] == cached


def test_show_the_failed_run(shop: Shop) -> None:
    r = shop.axl("show", "last")
    assert r.code == 0, r.err
    assert "result    FAILED" in r.out
    status = {s[0]: s[1] for s in (line.split() for line in r.out.splitlines()) if len(s) > 1}
    assert status["check"] == "failed"
    assert status["publish"] == "skipped"
    assert "publish: skipped: upstream step 'check' did not succeed" in r.out
    assert "--- check: failed ---" in r.out
    assert "ValueError: the check failed on purpose" in r.out


def test_show_errors(shop: Shop) -> None:
    r = shop.axl("show", "nope")
    assert r.code == 2
    assert r.err.splitlines()[0] == f"error: no run 'nope' in {shop.cache / 'runs'}"
    assert r.err.splitlines()[1].startswith("hint: list them with: axl runs")
    assert "Traceback" not in r.err
    ambiguous = shop.axl("show", "2")  # every run id starts with the year
    assert ambiguous.code == 2
    assert "is ambiguous" in ambiguous.err
    empty = axl("show", "last", "--cache-dir", str(shop.root / "empty"), cwd=shop.root)
    assert empty.code == 2
    assert "no runs are recorded" in empty.err


def test_logs_of_a_step_that_ran_by_label(shop: Shop) -> None:
    oldest = shop.json("runs")[-1]["run"]  # type: ignore[index]
    r = shop.axl("logs", "//:shop", "make", "--run", oldest)
    assert r.code == 0, r.err
    assert "making 4 items" in r.out
    assert "a warning on stderr" in r.out


def test_logs_of_a_cached_step(shop: Shop) -> None:
    cached = shop.json("runs")[1]["run"]  # type: ignore[index]
    r = shop.axl("logs", "-m", "shop.py:Shop", "make", "--run", cached)
    assert r.code == 0, r.err
    assert "making 4 items" in r.out


def test_logs_of_the_failed_step_in_the_last_run(shop: Shop) -> None:
    r = shop.axl("logs", "--workflow", "Shop", "check")
    assert r.code == 0, r.err
    assert "checking 4 items" in r.out


def test_logs_of_a_silent_or_skipped_step(shop: Shop) -> None:
    for step in ("quiet", "publish"):
        r = shop.axl("logs", "//:shop", step)
        assert r.code == 0, r.err
        assert r.out == ""
        assert f"step {step!r} printed nothing in run" in r.err


def test_logs_errors(shop: Shop) -> None:
    r = shop.axl("logs", "//:shop", "mkae")
    assert r.code == 2
    assert "has no step 'mkae'" in r.err
    assert "hint: did you mean 'make'?" in r.err
    r = shop.axl("logs", "make")
    assert r.code == 2
    assert "which workflow's step 'make'?" in r.err
    r = shop.axl("logs", "//:nope", "make")
    assert r.code == 2
    assert r.err.startswith("error: no target")
    assert "nope" in r.err.splitlines()[0]
    r = shop.axl("logs", "//:shop", "make", "-m", "shop.py:Shop")
    assert r.code == 2
    assert "either by label or with -m" in r.err


def test_logs_of_a_step_whose_log_blob_is_gone(shop: Shop, tmp_path: Path) -> None:
    run = shop.json("show", "last")
    assert isinstance(run, dict)
    digest = run["steps"]["check"]["log_digest"]
    blob = shop.cache / "cas" / digest[:2] / digest
    saved = tmp_path / "blob"
    saved.write_bytes(blob.read_bytes())
    blob.chmod(0o644)
    blob.unlink()
    try:
        r = shop.axl("logs", "--workflow", "Shop", "check")
        assert r.code == 2
        assert "are no longer in the cache" in r.err
        assert "--rerun check" in r.err
    finally:
        blob.write_bytes(saved.read_bytes())


# -- the history module behind the commands ------------------------------------------------------


def _record(store_root: Path, workflow: str, run_id: str, started: float) -> None:
    folder = store_root / "runs" / workflow
    folder.mkdir(parents=True, exist_ok=True)
    data = {"run": run_id, "workflow": workflow, "started": started, "steps": {}}
    (folder / f"{run_id}.json").write_text(json.dumps(data))


def test_history_orders_by_start_and_reads_only_what_it_needs(tmp_path: Path) -> None:
    from axl.cache._local import LocalStore
    from axl.exec._history import find_run, last_run, list_runs

    store = LocalStore(tmp_path / "cache")
    # Two runs in one second: their random suffixes sort the wrong way round.
    _record(store.root, "a", "20260101T000000-ffffff", 1.0)
    _record(store.root, "a", "20260101T000005-000000", 5.2)
    _record(store.root, "a", "20260101T000005-ffffff", 5.1)
    _record(store.root, "b", "20260101T000003-abcdef", 3.0)
    (store.root / "runs" / "a" / "20260101T000009-broken.json").write_text("{not json")
    assert [r.id for r in list_runs(store)] == [
        "20260101T000005-000000",
        "20260101T000005-ffffff",
        "20260101T000003-abcdef",
        "20260101T000000-ffffff",
    ]
    assert [r.id for r in list_runs(store, limit=2)] == [
        "20260101T000005-000000",
        "20260101T000005-ffffff",
    ]
    newest = last_run(store, "a")
    assert newest is not None
    assert newest.id == "20260101T000005-000000"
    assert last_run(store, "c") is None
    assert find_run(store, "abcdef").workflow == "b"
    assert find_run(store, "20260101T000000").id == "20260101T000000-ffffff"
    assert find_run(store, "last", "b").id == "20260101T000003-abcdef"
    with pytest.raises(UsageError, match="ambiguous: it matches 2 runs"):
        find_run(store, "ffffff")
    with pytest.raises(UsageError, match="cannot be read"):
        find_run(store, "broken")
