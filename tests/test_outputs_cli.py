"""``axl outputs``: a build's outputs under ``<step>/<output>.<ext>``, from the local cache or
from a real nginx remote with an empty local cache, and a clear refusal when a blob is gone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write
from nginx_fixtures import Nginx
from remote_helpers import CHAIN_TOTAL, clean_env, digests, run_axl, workspace

from axl.hashing import file_digest

FILES = {
    ("params", "out"): "params/out.json",
    ("params", "n"): "params/n.json",
    ("make", "out"): "make/out.json",
    ("square", "out"): "square/out.json",
    ("total", "out"): "total/out.json",
}


def outputs(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "axl", "outputs", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )


def _check_files(dest: Path, report: dict[str, Any]) -> None:
    """Every output is at its readable name, with the bytes the build recorded."""
    found = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert found == set(FILES.values())
    for (step, out), rel in FILES.items():
        assert file_digest(dest / rel) == digests(report)[step][out], rel
    assert json.loads((dest / "total/out.json").read_text()) == CHAIN_TOTAL


def _blob(root: Path, digest: str) -> Path:
    found = [
        p for p in (root / ".axl" / "cas").rglob("*") if p.is_file() and digest in p.as_posix()
    ]
    assert len(found) == 1, found
    return found[0]


def test_copies_the_last_build_from_the_local_cache(tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    report, _ = run_axl(root)
    res = outputs(root, "--dest", "out")
    assert res.returncode == 0, res.stderr
    _check_files(root / "out", report)
    assert "copied 5 outputs" in res.stderr
    # Copies are the user's files: writable, not the cache's read-only blobs.
    total = root / "out/total/out.json"
    assert total.stat().st_mode & stat.S_IWUSR
    assert total.stat().st_ino != _blob(root, digests(report)["total"]["out"]).stat().st_ino

    # The same run, named as `last`, by its id, or by the workflow (-m): the same files.
    for args in (["last"], [report["run"]], ["-m", "chain.py:Chain"], ["--workflow", "Chain"]):
        res = outputs(root, *args, "--dest", "again", "--json")
        assert res.returncode == 0, res.stderr
        listed = json.loads(res.stdout)
        assert listed["total"]["out"] == "again/total/out.json"
        _check_files(root / "again", report)


def test_link_hard_links_the_cache_files(tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    report, _ = run_axl(root)
    res = outputs(root, "--dest", "linked", "--link")
    assert res.returncode == 0, res.stderr
    _check_files(root / "linked", report)
    blob = _blob(root, digests(report)["total"]["out"])
    assert (root / "linked/total/out.json").stat().st_ino == blob.stat().st_ino


def test_a_blob_gone_from_the_cache_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    report, _ = run_axl(root)
    blob = _blob(root, digests(report)["square"]["out"])
    os.chmod(blob.parent, 0o755)
    blob.unlink()
    res = outputs(root, "--dest", "out")
    assert res.returncode == 2
    lines = res.stderr.splitlines()
    assert lines[0].startswith("error: 1 output(s) are not in the cache"), res.stderr
    assert "square/out (blob " in lines[0]
    assert lines[1].startswith("hint: build them again")
    assert "--remote-cache" in lines[1]
    assert not (root / "out").exists()


def test_no_build_yet_is_a_usage_error(tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    res = outputs(root, "--dest", "out")
    assert res.returncode == 2
    assert res.stderr.startswith("error: no runs are recorded")
    assert "hint: build first" in res.stderr
    # A workflow this cache never built and no remote: looked up, found missing, refused.
    res = outputs(root, "-m", "chain.py:Chain", "--dest", "out")
    assert res.returncode == 2
    assert "output(s) are not in the cache" in res.stderr
    assert "params (key " in res.stderr
    assert not (root / "out").exists()


@pytest.mark.integration
def test_from_an_nginx_remote_with_an_empty_local_cache(nginx: Nginx, tmp_path: Path) -> None:
    ci, laptop = workspace(tmp_path, "ci"), workspace(tmp_path, "laptop")
    for root in (ci, laptop):
        write(root / "BUILD", 'axl_workflow(name = "chain", workflow = "chain.py:Chain")\n')
    report, _ = run_axl(ci, "--remote-cache", nginx.url)

    # The laptop never built it: its cache is empty, so the label's current sources are keyed
    # and looked up in the remote; nothing runs and no run is recorded.
    res = outputs(laptop, "//:chain", "--dest", "out", "--remote-cache", nginx.url)
    assert res.returncode == 0, res.stderr
    _check_files(laptop / "out", report)
    assert "not built with this cache: looked up" in res.stderr
    assert not list((laptop / ".axl").rglob("runs/**/*.json"))

    # A recorded run whose blobs the local cache lost: fetched again through the step's record.
    for blob in (ci / ".axl" / "cas").rglob("*"):
        if blob.is_file():
            os.chmod(blob.parent, 0o755)
            blob.unlink()
    res = outputs(ci, "last", "--dest", "out", "--remote-cache", nginx.url)
    assert res.returncode == 0, res.stderr
    _check_files(ci / "out", report)

    # Without the remote's blobs too: refused, naming both places.
    for blob in nginx.files("cas"):
        blob.unlink()
    fresh = workspace(tmp_path, "fresh")
    write(fresh / "BUILD", 'axl_workflow(name = "chain", workflow = "chain.py:Chain")\n')
    res = outputs(fresh, "//:chain", "--dest", "out", "--remote-cache", nginx.url)
    assert res.returncode == 2
    assert f"in neither the local cache nor the remote {nginx.url}" in res.stderr
    assert not (fresh / "out").exists()
