"""Real Dagster runs of compiled jobs: digests and keys as `axl run local`, the axl cache (local
and remote) serving a second run without running any step's code, run config for params, both
runners, and failing steps as failed ops carrying the step's traceback.

Dagster's import is slow, so each module-scoped fixture compiles and imports its jobs once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest
from conftest import REPO, write
from dagster_helpers import (
    FLOW_STEPS,
    ODD,
    compile_job,
    digests_of,
    import_job,
    marks,
    outputs_of,
    report_digests,
    report_keys,
    run_config,
    write_workspace,
)

from axl.emit.dagster.runtime import Artifact, AxlRunner
from axl.exec import BuildOptions
from axl.exec._session import run_local

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHURN = ["-m", "examples/churn_workflow.py:ChurnWorkflow", "-p", "examples/churn.yaml"]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A workspace with the marker workflow, and its Flow, Broken and Volatile jobs imported."""
    root = tmp_path_factory.mktemp("dagster") / "ws"
    source = write_workspace(root)
    jobs = {
        name: import_job(compile_job(root, f"{source}:{name}", root / "jobs" / f"{name}.py"))
        for name in ("Flow", "Broken", "Volatile")
    }
    return SimpleNamespace(root=root, source=source, **jobs)


def _new_marks(root: Path, before: int) -> list[str]:
    return [name for name, _ in marks(root)[before:]]


