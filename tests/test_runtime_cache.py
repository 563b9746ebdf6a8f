"""The runner and the action cache: a step already cached (locally, or in a real nginx WebDAV
remote cache) is published without running any user code; a step that runs is recorded and
uploaded, so the next runner anywhere skips it.

Every step of the workflow appends its name to ``$AXL_TEST_MARKER``: the marker file is the proof
of which code ran.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import axl, write
from nginx_fixtures import Nginx
from remote_helpers import REMOTE_ENV
from runtime_helpers import Run, emit, forget_modules, runner, save

from axl.hashing import bytes_sha256

MARKED = """
import os

from axl import Workflow, step


def mark(name):
    with open(os.environ["AXL_TEST_MARKER"], "a") as f:
        f.write(name + "\\n")


class Marked(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 5}

    @step
    def make(self, n: int) -> list:
        mark("make")
        print("made", n)
        return list(range(n))

    @step(io_handler="json")
    def square(self, xs: list) -> list:
        mark("square")
        return [x * x for x in xs]

    @step
    def total(self, xs: list) -> int:
        mark("total")
        return sum(xs)

    def graph(self):
        return self.total(self.square(self.make(self.params()["n"])))
"""

STEPS = ["params", "make", "square", "total"]
SECRET = "s3cr3t-shared-by-ci-and-the-cluster"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*REMOTE_ENV, "AXL_TEST_MARKER"):
        monkeypatch.delenv(name, raising=False)
    _forget()


def _forget() -> None:
    """Each test's workspace has its own ``marked`` module."""
    forget_modules()
    sys.modules.pop("marked", None)


def _workspace(root: Path, n: int = 5) -> Path:
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    (root / "marked.py").write_text(MARKED.lstrip().replace('{"n": 5}', f'{{"n": {n}}}'))
    return root


def _argo_manifest(root: Path, path: Path) -> Path:
    """The manifest an emitter for a cluster writes: its environment names the dependencies
    only (the pod knows its own Python and platform), and no key is known in advance."""
    _forget()
    manifest, _ = emit(f"{root / 'marked.py'}:Marked", root)
    manifest["environment"] = {"dependencies": manifest["environment"]["dependencies"]}
    for entry in manifest["steps"].values():
        entry["key"] = None
    return save(path, manifest)


def _run_steps(
    root: Path, manifest: Path, store: Path, env: dict[str, str], *args: str
) -> dict[str, Run]:
    """Every step in order through ``python -m axl.runtime``, Dagster-style (a store and a run
    id: each step finds its upstream's result record in the store)."""
    runs: dict[str, Run] = {}
    for step in STEPS:
        run = runner(
            "--manifest", manifest, "--step", step, "--store", store, "--run-id", "r1", *args,
            cwd=root, env=env,
        )  # fmt: skip
        assert run.code == 0, run.err
        runs[step] = run
    return runs


