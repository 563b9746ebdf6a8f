"""Real Bazel (Debian's bazel-bootstrap, offline) building the churn example step by step.

One Bazel server and one output base serve the whole module (its first start is the slow part);
the workspace is a temporary copy of the examples whose ``@axl`` repository is this checkout, so
no ``bazel-*`` folder lands in the repository. Results are read from Bazel's own accounts: the
process summary line and the execution log (one entry per spawn, with its mnemonic and whether
it was a remote cache hit).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bazel_helpers import remove_tree, require_bazel
from conftest import REPO, axl, write
from nginx_fixtures import Nginx, NginxMissing

from axl.cache._reapi import decode_action_result
from axl.cache._tiered import MALFORMED, decode_entry
from axl.hashing import file_digest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = ("params", "generate", "features", "split", "train", "evaluate")
PACKAGE = "examples/churn.bazel"
BIN = f"bazel-bin/{PACKAGE}"
_SUMMARY = re.compile(r"^INFO: (\d+) process(?:es)?(?:: (.*?))?\.$", re.MULTILINE)


@dataclass
class Build:
    """One ``bazel build``: its exit code, output, process summary and spawns."""

    code: int
    output: str
    summary: dict[str, int]
    spawns: list[dict[str, Any]]

    def executed(self) -> list[str]:
        """The targets whose actions ran (not cache hits), sorted."""
        return sorted(_target_of(s) for s in self.spawns if not s.get("remoteCacheHit"))

    def hits(self) -> list[str]:
        return sorted(_target_of(s) for s in self.spawns if s.get("remoteCacheHit"))


def _target_of(spawn: dict[str, Any]) -> str:
    path = spawn["listedOutputs"][0]
    return path.split(f"/{PACKAGE}/", 1)[1].split("/", 1)[0]


class Bazel:
    """The ``bazel`` client with this module's output root; ``shutdown`` at the end."""

    def __init__(self, workspace: Path, user_root: Path, nginx: Nginx) -> None:
        self.workspace, self.user_root = workspace, user_root
        #: The remote cache Bazel builds against, and its store on disk.
        self.nginx, self.remote = nginx, nginx.url
        self.logs = user_root.parent / "logs"
        self.logs.mkdir(exist_ok=True)
        self._count = 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        startup = [f"--output_user_root={self.user_root}", "--max_idle_secs=900"]
        return subprocess.run(
            ["bazel", *startup, *args],
            cwd=self.workspace,
            capture_output=True,
            text=True,
            check=False,
        )

    def build(self, *flags: str, remote: bool = True, ok: bool = True) -> Build:
        self._count += 1
        log = self.logs / f"exec-{self._count}.json"
        args = ["build", "--color=no", "--curses=no", f"--execution_log_json_file={log}"]
        if remote:
            args.append(f"--remote_cache={self.remote}")
        proc = self.run(*args, *flags, "//examples:churn")
        output = proc.stdout + proc.stderr
        if ok:
            assert proc.returncode == 0, _failure(output)
        return Build(proc.returncode, output, _summary(output), _spawns(log))

    def clean(self) -> None:
        done = self.run("clean")
        assert done.returncode == 0, done.stderr[-3000:]


def _failure(output: str) -> str:
    """What to show of a failed build: from its first error on (a step's output is there)."""
    start = output.find("ERROR:")
    return output[start if start >= 0 else -8000 :][:8000]


def _summary(output: str) -> dict[str, int]:
    found = _SUMMARY.findall(output)
    assert found, f"no process summary in:\n{output[-3000:]}"
    total, parts = found[-1]
    counts = {"total": int(total)}
    for part in filter(None, (parts or "").split(", ")):
        number, kind = part.split(" ", 1)
        counts[kind] = int(number)
    return counts


def _spawns(log: Path) -> list[dict[str, Any]]:
    """The execution log's entries (a stream of JSON objects, not one array)."""
    text = log.read_text() if log.exists() else ""
    decoder, at, found = json.JSONDecoder(), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return [s for s in found if s.get("mnemonic") in ("AxlStep", "AxlManifests")]
        item, at = decoder.raw_decode(text, at)
        found.append(item)


CHURN_FILES = ("BUILD", "churn_workflow.py", "churn.yaml")


def _workspace(base: Path, files: tuple[str, ...] = CHURN_FILES) -> Path:
    """A Bazel workspace whose ``@axl`` is this checkout, with ``files`` of examples/."""
    root = base / "ws"
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    (root / "examples").mkdir()
    for name in files:
        shutil.copy(REPO / "examples" / name, root / "examples" / name)
    # WORKSPACE (@axl: this checkout; @axl_python: its venv), BUILD.bazel, .bazelrc.
    done = axl("bazel", "init", cwd=root)
    assert done.code == 0, done.err
    return root