def _statuses(outputs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    return {step: meta["axl status"] for (step, _), meta in outputs.items()}


def _local(root: Path, spec: str, cache: Path, params: Path | None = None) -> dict[str, Any]:
    report = run_local(
        spec,
        params_file=params,
        workspace=root,
        cache_dir=cache,
        options=BuildOptions(in_process=True),
    )
    assert report.ok, report.to_json()
    data: dict[str, Any] = report.to_json()
    return data


# -- the marker workflow, in process ----------------------------------------------------------


def test_a_second_run_is_served_from_the_axl_cache(flow: SimpleNamespace) -> None:
    cache = flow.root / "cache-reuse"
    before = len(marks(flow.root))
    first = flow.Flow.Flow.execute_in_process(run_config=run_config(cache))
    assert first.success
    ran = outputs_of(first.all_events)
    assert set(_statuses(ran).values()) == {"ran"}
    assert _new_marks(flow.root, before) == FLOW_STEPS
    # The default runner runs the step's code in the op's process.
    assert {pid for _, pid in marks(flow.root)[before:]} == {os.getpid()}

    again = len(marks(flow.root))
    second = flow.Flow.Flow.execute_in_process(run_config=run_config(cache))
    assert second.success
    cached = outputs_of(second.all_events)
    assert set(_statuses(cached).values()) == {"cached (local)"}
    assert _new_marks(flow.root, again) == []  # no step's code ran
    assert digests_of(cached) == digests_of(ran)
    # The ops hand each other references, not data.
    artifact = second.output_for_node("total")
    assert isinstance(artifact, Artifact)
    assert artifact.digest == ran[("total", "out")]["digest"]
    assert json.loads(Path(ran[("total", "out")]["path"]).read_text()) == 16  # 0+2 + 1+3 + 10


def test_digests_and_keys_are_those_of_axl_run_local(flow: SimpleNamespace) -> None:
    result = flow.Flow.Flow.execute_in_process(run_config=run_config(flow.root / "cache-parity"))
    assert result.success
    outputs = outputs_of(result.all_events)
    local = _local(flow.root, f"{flow.source}:Flow", flow.root / "cache-local")
    assert digests_of(outputs) == report_digests(local)
    assert {step: meta["axl key"] for (step, _), meta in outputs.items()} == report_keys(local)


def test_the_subprocess_runner_runs_steps_through_python_m_axl_runtime(
    flow: SimpleNamespace,
) -> None:
    before = len(marks(flow.root))
    config = run_config(flow.root / "cache-subprocess", runner="subprocess")
    result = flow.Flow.Flow.execute_in_process(run_config=config)
    assert result.success
    assert _new_marks(flow.root, before) == FLOW_STEPS
    pids = {pid for _, pid in marks(flow.root)[before:]}
    assert os.getpid() not in pids
    assert len(pids) == len(FLOW_STEPS)  # a fresh process per step
    reference = flow.Flow.Flow.execute_in_process(run_config=run_config(flow.root / "cache-reuse"))
    assert digests_of(outputs_of(result.all_events)) == digests_of(outputs_of(reference.all_events))


def test_params_come_from_run_config(flow: SimpleNamespace) -> None:
    config = run_config(flow.root / "cache-params")
    config["ops"] = {"params": {"config": {"n": 6}}}
    result = flow.Flow.Flow.execute_in_process(run_config=config)
    assert result.success
    outputs = outputs_of(result.all_events)
    assert json.loads(Path(outputs[("total", "out")]["path"]).read_text()) == 25  # 0..5 + 10
    params = write(flow.root / "n6.yaml", "n: 6\n")
    local = _local(flow.root, f"{flow.source}:Flow", flow.root / "cache-params-local", params)
    assert digests_of(outputs) == report_digests(local)
    assert {step: meta["axl key"] for (step, _), meta in outputs.items()} == report_keys(local)


def test_a_remote_cache_serves_a_run_on_an_empty_local_cache(flow: SimpleNamespace) -> None:
    remote = flow.root / "remote"
    before = len(marks(flow.root))
    first = flow.Flow.Flow.execute_in_process(
        run_config=run_config(flow.root / "cache-a", remote_cache=str(remote))
    )
    assert first.success
    assert _new_marks(flow.root, before) == FLOW_STEPS
    assert (remote / "ac").is_dir()

    again = len(marks(flow.root))
    second = flow.Flow.Flow.execute_in_process(
        run_config=run_config(flow.root / "cache-b", remote_cache=str(remote))
    )
    assert second.success
    outputs = outputs_of(second.all_events)
    assert set(_statuses(outputs).values()) == {"cached (remote)"}
    assert _new_marks(flow.root, again) == []
    assert digests_of(outputs) == digests_of(outputs_of(first.all_events))

    # A step that misses on a machine whose cache lacks its inputs gets them from the remote.
    evens, xs = first.output_for_node("split", "evens"), first.output_for_node("make")
    context = dg.build_op_context(
        resources={"axl": AxlRunner(cache_dir=str(flow.root / "cache-c"), remote_cache=str(remote))}
    )
    report = flow.Flow.report(context, raw=xs, sums_total=evens)
    assert _new_marks(flow.root, again) == ["report"]
    value = json.loads(
        (flow.root / "cache-c" / "cas" / report.digest[:2] / report.digest).read_text()
    )
    assert value == {"sums": {"first": 1, "total": [0, 2]}, "raw_bytes": xs.size}


def test_a_cache_false_step_runs_every_time(flow: SimpleNamespace) -> None:
    cache = flow.root / "cache-volatile"
    assert flow.Volatile.Volatile.execute_in_process(run_config=run_config(cache)).success
    before = len(marks(flow.root))
    second = flow.Volatile.Volatile.execute_in_process(run_config=run_config(cache))
    assert second.success
    assert _new_marks(flow.root, before) == ["make"]  # same output: the rest stays cached
    statuses = _statuses(outputs_of(second.all_events))
    assert statuses.pop("make") == "ran"
    assert set(statuses.values()) == {"cached (local)"}


def test_dagster_job_execute_with_one_process_per_op(flow: SimpleNamespace, tmp_path: Path) -> None:
    # Dagster's default executor: each op in its own process, references pickled in between.
    before = len(marks(flow.root))
    proc = _dagster_execute(flow.root / "jobs" / "Flow.py", tmp_path, flow.root / "cache-mp")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert _new_marks(flow.root, before) == FLOW_STEPS
    pids = [pid for _, pid in marks(flow.root)[before:]]
    assert len(set(pids)) == len(pids)
    outputs = _run_outputs(tmp_path / "dagster-home", "Flow")
    reference = flow.Flow.Flow.execute_in_process(run_config=run_config(flow.root / "cache-reuse"))
    assert digests_of(outputs) == digests_of(outputs_of(reference.all_events))


def _dagster_execute(
    job: Path, tmp: Path, cache: Path, *config: str
) -> subprocess.CompletedProcess[str]:
    """``dagster job execute -f job`` with a fresh DAGSTER_HOME under ``tmp``."""
    home = tmp / "dagster-home"
    write(home / "dagster.yaml", "telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "AXL_CACHE_DIR": str(cache)}
    dagster = Path(sys.executable).with_name("dagster")
    argv = [str(dagster), "job", "execute", "-f", str(job)]
    for path in config:
        argv += ["-c", path]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, check=False)


def _run_outputs(home: Path, job: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The outputs of the one successful run of ``job`` that the instance at ``home`` holds."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert [(r.job_name, r.status) for r in runs] == [(job, dg.DagsterRunStatus.SUCCESS)]
        records = instance.get_records_for_run(
            runs[0].run_id, of_type=dg.DagsterEventType.STEP_OUTPUT
        ).records
        return outputs_of(r.event_log_entry.dagster_event for r in records)


def test_odd_names_and_params_run_as_in_axl_run_local(tmp_path: Path) -> None:
    # Ops, inputs, outputs and config fields renamed for Dagster still wire the right artifacts.
    root = tmp_path / "ws"
    write_workspace(root)
    source = write(root / "odd_flow.py", ODD)
    job = import_job(compile_job(root, f"{source}:Odd", root / "odd_job.py"))
    config = run_config(root / "cache")
    config["ops"] = {"params": {"config": {"text": 'x "y"', "nested": {"k": [None, 1]}}}}
    result = job.Odd.execute_in_process(run_config=config)
    assert result.success
    outputs = outputs_of(result.all_events)
    overrides = write(root / "odd.yaml", "text: 'x \"y\"'\nnested: {k: [null, 1]}\n")
    local = _local(root, f"{source}:Odd", root / "cache-local", overrides)
    assert digests_of(outputs) == report_digests(local)
    assert {step: meta["axl key"] for (step, _), meta in outputs.items()} == report_keys(local)


# -- failures ----------------------------------------------------------------------------------


def test_a_failing_step_is_a_failed_op_with_its_traceback(flow: SimpleNamespace) -> None:
    before = len(marks(flow.root))
    result = flow.Broken.Broken.execute_in_process(
        run_config=run_config(flow.root / "cache-broken"), raise_on_error=False
    )
    assert not result.success
    # retries=1 became a RetryPolicy: the step's code ran twice, then the op failed.
    assert _new_marks(flow.root, before) == ["make", "boom", "boom"]
    failure = result.failure_data_for_node("boom")
    assert failure is not None
    error = failure.error
    text = error.message + "".join(c.message for c in _causes(error))
    assert "step 'boom' raised ValueError: boom after 4 values" in text
    assert f'File "{flow.source}", line' in text  # the step's own frame ...
    assert 'raise ValueError(f"boom after {len(xs)} values")' in text  # ... and its line
    traceback = failure.user_failure_data.metadata["traceback"].value
    assert traceback.startswith("Traceback (most recent call last):")
    assert "ValueError: boom after 4 values" in traceback
    # The downstream op never started.
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "total" not in started


def _causes(error: Any) -> list[Any]:
    found = []
    while error.cause is not None:
        error = error.cause
        found.append(error)
    return found


def test_axl_errors_fail_the_op_without_retries(flow: SimpleNamespace) -> None:
    context = dg.build_op_context(
        resources={"axl": AxlRunner(cache_dir=str(flow.root / "cache-missing"))}
    )
    missing = Artifact("0" * 64, 3, "pickle", "pkl")
    with pytest.raises(dg.Failure) as info:
        flow.Broken.boom(context, xs=missing)
    assert info.value.allow_retries is False  # a retry would only repeat it
    assert "is missing" in info.value.description


def test_a_job_compiled_from_other_sources_refuses_to_run(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    source = write_workspace(root, "dagster_stale")
    job = import_job(compile_job(root, f"{source}:Flow", root / "flow_job.py"))
    source.write_text(source.read_text() + "\n# an edit after compiling\n")
    result = job.Flow.execute_in_process(
        run_config=run_config(root / "cache"), raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("params")
    assert failure is not None
    assert "dagster_stale.py in" in failure.error.message
    assert "is not the file the job was compiled from" in failure.error.message
    assert "axl compile --target dagster" in failure.error.message
    assert marks(root) == []


# -- the churn example: in process, and through `dagster job execute -f` ------------------------


@pytest.fixture(scope="module")
def churn_local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`axl run local --json` of the churn example, as the README runs it, on an empty cache."""
    cache = tmp_path_factory.mktemp("churn-local")
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "run", "local", *CHURN, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "AXL_CACHE_DIR": str(cache)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    assert {s["status"] for s in report["steps"].values()} == {"ran"}
    return report


def test_churn_in_process_matches_axl_run_local_then_is_cached(
    churn_local: dict[str, Any], tmp_path: Path
) -> None:
    job = import_job(REPO / "examples" / "churn_dagster.py")
    config = run_config(tmp_path / "cache")
    first = job.churn.execute_in_process(run_config=config)
    assert first.success
    outputs = outputs_of(first.all_events)
    assert set(_statuses(outputs).values()) == {"ran"}
    assert digests_of(outputs) == report_digests(churn_local)
    assert {step: meta["axl key"] for (step, _), meta in outputs.items()} == report_keys(
        churn_local
    )
    second = job.churn.execute_in_process(run_config=config)
    assert second.success
    cached = outputs_of(second.all_events)
    assert set(_statuses(cached).values()) == {"cached (local)"}
    assert digests_of(cached) == report_digests(churn_local)


def test_dagster_loads_the_example_as_dagster_dev_does(tmp_path: Path) -> None:
    home = tmp_path / "dagster-home"
    write(home / "dagster.yaml", "telemetry:\n  enabled: false\n")
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-f", "examples/churn_dagster.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_churn_with_dagster_job_execute(churn_local: dict[str, Any], tmp_path: Path) -> None:
    # One process for the whole run (the default, one per op, is tested on the small flow);
    # outputs still go through the run's IO manager, pickled to DAGSTER_HOME between ops.
    config = write(tmp_path / "run.yaml", "execution:\n  config:\n    in_process: {}\n")
    job = REPO / "examples" / "churn_dagster.py"
    proc = _dagster_execute(job, tmp_path, tmp_path / "cache", str(config))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    outputs = _run_outputs(tmp_path / "dagster-home", "churn")
    assert set(_statuses(outputs).values()) == {"ran"}
    assert digests_of(outputs) == report_digests(churn_local)
    assert (tmp_path / "cache" / "ac").is_dir()  # the axl cache, not Dagster's storage


READS = """
import os

from axl import Workflow, step


class Reads(Workflow):
    @step
    def size(self) -> int:
        return len(os.environ.get("DAGSTER_READS_SIZE", ""))

    def graph(self):
        return self.size()
"""


def test_an_undeclared_read_warns_in_the_op_log_and_again_when_cached(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_workspace(root, "dagster_reads_base")
    source = write(root / "dagster_reads.py", READS)
    job = import_job(compile_job(root, f"{source}:Reads", root / "reads_job.py"))
    instance = dg.DagsterInstance.ephemeral()
    texts = []
    for _ in range(2):
        result = job.Reads.execute_in_process(
            run_config=run_config(root / "cache"), instance=instance
        )
        assert result.success
        logs = instance.all_logs(result.run_id)
        texts.append([e.user_message for e in logs if "not part of its key" in e.user_message])
    statuses = _statuses(outputs_of(result.all_events))
    assert statuses == {"size": "cached (local)"}
    for found in texts:
        assert len(found) == 1, texts
        assert "step `size` read $DAGSTER_READS_SIZE" in found[0]
