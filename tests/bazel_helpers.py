"""Real Bazel (Debian's bazel-bootstrap, offline) for the tests: a client with its own short
output root, and the check that Bazel's step outputs are the bytes ``axl build`` wrote."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axl.hashing import file_digest


def require_bazel() -> None:
    if shutil.which("bazel") is None:
        pytest.fail(
            "bazel is not installed, and the Bazel integration tests need a real one: run "
            "`make system-deps` (or `apt-get install bazel-bootstrap`)",
            pytrace=False,
        )


class Client:
    """The ``bazel`` client in ``workspace`` with a private output root: call it with a command's
    arguments; ``startup`` holds the startup options, for a command that runs Bazel itself."""

    def __init__(self, workspace: Path, user_root: Path) -> None:
        self.workspace = workspace
        self.startup = [f"--output_user_root={user_root}", "--max_idle_secs=300"]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bazel", *self.startup, *args],
            cwd=self.workspace,
            capture_output=True,
            text=True,
            check=False,
        )


@contextlib.contextmanager
def bazel_in(workspace: Path) -> Iterator[Client]:
    """A :class:`Client` whose server is shut down and output root removed at the end."""
    require_bazel()
    # Short: the Bazel server's socket lives under it, and a Unix socket path has ~100 bytes.
    user_root = Path(tempfile.mkdtemp(prefix="axl-bz-"))
    client = Client(workspace, user_root)
    try:
        yield client
    finally:
        client("shutdown")
        remove_tree(user_root)


def remove_tree(folder: Path) -> None:
    """Remove ``folder``, which Bazel leaves read-only."""

    def unlock(func: Any, path: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
            func(path)

    shutil.rmtree(folder, onerror=unlock)


def assert_same_outputs(package: Path, report: dict[str, Any]) -> None:
    """Every step Bazel ran in the generated ``package`` (under bazel-bin) has the key and
    output digests of the step in ``axl build --json``'s ``report``."""
    assert report["steps"], report
    for name, step in report["steps"].items():
        record = json.loads((package / name / "axl-result.json").read_text())
        assert record["key"] == step["key"], name
        for output, rec in step["outputs"].items():
            path = package / name / record["outputs"][output]["path"]
            assert file_digest(path) == rec["digest"], f"{name}.{output}"
