"""The remote-cache scenarios, written once and run against every backend (nginx WebDAV, S3).

Each scenario builds in throwaway workspaces through the real ``axl`` command line (a fresh
process per build, so no module or store state leaks between "machines").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from conftest import REPO, write

from axl.cache import LocalStore
from axl.cache._reapi import decode_action_result, encode_action_result
from axl.cache._tiered import ENTRY_FILE
from axl.hashing import bytes_sha256

#: Env vars a remote-cache test must not inherit from the shell that runs pytest.
REMOTE_ENV = ("AXL_REMOTE_CACHE", "AXL_REMOTE_UPLOAD", "AXL_CACHE_SECRET", "AXL_CACHE_DIR")

CHAIN = '''
import os
import time
from pathlib import Path

from axl import Workflow, step


def gate() -> None:
    """With $AXL_TEST_GATE set: say "started" there, then wait for "go" (the test's cue)."""
    folder = os.environ.get("AXL_TEST_GATE")
    if not folder:
        return
    (Path(folder) / "started").touch()
    deadline = time.monotonic() + 60
    while not (Path(folder) / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


class Chain(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 6}

    @step
    def make(self, params: dict) -> list:
        return list(range(params["n"]))

    @step
    def square(self, xs: list) -> list:
        gate()
        return [x * x for x in xs]

    @step(io_handler="json")
    def total(self, xs: list) -> int:
        print("summing", len(xs))
        return sum(xs)

    def graph(self):
        return self.total(self.square(self.make(self.params())))
'''

#: sum(x * x for x in range(6))
CHAIN_TOTAL = 55

CHURN_PARAMS = "n_customers: 600\nn_estimators: 5\nmax_depth: 3\n"


def entry_meta(raw: bytes) -> dict[str, Any]:
    """The axl part of a remote entry (the inlined ``.axl/entry.json`` output file)."""
    carrier = decode_action_result(raw).file(ENTRY_FILE)
    assert carrier is not None
    assert carrier.contents is not None
    meta: dict[str, Any] = json.loads(carrier.contents)
    return meta


def with_meta(raw: bytes, meta: dict[str, Any]) -> bytes:
    """The entry ``raw`` with its axl part replaced by ``meta`` (everything else as it was)."""
    result = decode_action_result(raw)
    body = json.dumps(meta).encode()
    files = [
        replace(f, contents=body, hash=bytes_sha256(body), size=len(body))
        if f.path == ENTRY_FILE
        else f
        for f in result.output_files
    ]
    return encode_action_result(files, worker=result.worker)


def workspace(base: Path, name: str, churn: bool = False) -> Path:
    """A fresh workspace with the chain workflow (and the churn example when asked)."""
    root = base / name
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    write(root / "chain.py", CHAIN)
    if churn:
        shutil.copy(REPO / "examples" / "churn_workflow.py", root / "churn_workflow.py")
        write(root / "small.yaml", CHURN_PARAMS)
    return root


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in REMOTE_ENV}
    return {**env, **(extra or {})}


def run_axl(
    root: Path, *args: str, env: dict[str, str] | None = None, spec: str = "chain.py:Chain"
) -> tuple[dict[str, Any], str]:
    """``axl run local -m SPEC --json ARGS`` in ``root``; returns the report and stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "run", "local", "-m", spec, "--json", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_env(env),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout), proc.stderr


def digests(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {out: rec["digest"] for out, rec in step["outputs"].items()}
        for name, step in report["steps"].items()
    }


def statuses(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """step -> (status, source)."""
    return {
        name: (step["status"], step.get("source", "local"))
        for name, step in report["steps"].items()
    }


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def output_value(report: dict[str, Any], step: str, out: str = "out") -> Any:
    return json.loads(Path(report["steps"][step]["outputs"][out]["path"]).read_text())


# -- scenarios, each given a remote URL ---------------------------------------------------------


def scenario_share(tmp: Path, url: str) -> None:
    """CI populates the remote; a clean second workspace builds churn with only remote hits."""
    first, second = workspace(tmp, "ci", churn=True), workspace(tmp, "laptop", churn=True)
    args = ("-p", "small.yaml", "--remote-cache", url)
    spec = "churn_workflow.py:ChurnWorkflow"
    built, err = run_axl(first, *args, spec=spec)
    assert {s for s, _ in statuses(built).values()} == {"ran"}, err
    assert built["remote"]["uploads"] == len(built["steps"])
    assert not warnings(err), err

    reused, err = run_axl(second, *args, spec=spec)
    assert not warnings(err), err
    assert set(statuses(reused).values()) == {("cached", "remote")}
    assert digests(reused) == digests(built)
    remote = reused["remote"]
    assert remote["remote_hits"] == len(reused["steps"])
    assert remote["local_hits"] == 0
    # The workflow's load came along too: the clean workspace imported no pandas to key its steps.
    assert (built["remote"]["loads_uploaded"], remote["loads_fetched"]) == (1, 1)
    assert remote["bytes_downloaded"] > 0
    assert remote["uploads"] == 0
    # The downloaded outputs are real files with the right content.
    assert output_value(reused, "evaluate") == output_value(built, "evaluate")

    # Third build in the second workspace: everything is local now, the remote is not needed.
    again, err = run_axl(second, *args, spec=spec)
    assert set(statuses(again).values()) == {("cached", "local")}
    assert again["remote"]["local_hits"] == len(again["steps"])
    assert again["remote"]["bytes_downloaded"] == 0


def scenario_remote_dies(tmp: Path, url: str, stop: Callable[[], None]) -> None:
    """The remote goes away mid-build: one warning, a correct local build, later builds fine."""
    root = workspace(tmp, "ws")
    gate = tmp / "gate"
    gate.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "axl", "run", "local", "-m", "chain.py:Chain", "--json"]
        + ["--remote-cache", url, "--jobs", "2"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env({"AXL_TEST_GATE": str(gate), "AXL_REMOTE_TIMEOUT": "3"}),
    )
    deadline = time.monotonic() + 60
    while not (gate / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the gated step never started"
        time.sleep(0.02)
    stop()
    (gate / "go").touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    report = json.loads(out)
    assert {s for s, _ in statuses(report).values()} == {"ran"}
    assert len(warnings(err)) == 1, err
    assert "local cache only" in err
    assert report["remote"]["degraded"] is True
    # params and make were uploaded before the remote went away; square and total were not.
    assert report["remote"]["uploads"] == 2
    assert output_value(report, "total") == CHAIN_TOTAL

    # The local build is complete and correct: a rebuild is all local hits and never asks the
    # (still dead) remote, so it does not warn either.
    again, err = run_axl(root, "--remote-cache", url)
    assert set(statuses(again).values()) == {("cached", "local")}
    assert not warnings(err), err
    assert digests(again) == digests(report)

    # A fresh workspace against the dead remote: one warning, everything built locally.
    fresh, err = run_axl(workspace(tmp, "fresh"), "--remote-cache", url)
    assert {s for s, _ in statuses(fresh).values()} == {"ran"}
    assert len(warnings(err)) == 1, err
    assert digests(fresh) == digests(report)


def scenario_tampered_blob(
    tmp: Path, url: str, read_blob: Callable[[str], bytes], write_blob: Callable[[str, bytes], None]
) -> None:
    """A blob whose content no longer matches its digest is rejected (and repaired)."""
    built, _ = run_axl(workspace(tmp, "a"), "--remote-cache", url)
    digest = built["steps"]["square"]["outputs"]["out"]["digest"]
    local = LocalStore(tmp / "a" / ".axl").blob_path(digest).read_bytes()
    # The remote holds the blob under its SHA-256, the name Bazel's protocol gives it.
    name = bytes_sha256(local)
    good = read_blob(name)
    assert good == local
    write_blob(name, good[:-1] + bytes([good[-1] ^ 1]))

    report, err = run_axl(workspace(tmp, "b"), "--remote-cache", url)
    assert statuses(report)["square"] == ("ran", "local")
    # Downstream of square, keys depend on its (correct, rebuilt) content: still remote hits.
    assert statuses(report)["total"] == ("cached", "remote")
    assert statuses(report)["make"] == ("cached", "remote")
    assert digests(report) == digests(built)
    assert len(warnings(err)) == 1, err
    assert "fail verification" in err
    assert report["remote"]["rejected"] == {"tampered": 1}
    # The rebuilt step re-uploaded the good blob over the tampered one.
    assert read_blob(name) == good


def scenario_signatures(
    tmp: Path,
    url: str,
    read_entry: Callable[[str], bytes],
    write_entry: Callable[[str, bytes], None],
) -> None:
    """With $AXL_CACHE_SECRET: badly signed and unsigned entries are ignored with one warning."""
    signed = {"AXL_CACHE_SECRET": "team-secret"}
    built, _ = run_axl(workspace(tmp, "ci"), "--remote-cache", url, env=signed)

    # The same secret: remote hits.
    ok, err = run_axl(workspace(tmp, "same"), "--remote-cache", url, env=signed)
    assert set(statuses(ok).values()) == {("cached", "remote")}, err

    # Another secret: every entry fails the check; one warning for all of them.
    other, err = run_axl(
        workspace(tmp, "other"),
        "--remote-cache",
        url,
        "--no-remote-upload",
        env={"AXL_CACHE_SECRET": "not-the-secret"},
    )
    assert {s for s, _ in statuses(other).values()} == {"ran"}
    assert len(warnings(err)) == 1, err
    assert "badly signed" in err
    # Each step's entry, and the workflow's shared load.
    assert other["remote"]["rejected"] == {"bad-signature": len(other["steps"]) + 1}
    assert digests(other) == digests(built)

    # A poisoned entry: the record is changed to name another blob, the signature kept.
    key = built["steps"]["total"]["key"]
    raw = read_entry(key)
    entry = entry_meta(raw)
    record = json.loads(entry["record"])
    record["outputs"]["out"]["digest"] = built["steps"]["make"]["outputs"]["out"]["digest"]
    entry["record"] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    write_entry(key, with_meta(raw, entry))
    poisoned, err = run_axl(
        workspace(tmp, "victim"), "--remote-cache", url, "--no-remote-upload", env=signed
    )
    assert statuses(poisoned)["total"] == ("ran", "local")
    assert statuses(poisoned)["square"] == ("cached", "remote")
    assert output_value(poisoned, "total") == CHAIN_TOTAL
    assert len(warnings(err)) == 1, err

    # Unsigned entries (a writer without the secret) are ignored by a reader that has one.
    run_axl(workspace(tmp, "unsigned-writer"), "--remote-cache", url + "-unsigned")
    unsigned, err = run_axl(
        workspace(tmp, "reader"), "--remote-cache", url + "-unsigned", env=signed
    )
    assert {s for s, _ in statuses(unsigned).values()} == {"ran"}
    assert len(warnings(err)) == 1, err
    assert unsigned["remote"]["rejected"] == {"unsigned": len(unsigned["steps"]) + 1}


def scenario_read_only(tmp: Path, url: str, count_entries: Callable[[], int]) -> None:
    """``--no-remote-upload`` reads but never writes; ``AXL_REMOTE_UPLOAD=0`` likewise."""
    report, _ = run_axl(workspace(tmp, "laptop"), "--remote-cache", url, "--no-remote-upload")
    assert report["remote"]["uploads"] == 0
    assert count_entries() == 0
    report, _ = run_axl(
        workspace(tmp, "laptop2"), env={"AXL_REMOTE_CACHE": url, "AXL_REMOTE_UPLOAD": "0"}
    )
    assert report["remote"]["upload"] is False
    assert count_entries() == 0
