"""Real Bazel building examples/movies.py step by step: the CSV the `load` step declares with
axl.File is an input of that step's action, so an edit to one row reruns exactly the actions
whose inputs changed, `touch` reruns nothing, and a folder or remote input is refused."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bazel_helpers import remove_tree
from conftest import REPO, axl
from test_bazel_build import _failure, _spawns
from test_bazel_build import _workspace as bazel_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PACKAGE = "examples/movies.bazel"


class Bazel:
    def __init__(self, root: Path, user_root: Path) -> None:
        self.root, self.user_root, self.count = root, user_root, 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        startup = [f"--output_user_root={self.user_root}", "--max_idle_secs=600"]
        return subprocess.run(
            ["bazel", *startup, *args], cwd=self.root, capture_output=True, text=True, check=False
        )

    def executed(self) -> list[str]:
        """Build //examples:movies; the steps whose actions ran, sorted."""
        self.count += 1
        log = self.user_root.parent / f"exec-{self.count}.json"
        flags = ["--color=no", "--curses=no", f"--execution_log_json_file={log}"]
        proc = self.run("build", *flags, "//examples:movies")
        assert proc.returncode == 0, _failure(proc.stdout + proc.stderr)
        steps = [s for s in _spawns(log) if s["mnemonic"] == "AxlStep"]
        return sorted(
            s["listedOutputs"][0].split(f"/{PACKAGE}/", 1)[1].split("/")[0] for s in steps
        )


def _workspace(base: Path) -> Path:
    root = bazel_workspace(base, ("BUILD", "movies.py"))
    shutil.copytree(REPO / "examples" / "data", root / "examples" / "data")
    return root


@pytest.fixture(scope="module")
def bazel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bazel]:
    if shutil.which("bazel") is None:
        pytest.fail("bazel is not installed: run `make system-deps`", pytrace=False)
    root = _workspace(tmp_path_factory.mktemp("bazel-data"))
    done = axl("bazel", "//examples:movies", cwd=root)
    assert done.code == 0, done.err
    user_root = Path(tempfile.mkdtemp(prefix="axl-bzd-"))
    client = Bazel(root, user_root)
    try:
        yield client
    finally:
        client.run("shutdown")
        remove_tree(user_root)


def test_the_data_file_is_an_input_of_the_step_that_declares_it(bazel: Bazel) -> None:
    generated = (bazel.root / PACKAGE / "BUILD.bazel").read_text()
    assert 'data = ["//examples:data/movies.csv"]' in generated
    assert len(bazel.executed()) == 10  # every step, the first time
    assert bazel.executed() == []

    csv = bazel.root / "examples" / "data" / "movies.csv"
    original = csv.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    row = next(
        i for i, line in enumerate(lines) if ",Drama," in line and int(line.split(",")[4]) > 100
    )
    fields = lines[row].split(",")
    fields[3] = "1.0" if fields[3] != "1.0" else "9.9"
    lines[row] = ",".join(fields)
    csv.write_text("".join(lines))
    # Bazel's own early cutoff: the other genres' ratings are the same bytes.
    assert bazel.executed() == ["by_genre", "load", "report", "stats-Drama"]
    csv.touch()
    assert bazel.executed() == []
    csv.write_bytes(original)
    assert bazel.executed() == ["by_genre", "load", "report", "stats-Drama"]


def test_folder_and_remote_inputs_are_refused(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    movies = root / "examples" / "movies.py"
    text = movies.read_text().replace("from axl import File,", "from axl import Dir, File,")
    for declared, said in (
        ('Dir("examples/data")', "is a folder"),
        ('File("https://example.com/movies.csv")', "is a remote object"),
    ):
        movies.write_text(text.replace('File(p["movie_data"])', declared))
        done = axl("bazel", "//examples:movies", cwd=root)
        assert done.code == 2
        assert said in done.err
        assert "\nhint: " in done.err
