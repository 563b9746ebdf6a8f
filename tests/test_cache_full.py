"""#18: a cache folder that is full (or read-only) is axl's error, not the step's.

On a real, small tmpfs mounted for the test (the tests run as root; a machine where mounting is
not allowed fails here loudly rather than skipping). The build must report the step as ``error``
(not ``failed``), print one ``error:`` naming the cache folder and the bytes the output needed
plus a ``hint:``, show no traceback, leave a cache that verifies, and build once space is freed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Result, axl, write

BIG = """
from axl import Workflow, step


class Big(Workflow):
    @step
    def params(self) -> dict:
        return {"mb": 3}

    @step
    def small(self, p: dict) -> int:
        return 7

    @step
    def big(self, mb: int, s: int) -> bytes:
        return b"x" * (mb * 1024 * 1024)

    def graph(self):
        p = self.params()
        return self.big(p["mb"], self.small(p))
"""

MODES = {
    "workers": ["--jobs", "2"],
    "in-process": ["--in-process"],
    "subprocess": ["--subprocess"],
    "build": ["build", "--jobs", "2"],
}


def _mount(folder: Path, options: str) -> None:
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"these tests mount a small tmpfs and need root: {proc.stderr}"


@pytest.fixture
def small_disk(workspace: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at ``<workspace>/disk`` (unmounted afterwards)."""
    folder = workspace / "disk"
    folder.mkdir()
    _mount(folder, "size=2m")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _run(root: Path, cache: Path, *args: str) -> Result:
    if args[:1] == ("build",):  # `axl build //:big`, the BUILD-file front end
        write(root / "BUILD", 'axl_workflow(name = "big", workflow = "big.py:Big")\n')
        r = axl("build", "//:big", "--cache-dir", str(cache), *args[1:], cwd=root)
        # Its report starts with the target's line; the rest is the same as `axl run local`'s.
        return Result(r.code, r.out.split("\n", 1)[1] if r.code != 2 else r.out, r.err)
    return axl("run", "local", "-m", "big.py:Big", "--cache-dir", str(cache), *args, cwd=root)


def _check_one_error(r: Result, cache: Path, reason: str, hint: str) -> None:
    assert r.code == 1, (r.out, r.err)
    assert "Traceback" not in r.out + r.err
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    hints = [line for line in r.err.splitlines() if line.startswith("hint:")]
    assert len(errors) == 1, r.err
    assert len(hints) == 1, r.err
    assert f"cannot write to the cache folder {cache}: {reason}" in errors[0], errors[0]
    assert hint in hints[0], hints[0]


def _verify(cache: Path, root: Path) -> None:
    r = axl("cache", "verify", "--json", "--cache-dir", str(cache), cwd=root)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["bad_blobs"] == 0, data
    assert data["bad_records"] == 0, data
    assert data["tmp_removed"] == 0, data  # nothing half-written was left in tmp/


@pytest.mark.parametrize("mode", sorted(MODES))
def test_disk_full_is_axls_error_and_space_freed_builds(
    workspace: Path, small_disk: Path, mode: str
) -> None:
    write(workspace / "big.py", BIG)
    cache = small_disk / "cache"
    r = _run(workspace, cache, *MODES[mode])
    _check_one_error(r, cache, "No space left on device", "axl cache gc --max-size SIZE")
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert "output 'out' of step 'big' needs 3,145,728 bytes" in errors[0], errors[0]
    assert "--cache-dir DIR" in r.err
    status = {line.split()[1]: line.split()[0] for line in r.out.splitlines()[:3]}
    assert status == {"params": "ran", "small": "ran", "big": "ERROR"}, r.out
    runs = json.loads(axl("runs", "--json", "--cache-dir", str(cache), cwd=workspace).out)
    assert runs[0]["steps"] == {"ran": 2, "error": 1}, runs[0]
    _verify(cache, workspace)
    # Free space (a bigger disk): the same cache builds, reusing what completed.
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    r = _run(workspace, cache, *MODES[mode])
    assert r.code == 0, (r.out, r.err)
    assert [line.split()[0] for line in r.out.splitlines()[:3]] == ["cached", "cached", "ran"]
    _verify(cache, workspace)


def test_read_only_cache_is_axls_error(workspace: Path, small_disk: Path) -> None:
    write(workspace / "big.py", BIG.replace('"mb": 3', '"mb": 0'))
    cache = small_disk / "cache"
    assert _run(workspace, cache).code == 0
    write(workspace / "big.py", BIG.replace('"mb": 3', '"mb": 1'))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    r = _run(workspace, cache)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.out + r.err
    assert r.err.startswith(f"error: cannot write to the cache folder {cache}: Read-only"), r.err
    assert "hint: make the folder writable" in r.err


def test_snapshot_of_an_external_input_on_a_full_disk(workspace: Path, small_disk: Path) -> None:
    """A file input is copied into the cache before any step runs: a full disk is the same
    error there, and nothing runs."""
    write(
        workspace / "fin.py",
        """
        from axl import File, Workflow, step


        class Fin(Workflow):
            @step
            def size(self, data: str) -> int:
                import os

                return os.path.getsize(data)

            def graph(self):
                return self.size(File("data.bin"))
        """,
    )
    (workspace / "data.bin").write_bytes(b"x" * 3_000_000)
    cache = small_disk / "cache"
    r = axl("run", "local", "-m", "fin.py:Fin", "--cache-dir", str(cache), cwd=workspace)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.out + r.err
    lines = r.err.splitlines()
    assert lines[0] == (
        f"error: cannot write to the cache folder {cache}: No space left on device "
        f"(the snapshot of {workspace / 'data.bin'} needs 3,000,000 bytes)"
    ), r.err
    assert lines[1].startswith("hint: free space with 'axl cache gc --max-size SIZE'"), r.err
    assert len(lines) == 2, r.err
    _verify(cache, workspace)
