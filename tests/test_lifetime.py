"""#18: stopping a build (SIGTERM, SIGKILL) leaves no process behind and loses nothing.

Real processes and real signals: ``axl run local``, ``axl build`` and ``python -m axl.runtime``
are started as a CI step would start them (output captured, own session), signalled mid-step,
and then every process they had started (found by PID, parent PID and process group) must be
gone, the caller's ``communicate()`` must return within 5 s, the cache must verify, and the next
build must reuse the steps that completed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import axl, write
from lifetime_helpers import (
    SLOW,
    clean_up,
    cmdline,
    family,
    interrupt,
    left_after,
    snapshot,
    start,
    wait_for,
)
from runtime_helpers import emit, save, topological

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

BUILD = """
axl_workflow(name = "slow", workflow = "slow.py:Slow")
axl_workflow(name = "fast", workflow = "slow.py:Slow", params = "fast.yaml")
"""

#: How each front end is started, and how the next (quick) build of the same workflow is.
COMMANDS = {
    "run": (
        ["run", "local", "-m", "slow.py:Slow"],
        ["run", "local", "-m", "slow.py:Slow", "-p", "fast.yaml"],
    ),
    "build": (["build", "//:slow"], ["build", "//:fast"]),
    "run-subprocess": (
        ["run", "local", "-m", "slow.py:Slow", "--subprocess"],
        ["run", "local", "-m", "slow.py:Slow", "-p", "fast.yaml", "--subprocess"],
    ),
}


@pytest.fixture
def slow(workspace: Path) -> Path:
    write(workspace / "slow.py", SLOW)
    write(workspace / "BUILD", BUILD)
    write(workspace / "fast.yaml", "t: 0\n")
    return workspace


def _verify_clean(root: Path) -> None:
    r = axl("cache", "verify", "--json", cwd=root)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["bad_blobs"] == 0, data
    assert data["bad_records"] == 0, data


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_signalled_build_leaves_nothing_behind(slow: Path, command: str, sig: int) -> None:
    first, again = COMMANDS[command]
    proc = start(["-m", "axl", *first, "--jobs", "2"], slow)
    out, err, started, left = interrupt(proc, sig, [slow / "started-a", slow / "started-b"])
    assert not left, {p: started[p] for p in left}
    # The build had workers, a guardian, and the step's `sleep 600`s: all gone now.
    assert sum(c.startswith("sleep 600") for c in started.values()) == 2, started
    assert len(started) >= 5, started
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, (out, err)
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert errors == ["error: interrupted by SIGTERM"], err
        assert "Traceback" not in err
        runs = json.loads(axl("runs", "--json", cwd=slow).out)
        assert runs[0]["result"] == "interrupted (SIGTERM)", runs[0]
        assert runs[0]["steps"]["ran"] == 2, runs[0]  # params and quick completed
    else:
        assert proc.returncode == -signal.SIGKILL
    _verify_clean(slow)
    r = axl(*again, "--jobs", "2", cwd=slow)
    assert r.code == 0, (r.out, r.err)
    quick = next(line for line in r.out.splitlines() if " quick " in line)
    assert quick.split()[0] == "cached", r.out  # what completed before the signal is reused


def test_sigterm_in_process_ends_the_step_and_its_children(slow: Path) -> None:
    """Steps running inside axl itself (``--jobs 1``): SIGTERM ends them and what they started."""
    proc = start(["-m", "axl", "run", "local", "-m", "slow.py:Slow", "--jobs", "1"], slow)
    out, err, started, left = interrupt(proc, signal.SIGTERM, [slow / "started-a"])
    assert not left, {p: started[p] for p in left}
    assert sum(c.startswith("sleep 600") for c in started.values()) == 2, started
    assert proc.returncode == 143, (out, err)
    assert err.strip() == "error: interrupted by SIGTERM"
    _verify_clean(slow)


def test_a_step_that_returns_leaves_no_child_behind(slow: Path) -> None:
    """A step's children end with the step, even when the step succeeds."""
    write(
        slow / "spawn.py",
        """
        import subprocess
        from pathlib import Path

        from axl import Workflow, step


        class Spawn(Workflow):
            @step
            def go(self) -> int:
                p = subprocess.Popen(["sh", "-c", "sleep 600 & sleep 600 & echo $!"],
                                     stdout=subprocess.PIPE, text=True)
                return int(p.stdout.readline())

            def graph(self):
                return self.go()
        """,
    )
    for mode in (["--jobs", "2"], ["--jobs", "1"], ["--subprocess", "--jobs", "2"]):
        # A timeout: left-over sleeps would hold the captured output open for 600 s.
        r = subprocess.run(
            [sys.executable, "-m", "axl", "run", "local", "-m", "spawn.py:Spawn"]
            + ["--no-cache", "--json", *mode],
            cwd=slow,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        digest = json.loads(r.stdout)["steps"]["go"]["outputs"]["out"]["digest"]
        pid = json.loads((slow / ".axl" / "cas" / digest[:2] / digest).read_text())
        assert not Path(f"/proc/{pid}").exists() or "sleep" not in cmdline(pid), mode


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_a_signalled_runner_leaves_nothing_behind(slow: Path, sig: int) -> None:
    """``python -m axl.runtime`` (what an Argo pod or a Dagster op runs), signalled mid-step:
    no result record, no process left, and the store still verifies."""
    manifest, ir = emit("slow.py:Slow", slow)
    path = save(slow / "m.json", manifest)
    store = slow / "store"

    def runner(step: str) -> list[str]:
        return [
            "-m",
            "axl.runtime",
            "--manifest",
            str(path),
            "--step",
            step,
            "--store",
            str(store),
            "--run-id",
            "r1",
        ]

    order = topological(ir)
    for step in order[: order.index("a")]:
        if step != "b":
            proc = start(runner(step), slow)
            assert proc.wait(timeout=120) == 0, proc.communicate()
    proc = start(runner("a"), slow)
    out, err, started, left = interrupt(proc, sig, [slow / "started-a"])
    assert not left, {p: started[p] for p in left}
    # The runner, its guardian, the step's shell and its two sleeps.
    assert sum(c.startswith("sleep 600") for c in started.values()) == 2, started
    assert len(started) >= 5, started
    assert not (store / "runs" / "r1" / "a.json").exists()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        last = json.loads(err.splitlines()[-1])
        assert last["event"] == "interrupted", last
        assert "SIGTERM" in last["message"], last
    else:
        assert proc.returncode == -signal.SIGKILL
    assert (store / "runs" / "r1" / "quick.json").exists()  # what completed stays


def test_a_worker_killed_mid_step_takes_its_steps_children_along(slow: Path) -> None:
    """A worker that dies (the OOM killer, a stray SIGKILL) is axl's error, and the processes
    its step started do not outlive the build."""
    proc = start(["-m", "axl", "run", "local", "-m", "slow.py:Slow", "--jobs", "2"], slow)
    procs: dict[int, tuple[str, int]] = {}
    try:
        wait_for([slow / "started-a", slow / "started-b"], proc)
        time.sleep(0.5)
        procs = snapshot(family(proc.pid) - {proc.pid})
        started = {pid: command for pid, (command, _) in procs.items()}
        shell = next(p for p, c in started.items() if c.startswith("sh -c sleep 600"))
        worker = int(Path(f"/proc/{shell}/stat").read_text().rsplit(")", 1)[1].split()[1])
        os.kill(worker, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        left = left_after(procs)
    finally:
        clean_up(proc, procs)
    assert not left, {p: started[p] for p in left}
    assert proc.returncode == 1, (out, err)
    a_line = next(line for line in out.decode().splitlines() if line.split()[1:2] == ["a"])
    assert a_line.split()[0] == "ERROR", out
    assert "died" in a_line, a_line