def _record(store: Path, step: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((store / "runs" / "r1" / f"{step}.json").read_text())
    return data


def _marks(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.integration
def test_a_step_cached_by_axl_run_local_is_a_remote_hit_and_runs_no_code(
    nginx: Nginx, tmp_path: Path
) -> None:
    env = {"AXL_CACHE_SECRET": SECRET}
    # Workspace A (CI): axl run local fills the remote cache.
    ci = _workspace(tmp_path / "ci")
    ci_marker = tmp_path / "ci-marker"
    built = axl(
        "run", "local", "-m", "marked.py:Marked", "--remote-cache", nginx.url, "--json",
        cwd=ci, env={**env, "AXL_TEST_MARKER": str(ci_marker)},
    )  # fmt: skip
    assert built.code == 0, built.err
    assert sorted(_marks(ci_marker)) == ["make", "square", "total"]
    local = json.loads(built.out)["steps"]
    # A clean folder (a pod): same sources, empty store, the remote from the environment.
    pod = _workspace(tmp_path / "pod")
    manifest = _argo_manifest(pod, tmp_path / "manifest.json")
    marker = tmp_path / "pod-marker"
    store = tmp_path / "store"
    runs = _run_steps(
        pod,
        manifest,
        store,
        {**env, "AXL_REMOTE_CACHE": nginx.url, "AXL_TEST_MARKER": str(marker)},
    )
    assert not marker.exists(), "a cache hit ran the step's code"
    for step in STEPS:
        record = _record(store, step)
        assert record["status"] == "ok"
        assert record["cached"] is True
        # The runner completed the manifest's environment with its own Python and platform:
        # the keys are the ones axl run local computed.
        assert record["key"] == local[step]["key"], step
        for name, out in record["outputs"].items():
            assert out["digest"] == local[step]["outputs"][name]["digest"]
            assert (store / "cas" / out["digest"][:2] / out["digest"]).is_file()
        events = [line["event"] for line in runs[step].logs]
        assert not {"run", "ran"} & set(events), events
        (cached,) = runs[step].events("cached")
        assert (cached["source"], cached["key"]) == ("remote", record["key"])
        (done,) = runs[step].events("done")
        assert done["cached"] is True
        assert (done["remote"]["remote_hits"], done["remote"]["uploads"]) == (1, 0)
    # The step's prints are not replayed, but its log blob came along.
    assert "made" not in runs["make"].out
    log_digest = _record(store, "make")["log_digest"]
    assert (store / "cas" / log_digest[:2] / log_digest).read_text().startswith("made 5")


@pytest.mark.integration
def test_a_miss_runs_and_uploads_then_the_next_runner_hits(nginx: Nginx, tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", n=7)  # keys nobody has built
    manifest = _argo_manifest(root, tmp_path / "manifest.json")
    marker = tmp_path / "marker"
    env = {"AXL_TEST_MARKER": str(marker)}

    # A read-only runner runs everything and uploads nothing.
    runs = _run_steps(root, manifest, tmp_path / "s0", env, "--remote-cache", nginx.url,
                      "--no-remote-upload")  # fmt: skip
    assert _marks(marker) == ["make", "square", "total"]
    assert nginx.files("ac") == []
    assert runs["total"].events("recorded")[0]["uploaded"] is False

    # A runner that uploads: blobs first, then the record.
    runs = _run_steps(root, manifest, tmp_path / "s1", env, "--remote-cache", nginx.url)
    assert _marks(marker) == ["make", "square", "total"] * 2
    assert len(nginx.files("ac")) == len(STEPS)
    for step in STEPS:
        (recorded,) = runs[step].events("recorded")
        assert recorded["uploaded"] is True
        assert _record(tmp_path / "s1", step)["cached"] is False
    uploaded = {p.name for p in nginx.files("cas")}
    for step in STEPS:
        for out in _record(tmp_path / "s1", step)["outputs"].values():
            blob = tmp_path / "s1" / "cas" / out["digest"][:2] / out["digest"]
            # Under its SHA-256: the name Bazel's remote-cache protocol gives a blob.
            assert bytes_sha256(blob.read_bytes()) in uploaded

    # A second runner with another empty store: every step a remote hit, no code.
    runs = _run_steps(root, manifest, tmp_path / "s2", env, "--remote-cache", nginx.url)
    assert _marks(marker) == ["make", "square", "total"] * 2
    for step in STEPS:
        assert _record(tmp_path / "s2", step)["cached"] is True
        assert _record(tmp_path / "s2", step)["outputs"] == {
            name: {**out, "url": out["url"].replace("/s1/", "/s2/")}
            for name, out in _record(tmp_path / "s1", step)["outputs"].items()
        }

    # --no-cache: the caller keeps the cache; the runner runs and records nothing.
    runs = _run_steps(root, manifest, tmp_path / "s3", env, "--remote-cache", nginx.url,
                      "--no-cache")  # fmt: skip
    assert _marks(marker) == ["make", "square", "total"] * 3
    assert not any(run.events("cached") or run.events("recorded") for run in runs.values())
    assert not (tmp_path / "s3" / "ac").exists() or not any((tmp_path / "s3" / "ac").iterdir())


@pytest.mark.integration
def test_a_remote_that_is_down_degrades_to_running_with_one_warning(
    nginx: Nginx, tmp_path: Path
) -> None:
    root = _workspace(tmp_path / "ws")
    manifest = _argo_manifest(root, tmp_path / "manifest.json")
    nginx.stop()
    marker = tmp_path / "marker"
    runs = _run_steps(
        root,
        manifest,
        tmp_path / "store",
        {"AXL_TEST_MARKER": str(marker), "AXL_REMOTE_CACHE": nginx.url},
    )
    assert _marks(marker) == ["make", "square", "total"]
    for step in STEPS:
        warnings = [line for line in runs[step].logs if line["level"] == "warning"]
        assert len(warnings) == 1, warnings
        assert warnings[0]["event"] == "remote_cache"
        assert "local cache only" in warnings[0]["message"]
        assert _record(tmp_path / "store", step)["status"] == "ok"


@pytest.mark.integration
def test_a_record_signed_with_another_secret_is_not_used(nginx: Nginx, tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    manifest = _argo_manifest(root, tmp_path / "manifest.json")
    marker = tmp_path / "marker"
    env = {"AXL_TEST_MARKER": str(marker), "AXL_REMOTE_CACHE": nginx.url}
    _run_steps(root, manifest, tmp_path / "s1", {**env, "AXL_CACHE_SECRET": "writer"})
    runs = _run_steps(root, manifest, tmp_path / "s2", {**env, "AXL_CACHE_SECRET": "other"})
    assert _marks(marker) == ["make", "square", "total"] * 2
    (warning,) = [line for line in runs["make"].logs if line["level"] == "warning"]
    assert "badly signed" in warning["message"]


def test_a_folder_store_is_the_local_cache(tmp_path: Path) -> None:
    """No remote: a folder store's action cache (an axl cache folder, a shared volume) serves
    the second run of a step; a step with cache=False always runs."""
    root = _workspace(tmp_path / "ws")
    marker = tmp_path / "marker"
    env = {"AXL_TEST_MARKER": str(marker)}
    manifest = _argo_manifest(root, tmp_path / "manifest.json")
    store = tmp_path / "store"
    _run_steps(root, manifest, store, env)
    runs = _run_steps(root, manifest, store, env)
    assert _marks(marker) == ["make", "square", "total"]
    assert runs["total"].events("cached")[0]["source"] == "local"

    source = (root / "marked.py").read_text()
    (root / "marked.py").write_text(
        source.replace("@step(io_handler", "@step(cache=False, io_handler")
    )
    uncached = _argo_manifest(root, tmp_path / "uncached.json")
    assert json.loads(uncached.read_text())["steps"]["square"]["cache"] is False
    shutil.rmtree(store / "runs")
    runs = _run_steps(root, uncached, store, env)
    assert _marks(marker) == ["make", "square", "total", "square"]
    assert not runs["square"].events("recorded")


def test_subprocess_mode_leaves_the_cache_to_the_build(tmp_path: Path) -> None:
    """axl run local --subprocess: the build looks steps up (the runner is told --no-cache), so
    --rerun still runs a cached step."""
    root = _workspace(tmp_path / "ws")
    marker = tmp_path / "marker"
    env = {"AXL_TEST_MARKER": str(marker)}
    args = ("run", "local", "-m", "marked.py:Marked", "--subprocess", "--json")
    assert axl(*args, cwd=root, env=env).code == 0
    again = axl(*args, "--rerun", "square", cwd=root, env=env)
    assert again.code == 0, again.err
    assert _marks(marker) == ["make", "square", "total", "square"]
    assert json.loads(again.out)["steps"]["square"]["status"] == "ran"


def test_a_manifest_for_another_machine_has_no_keys(tmp_path: Path) -> None:
    """An environment without Python and platform (an emitter for a cluster) leaves every key to
    the runner, which completes the environment where the step runs."""
    from axl.runtime._cache import interpreter_environment
    from axl.runtime._manifest import emit_manifest

    root = _workspace(tmp_path / "ws")
    _forget()
    full, ir = emit(f"{root / 'marked.py'}:Marked", root)
    assert full["steps"]["params"]["key"] is not None  # no inputs: keyed at emission
    partial = emit_manifest(ir, code=lambda n: {}, environment={"dependencies": "none"})
    assert {entry["key"] for entry in partial["steps"].values()} == {None}
    assert interpreter_environment() == {
        k: v for k, v in full["environment"].items() if k in ("python", "platform")
    }


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            '{\n "steps": {\n  "params": {\n   "params": {\n    "mode": fast,\n    "n": 3\n   }\n',
            "the value of params key 'mode' is not JSON: 'fast'",
            "quote strings",
        ),
        (
            '{\n "workflow": {\n  "name": oops\n }\n}\n',
            "is not valid JSON at line 3, column 11: Expecting value (the line reads "
            "'\"name\": oops')",
            "emit it again",
        ),
    ],
)
def test_a_manifest_that_is_not_json_says_where(
    tmp_path: Path, text: str, message: str, hint: str
) -> None:
    from axl.errors import RunnerError
    from axl.runtime._manifest import load_manifest

    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(RunnerError) as caught:
        load_manifest(path)
    assert message in caught.value.message
    assert hint in (caught.value.hint or "")
