"""One history for every front door: runs of a compiled Dagster job (`execute_in_process`, and
Dagster's multiprocess executor) are in axl's run history beside local builds, marked with their
backend, and `axl runs`, `show`, `logs` and `report` read them as they read local builds."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest
from conftest import axl
from dagster_helpers import FLOW_STEPS, compile_job, import_job, run_config, write_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL_STEPS = ["params", *FLOW_STEPS]


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("dagster-history") / "ws"
    source = write_workspace(root, "history_flow")  # its own name: Python caches modules by name
    found = {
        name: import_job(compile_job(root, f"{source}:{name}", root / "jobs" / f"{name}.py"))
        for name in ("Flow", "Broken")
    }
    return SimpleNamespace(root=root, source=source, **found)


def _runs(root: Path, cache: Path, *args: str) -> list[dict[str, Any]]:
    done = axl("runs", "--json", "--cache-dir", str(cache), *args, cwd=root)
    assert done.code == 0, done.err
    runs: list[dict[str, Any]] = json.loads(done.out)
    return runs


def test_a_dagster_run_appears_in_axl_runs(jobs: SimpleNamespace) -> None:
    cache = jobs.root / "cache-history"
    result = jobs.Flow.Flow.execute_in_process(run_config=run_config(cache))
    assert result.success
    (run,) = _runs(jobs.root, cache)
    assert run["backend"] == "dagster"
    assert run["workflow"] == "Flow"
    assert run["ok"] is True
    assert run["steps"] == {"ran": len(ALL_STEPS)}
    assert run["run"].endswith("-da" + result.run_id.replace("-", "")[:10])
    # The same run again: every step from the cache; a local build lands in the same history.
    again = jobs.Flow.Flow.execute_in_process(run_config=run_config(cache))
    assert again.success
    local = axl(
        "run", "local", "-m", f"{jobs.source}:Flow", "--cache-dir", str(cache), cwd=jobs.root
    )
    assert local.code == 0, local.err
    runs = _runs(jobs.root, cache)
    assert [r["backend"] for r in runs] == ["local", "dagster", "dagster"]
    assert [r["steps"] for r in runs] == [{"cached": len(ALL_STEPS)}] * 2 + [run["steps"]]
    text = axl("runs", "--cache-dir", str(cache), cwd=jobs.root)
    assert text.out.splitlines()[0].split() == [
        "RUN",
        "WORKFLOW",
        "STARTED",
        "TIME",
        "RESULT",
        "BACKEND",
        "STEPS",
    ]
    assert text.out.splitlines()[3].split()[6] == "dagster"


def test_show_logs_and_report_read_a_dagster_run(jobs: SimpleNamespace) -> None:
    cache = jobs.root / "cache-show"
    result = jobs.Flow.Flow.execute_in_process(run_config=run_config(cache))
    assert result.success
    (run,) = _runs(jobs.root, cache)
    show = axl("show", run["run"], "--cache-dir", str(cache), cwd=jobs.root)
    assert show.code == 0, show.err
    assert f"backend   dagster (its run {result.run_id})" in show.out
    # The steps in the workflow's order (from the record's graph), each with its key.
    steps = [line.split()[0] for line in show.out.split("\n\n", 1)[1].splitlines()[1:]]
    assert steps == ALL_STEPS
    record = json.loads(axl("show", run["run"], "--json", "--cache-dir", str(cache)).out)
    outputs = {s: d["outputs"] for s, d in record["steps"].items()}
    dagster = {
        (e.step_key, e.event_specific_data.step_output_handle.output_name)
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT"
    }
    assert len(dagster) == sum(len(o) for o in outputs.values())
    logs = axl("logs", "make", "--run", run["run"], "--cache-dir", str(cache), cwd=jobs.root)
    assert logs.code == 0, logs.err
    assert "making 4 values" in logs.out
    page = jobs.root / "report.html"
    done = axl("report", run["run"], "-o", str(page), "--cache-dir", str(cache), cwd=jobs.root)
    assert done.code == 0, done.err
    html = page.read_text()
    assert "by dagster" in html
    assert "report" in html


def test_a_failed_dagster_run_is_recorded_with_its_traceback(jobs: SimpleNamespace) -> None:
    cache = jobs.root / "cache-broken"
    result = jobs.Broken.Broken.execute_in_process(
        run_config=run_config(cache), raise_on_error=False
    )
    assert not result.success
    (run,) = _runs(jobs.root, cache)
    assert run["backend"] == "dagster"
    assert run["ok"] is False
    assert run["steps"] == {"ran": 2, "failed": 1}  # total never ran: Dagster skipped it
    show = axl("show", run["run"], "--cache-dir", str(cache), cwd=jobs.root)
    assert "result    FAILED" in show.out
    assert "ValueError: boom after 4 values" in show.out


def test_ops_in_several_processes_add_to_one_record(jobs: SimpleNamespace, tmp_path: Path) -> None:
    """Dagster's default executor runs each op in its own process, several at once where the
    graph allows: each adds its step to the record under a lock, and none is lost."""
    from dagster._core.definitions.reconstruct import ReconstructableJob

    cache = jobs.root / "cache-multi"
    job = ReconstructableJob.for_file(str(jobs.root / "jobs" / "Flow.py"), "Flow")
    home = tmp_path / "dagster-home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        result = dg.execute_job(job, instance=instance, run_config=run_config(cache))
        assert result.success
    (run,) = _runs(jobs.root, cache)
    assert run["backend"] == "dagster"
    assert run["steps"] == {"ran": len(ALL_STEPS)}
