"""A Dagster run of a workflow reading workspace data (examples/movies.py): the ops key the CSV
as `axl run local` does, and an edited CSV reruns exactly the steps reading it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO
from dagster_helpers import compile_job, import_job, outputs_of, report_keys, run_config

from axl.exec import BuildOptions
from axl.exec._session import run_local

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEC = "examples/movies.py:MovieStats"


def test_dagster_keys_workspace_data_like_axl_run_local(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "examples").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "ws"\nversion = "0"\n')
    (root / "uv.lock").write_text("version = 1\n")
    shutil.copytree(REPO / "examples" / "data", root / "examples" / "data")
    shutil.copy(REPO / "examples" / "movies.py", root / "examples" / "movies.py")
    module = import_job(compile_job(root, SPEC, root / "jobs" / "movies.py"))
    cache = root / "cache-dagster"
    first = module.MovieStats.execute_in_process(run_config=run_config(cache))
    assert first.success
    outputs = outputs_of(first.all_events)
    local = run_local(
        SPEC, workspace=root, cache_dir=root / "cache-local", options=BuildOptions(in_process=True)
    )
    assert {step: meta["axl key"] for (step, _), meta in outputs.items()} == report_keys(
        local.to_json()
    )

    csv = root / "examples" / "data" / "movies.csv"
    lines = csv.read_text().splitlines(keepends=True)
    row = next(
        i for i, line in enumerate(lines) if ",Horror," in line and int(line.split(",")[4]) > 100
    )
    lines[row] = lines[row].replace(",Horror,", ",Comedy,")
    csv.write_text("".join(lines))
    second = module.MovieStats.execute_in_process(run_config=run_config(cache))
    assert second.success
    statuses = {
        step: meta["axl status"] for (step, _), meta in outputs_of(second.all_events).items()
    }
    ran = sorted(step for step, status in statuses.items() if status == "ran")
    assert ran == ["by_genre", "load", "report", "stats-Comedy", "stats-Horror"]
