"""Argo and the remote cache: ``axl compile --remote-cache URL`` gives every pod the cache, and a
resubmitted workflow skips every cached step (rehearsed against a real nginx WebDAV remote)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_helpers import local_run, template
from argo_rehearsal import rehearse
from conftest import REPO, axl
from nginx_fixtures import Nginx
from remote_helpers import REMOTE_ENV

TINY = ["-m", "examples/tiny.py:Tiny"]
SECRET_REF = ("axl-cache", "token")
SECRET = "cluster-and-ci-share-this"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REMOTE_ENV:
        monkeypatch.delenv(name, raising=False)


def _compile(*args: str) -> list[dict[str, Any]]:
    """The emitted objects: the manifest's ConfigMap, then the Workflow."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "compile", "--target", "argo", *TINY, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return list(yaml.safe_load_all(proc.stdout))


def _containers(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t["container"] for t in objects[-1]["spec"]["templates"] if "container" in t]


def test_every_container_gets_the_remote_cache_and_the_secret_by_reference() -> None:
    url = "https://cache.internal/axl"
    document = _compile("--remote-cache", url, "--cache-secret-ref", "axl-cache")
    for container in _containers(document):
        assert container["env"][:2] == [
            {"name": "AXL_REMOTE_CACHE", "value": url},
            {
                "name": "AXL_CACHE_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "axl-cache", "key": "secret"}},
            },
        ]
    # The step's own env follows (tiny has none); the secret's value is nowhere in the YAML.
    document = _compile("--remote-cache", "s3://bucket/axl", "--cache-secret-ref", "c:k")
    for container in _containers(document):
        assert container["env"][1]["valueFrom"]["secretKeyRef"] == {"name": "c", "key": "k"}
    # Without the option, nothing changes (the goldens hold that YAML).
    assert all("env" not in c for c in _containers(_compile()))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--remote-cache", "/mnt/cache"), "is not a URL every pod can reach"),
        (("--remote-cache", "ftp://host/x"), "is not a URL every pod can reach"),
        (("--remote-cache", "http://ci:pw@cache/axl"), "holds a password"),
        (("--cache-secret-ref", "axl-cache"), "no --remote-cache is given"),
        (("--remote-cache", "http://c/a", "--cache-secret-ref", "Bad_Name"), "not SECRET[:KEY]"),
        (("--remote-cache", "http://c/a", "--cache-secret-ref", "ok:bad/key"), "not SECRET[:KEY]"),
    ],
)
def test_bad_remote_cache_options_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    result = axl("compile", "-t", "argo", *TINY, *args, cwd=REPO)
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert lines[1].startswith("hint: ")
    assert "Traceback" not in result.err


def test_dagster_refuses_the_argo_only_option() -> None:
    result = axl("compile", "-t", "dagster", *TINY, "--remote-cache", "http://c/a", cwd=REPO)
    assert result.code == 2
    assert "--remote-cache does not apply to --target dagster" in result.err


@pytest.mark.integration
def test_a_resubmitted_workflow_skips_every_cached_step(nginx: Nginx, tmp_path: Path) -> None:
    document = _compile("--remote-cache", nginx.url, "--cache-secret-ref", ":".join(SECRET_REF))
    secrets = {SECRET_REF: SECRET}
    first = rehearse(document, workspace=REPO, work=tmp_path / "first", secrets=secrets)
    second = rehearse(document, workspace=REPO, work=tmp_path / "second", secrets=secrets)
    local = local_run(TINY, tmp_path / "local-cache")
    for name, run in first.items():
        assert run.phase == "Succeeded", run.stderr
        record = json.loads(run.outputs["axl-result"].read_text())
        again = json.loads(second[name].outputs["axl-result"].read_text())
        assert second[name].phase == "Succeeded", second[name].stderr
        assert (record["cached"], again["cached"]) == (False, True), name
        assert record["key"] == again["key"] == local[record["step"]]["key"]
        assert again["outputs"] == record["outputs"]
        # The resubmitted pod published the same files as artifacts, without running the step.
        for art, path in second[name].outputs.items():
            assert path.read_bytes() == run.outputs[art].read_bytes() or art == "axl-result"
        events = [json.loads(line)["event"] for line in second[name].stderr.splitlines()]
        assert "cached" in events
        assert "ran" not in events
    assert len(nginx.files("ac")) == len(first)
    # What the cluster uploaded, a laptop reads: axl run local is all remote hits.
    steps = local_run([*TINY, "--remote-cache", nginx.url], tmp_path / "laptop", env=secrets_env())
    assert {s["status"] for s in steps.values()} == {"cached"}
    assert {s["source"] for s in steps.values()} == {"remote"}
    # Without the cluster's secret, a pod does not trust the records: it runs (one warning).
    third = rehearse(document, workspace=REPO, work=tmp_path / "third", secrets={SECRET_REF: "x"})
    record = json.loads(third["make"].outputs["axl-result"].read_text())
    assert record["cached"] is False
    assert "badly signed" in third["make"].stderr
    assert template(document[-1], "make")["container"]["env"][1]["name"] == "AXL_CACHE_SECRET"


def secrets_env() -> dict[str, str]:
    return {"AXL_CACHE_SECRET": SECRET}
