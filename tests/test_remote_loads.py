"""Workflow loads shared through the remote cache: a clean checkout whose steps are all remote hits
imports none of the user's code, and a load is used only where every source it read matches.

Each build is a fresh ``axl`` process in a throwaway workspace (another absolute path: another
"machine"); the remote is a shared folder, the backend-neutral one (the HTTP and S3 backends move
the same entries as bytes and are covered by the scenarios in test_remote_http/test_remote_s3).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write
from remote_helpers import (
    CHAIN,
    REMOTE_ENV,
    clean_env,
    run_axl,
    statuses,
    warnings,
    workspace,
)

from axl.cache._reapi import decode_action_result
from axl.cache._tiered import LOAD_FILE

#: Appended to the chain workflow: importing it leaves a mark ($AXL_TEST_IMPORTED).
PROBE = """
if os.environ.get("AXL_TEST_IMPORTED"):
    Path(os.environ["AXL_TEST_IMPORTED"]).write_text("imported")
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REMOTE_ENV:
        monkeypatch.delenv(name, raising=False)


def probed(base: Path, name: str, chain: str = CHAIN) -> Path:
    root = workspace(base, name)
    write(root / "chain.py", chain + PROBE)
    return root


def build(
    root: Path, remote: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[dict[str, object], str, bool]:
    """``axl run local`` in ``root`` against ``remote``: (report, stderr, whether it imported
    the workflow module)."""
    marker = root.parent / f"{root.name}.imported"
    marker.unlink(missing_ok=True)
    report, err = run_axl(
        root,
        "--remote-cache",
        str(remote),
        *args,
        env={**(env or {}), "AXL_TEST_IMPORTED": str(marker)},
    )
    return report, err, marker.exists()


def test_a_clean_workspace_takes_the_load_from_the_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    ci, err, imported = build(probed(tmp_path, "ci"), remote)
    assert imported
    assert ci["remote"]["loads_uploaded"] == 1, err  # type: ignore[index]
    # The load is an action entry like the others: an ActionResult with one inlined file.
    entries = [decode_action_result(p.read_bytes()) for p in (remote / "ac").iterdir()]
    loads = [e for e in entries if e.file(LOAD_FILE) is not None]
    assert len(loads) == 1
    assert len(entries) == len(ci["steps"]) + 1  # type: ignore[arg-type]

    # Another checkout (another path, an empty cache): every step a remote hit, no user code.
    laptop = probed(tmp_path, "laptop")
    reused, err, imported = build(laptop, remote)
    assert not imported, err
    assert set(statuses(reused).values()) == {("cached", "remote")}  # type: ignore[arg-type]
    assert reused["remote"]["loads_fetched"] == 1  # type: ignore[index]
    assert not warnings(err), err
    # Now the load is local: the next build asks the remote for nothing.
    again, _, imported = build(laptop, remote)
    assert not imported
    assert set(statuses(again).values()) == {("cached", "local")}  # type: ignore[arg-type]
    assert again["remote"]["loads_fetched"] == 0  # type: ignore[index]


def test_a_changed_source_is_not_covered_by_the_shared_load(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    build(probed(tmp_path, "ci"), remote)
    # A helper module the workflow imports: the shared load lists it, so a checkout where it
    # differs must load (and key) for itself.
    edited = CHAIN.replace("import os\n", "import os\nimport helper\n", 1).replace(
        "return sum(xs)", "return helper.total(xs)"
    )
    base = probed(tmp_path, "base", edited)
    write(base / "helper.py", "def total(xs):\n    return sum(xs)\n")
    build(base, remote)

    branch = probed(tmp_path, "branch", edited)
    write(branch / "helper.py", "def total(xs):\n    return sum(xs) + 1\n")
    report, err, imported = build(branch, remote)
    assert imported, err
    assert report["remote"]["loads_fetched"] == 0  # type: ignore[index]
    got = statuses(report)  # type: ignore[arg-type]
    assert got["total"] == ("ran", "local")
    assert got["square"] == ("cached", "remote")


def test_signed_loads(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    signed = {"AXL_CACHE_SECRET": "team-secret"}
    build(probed(tmp_path, "ci"), remote, env=signed)
    _, err, imported = build(probed(tmp_path, "same"), remote, env=signed)
    assert not imported, err
    # Another secret: neither the load nor the records are trusted; one warning for all.
    report, err, imported = build(
        probed(tmp_path, "other"), remote, "--no-remote-upload", env={"AXL_CACHE_SECRET": "x"}
    )
    assert imported
    assert {s for s, _ in statuses(report).values()} == {"ran"}  # type: ignore[arg-type]
    assert len(warnings(err)) == 1, err
    assert "badly signed" in err


def test_read_only_consumers_do_not_upload_loads(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    report, _, _ = build(probed(tmp_path, "laptop"), remote, "--no-remote-upload")
    assert report["remote"]["loads_uploaded"] == 0  # type: ignore[index]
    assert not (remote / "ac").exists()


def test_axl_build_shares_target_loads(tmp_path: Path) -> None:
    """``axl build //:chain`` on a clean checkout: the load comes from the remote too."""
    remote = tmp_path / "remote"
    for name in ("ci", "fresh"):
        root = probed(tmp_path, name)
        write(root / "BUILD", 'axl_workflow(name = "chain", workflow = "chain.py:Chain")\n')
        marker = tmp_path / f"{name}.imported"
        proc = subprocess.run(
            [sys.executable, "-m", "axl", "build", "//:chain", "--remote-cache", str(remote)],
            cwd=root,
            capture_output=True,
            text=True,
            env=clean_env({"AXL_TEST_IMPORTED": str(marker)}),
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        expected = "(load: cached (remote))" if name == "fresh" else "(load: no earlier load)"
        assert expected in proc.stdout, proc.stdout
        assert marker.exists() == (name == "ci")


def test_the_summary_says_the_load_came_from_the_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    build(probed(tmp_path, "ci"), remote)
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "run", "local", "-m", "chain.py:Chain"]
        + ["--remote-cache", str(remote)],
        cwd=probed(tmp_path, "laptop"),
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 hits" in proc.stdout, proc.stdout
    assert "workflow load from the remote" in proc.stdout, proc.stdout
