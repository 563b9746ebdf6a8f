"""The live build view: what it shows, that it stays quiet off a terminal, and that a build that
never shows it never imports rich."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import write
from rich.console import Console

from axl.viz._progress import BuildProgress, live_progress

WF = """
import time

from axl import Workflow, step


class Slow(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 2}

    @step
    def wait(self, n: int) -> int:
        time.sleep(1.0)
        return n

    def graph(self):
        return self.wait(self.params()["n"])
"""


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120, color_system=None), out


def test_counts_and_view() -> None:
    console, out = _console()
    progress = BuildProgress(console)
    for name in ("a", "b", "c", "d"):
        progress.on_event(name, "queued")
    progress.on_event("a", "cached")
    progress.on_event("b", "running")
    progress.on_event("c", "running")
    progress.on_event("c", "failed")
    assert progress.counts() == {"cached": 1, "running": 1, "failed": 1, "queued": 1}
    console.print(progress.render())
    text = out.getvalue()
    assert "2/4 steps · 1 running · 1 queued · 1 cached" in text
    assert re.search(r"running\s+b\s", text)
    assert re.search(r"✗ failed\s+c\s", text)
    progress.close()


def test_nothing_is_drawn_until_a_step_runs() -> None:
    console, out = _console()
    progress = BuildProgress(console)
    for name in ("a", "b"):
        progress.on_event(name, "queued")
        progress.on_event(name, "cached")
    progress.close()
    assert out.getvalue() == ""


def test_live_view_draws_and_clears_itself() -> None:
    console, out = _console()
    progress = BuildProgress(console, refresh_per_second=20)
    progress.on_event("a", "queued")
    progress.on_event("a", "running")
    time.sleep(0.2)
    progress.on_event("a", "ran")
    progress.close()
    assert "building" in out.getvalue()


def test_disabled_gives_no_hook() -> None:
    with live_progress(False) as hook:
        assert hook is None
    with live_progress(True) as hook:
        assert hook is not None


def _project(root: Path) -> Path:
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    write(root / "wf.py", WF)
    write(root / "BUILD", 'axl_workflow(name = "slow", workflow = "wf.py:Slow")\n')
    return root


#: The two front doors that build a workflow here; both show the same view.
BUILDS = {
    "run local": ["run", "local", "-m", "wf.py:Slow", "--cache-dir", "cache"],
    "build": ["build", "//:slow", "--cache-dir", "cache"],
}


@pytest.mark.parametrize("command", sorted(BUILDS))
def test_off_a_terminal_is_quiet_and_never_imports_rich(tmp_path: Path, command: str) -> None:
    root = _project(tmp_path)
    code = (
        "import sys\n"
        "from axl.cli import main\n"
        f"rc = main({BUILDS[command]!r})\n"
        "print('rich imported:', any(m.split('.')[0] == 'rich' for m in sys.modules))\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "rich imported: False" in proc.stdout
    # One line per step, then the summary: nothing drawn, nothing repeated.
    assert re.search(r"^  ran +wait ", proc.stdout, re.MULTILINE), proc.stdout
    assert "building" not in proc.stdout


def _under_a_terminal(args: list[str], root: Path) -> tuple[int, str, bytes]:
    """Run ``axl ARGS`` with stderr on a pseudo-terminal: its code, what the terminal got, and
    stdout."""
    master, slave = pty.openpty()
    # A real size: a fresh pty is 0x0, and the view lays itself out to the width.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "axl", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    # Without the terminal's colour and cursor codes, the words the view drew.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    return proc.returncode, text, out


@pytest.mark.parametrize("command", sorted(BUILDS))
def test_on_a_terminal_shows_the_live_view(tmp_path: Path, command: str) -> None:
    root = _project(tmp_path)
    code, text, out = _under_a_terminal(BUILDS[command], root)
    assert code == 0, text
    assert "building" in text
    assert re.search(r"running\s+wait\s", text), text
    assert "1/2 steps" in text  # params settled (ran) while wait runs
    assert b"Slow: ok" in out  # the report still goes to stdout, untouched
    # A second build is all cached: nothing runs, so nothing is drawn.
    code, text, out = _under_a_terminal(BUILDS[command], root)
    assert code == 0, text
    assert "building" not in text
    assert b"(2 cached)" in out


def test_build_with_json_draws_nothing_on_a_terminal(tmp_path: Path) -> None:
    root = _project(tmp_path)
    code, text, out = _under_a_terminal([*BUILDS["build"], "--json"], root)
    assert code == 0, text
    assert "building" not in text
    assert json.loads(out)["steps"]["wait"]["status"] == "ran"