@pytest.fixture(scope="module")
def bazel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bazel]:
    require_bazel()
    base = tmp_path_factory.mktemp("bazel")
    root = _workspace(base)
    done = axl("bazel", "//examples:churn", cwd=root)
    assert done.code == 0, done.err
    try:
        server = Nginx(base / "nginx")
    except NginxMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    # Short: the Bazel server's socket lives under it, and a Unix socket path has ~100 bytes.
    user_root = Path(tempfile.mkdtemp(prefix="axl-bz-"))
    client = Bazel(root, user_root, server)
    try:
        yield client
    finally:
        client.run("shutdown")
        server.stop()
        remove_tree(user_root)


@contextlib.contextmanager
def _edited(path: Path, old: str, new: str) -> Iterator[None]:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    try:
        yield
    finally:
        path.write_text(text)


def test_bazel_builds_the_outputs_axl_builds(bazel: Bazel) -> None:
    built = bazel.build()
    assert built.summary.get("processwrapper-sandbox", 0) + len(built.hits()) == 7, built.summary
    report = axl("build", "//examples:churn", "--json", cwd=bazel.workspace)
    assert report.code == 0, report.err
    steps = json.loads(report.out)["steps"]
    assert sorted(steps) == sorted(STEPS)
    for name in STEPS:
        record = json.loads((bazel.workspace / BIN / name / "axl-result.json").read_text())
        assert record["key"] == steps[name]["key"], name
        for output, rec in steps[name]["outputs"].items():
            path = bazel.workspace / BIN / name / record["outputs"][output]["path"]
            assert file_digest(path) == rec["digest"], f"{name}.{output}"


def test_remote_cache_hits_for_every_step_after_clean(bazel: Bazel) -> None:
    bazel.clean()
    bazel.build()  # runs (and uploads) whatever the remote cache does not hold yet
    bazel.clean()
    again = bazel.build()
    assert again.hits() == sorted(["axl.manifests", *STEPS])
    assert again.executed() == []
    assert again.summary.get("remote cache hit") == 7, again.output[-2000:]


def test_axl_reads_the_action_results_bazel_wrote(bazel: Bazel) -> None:
    """axl's hand-written decoder against Bazel's real encoder; and a Bazel entry found under
    an axl key is a miss, not a crash."""
    entries = bazel.nginx.files("ac")
    assert entries, "no action results in the store: run after the remote-cache test"
    blobs = {path.name: path for path in bazel.nginx.files("cas")}
    for entry in entries:
        raw = entry.read_bytes()
        result = decode_action_result(raw)
        assert result.output_files, entry.name
        assert result.exit_code == 0, entry.name
        for item in result.output_files:
            assert item.path.startswith("bazel-out/"), item.path
            assert item.contents is None, item.path  # Bazel's HTTP cache never inlines
            blob = blobs.get(item.hash)
            assert blob is not None, f"{item.path}: no blob {item.hash} in the CAS"
            content = blob.read_bytes()
            assert hashlib.sha256(content).hexdigest() == item.hash, item.path
            assert len(content) == item.size, item.path
        assert decode_entry(raw, entry.name, None) == (None, MALFORMED)
        assert decode_entry(raw, entry.name, b"secret") == (None, MALFORMED)


def test_editing_one_step_reruns_it_and_its_downstream_only(bazel: Bazel) -> None:
    bazel.build()
    source = bazel.workspace / "examples" / "churn_workflow.py"
    with _edited(source, "random_state=0, n_jobs=1", "random_state=1, n_jobs=1"):
        edited = bazel.build()
        assert edited.executed() == ["axl.manifests", "evaluate", "train"]
        assert edited.summary.get("processwrapper-sandbox") == 3, edited.summary
        # A change that is not code (a comment) rewrites no manifest: no step runs.
        with _edited(source, "def clean(", "# cleaning\ndef clean("):
            comment = bazel.build()
            assert comment.executed() == ["axl.manifests"]


def test_a_changed_shape_fails_until_regenerated(bazel: Bazel) -> None:
    bazel.build()
    source = bazel.workspace / "examples" / "churn_workflow.py"
    with _edited(source, '@step(io_handler="json")', '@step(io_handler="pickle")'):
        stale = bazel.build(ok=False)
        assert stale.code != 0
        assert "hint: run `axl bazel //examples:churn` and build again" in stale.output
        assert axl("bazel", "//examples:churn", cwd=bazel.workspace).code == 0
        fixed = bazel.build()
        assert fixed.executed() == ["axl.manifests", "evaluate"]
        assert (bazel.workspace / BIN / "evaluate" / "out.pkl").is_file()
    assert axl("bazel", "//examples:churn", cwd=bazel.workspace).code == 0
