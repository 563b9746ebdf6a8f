"""``axl init`` and ``axl bazel init``: what they write, that they are idempotent, and that they
never replace a person's file (``--force`` aside). Real uv (offline, from its cache) and real
builds; the Bazel builds themselves are in test_bazel_init.py and test_bazel_clone.py."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from conftest import REPO, axl, write

from axl.scaffold._bazel import render
from axl.scaffold._project import requirement

#: uv may use its cache only: tests talk to nothing beyond this machine.
OFFLINE = {"UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
BAZEL_FILES = ("WORKSPACE", "BUILD.bazel", ".bazelrc", ".bazelignore")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".axl" not in p.parts and "workspace" not in p.parts
    }


# -- axl bazel init ---------------------------------------------------------------------------


def test_the_checkout_holds_exactly_what_bazel_init_writes() -> None:
    expected = render(None, ".venv")
    for name in BAZEL_FILES:
        assert (REPO / name).read_text() == expected[name], name
    done = axl("bazel", "init", cwd=REPO)
    assert done.code == 0, done.err
    for name in BAZEL_FILES:
        assert f"{name} is up to date" in done.out


def test_bazel_init_writes_then_is_idempotent(workspace: Path) -> None:
    first = axl("bazel", "init", cwd=workspace)
    assert first.code == 0, first.err
    assert [f"wrote {name}" for name in BAZEL_FILES] == first.out.splitlines()[:4]
    text = (workspace / "WORKSPACE").read_text()
    # axl runs from this checkout's venv, outside the project: both by absolute path.
    assert f'path = "{REPO}"' in text
    assert f'venv = "{Path(sys.prefix).resolve()}"' in text
    before = _snapshot(workspace)
    again = axl("bazel", "init", cwd=workspace)
    assert again.code == 0, again.err
    assert [f"{name} is up to date" for name in BAZEL_FILES] == again.out.splitlines()[:4]
    assert _snapshot(workspace) == before


def test_bazel_init_keeps_a_file_a_person_added_to(workspace: Path) -> None:
    assert axl("bazel", "init", cwd=workspace).code == 0
    rc = workspace / ".bazelrc"
    rc.write_text(rc.read_text() + "build --jobs=2\n")
    done = axl("bazel", "init", cwd=workspace)
    assert done.code == 0, done.err
    assert "kept .bazelrc (it holds what axl needs)" in done.out
    assert rc.read_text().endswith("build --jobs=2\n")


def test_bazel_init_refuses_a_differing_file_until_forced(workspace: Path) -> None:
    write(workspace / "WORKSPACE", 'workspace(name = "mine")\n')
    before = _snapshot(workspace)
    refused = axl("bazel", "init", cwd=workspace)
    assert refused.code == 2
    assert refused.err.startswith(
        f"error: {workspace}: WORKSPACE exists and differs from what axl bazel init writes\n"
    )
    assert "hint: rerun with --force" in refused.err
    assert _snapshot(workspace) == before  # nothing written, not even the other files
    forced = axl("bazel", "init", "--force", cwd=workspace)
    assert forced.code == 0, forced.err
    assert "replaced WORKSPACE" in forced.out
    assert "wrote .bazelrc" in forced.out
    assert 'name = "axl_python"' in (workspace / "WORKSPACE").read_text()


def test_a_root_build_file_exports_the_lockfile_itself(workspace: Path) -> None:
    """A root BUILD.bazel would hide the BUILD axl reads from Bazel: axl uses that BUILD."""
    write(workspace / "BUILD", 'axl_workflow(name = "w", workflow = "w.py:W")\n')
    refused = axl("bazel", "init", cwd=workspace)
    assert refused.code == 2
    assert "BUILD.bazel (a root BUILD.bazel would hide BUILD" in refused.err
    forced = axl("bazel", "init", "--force", cwd=workspace)
    assert forced.code == 0, forced.err
    assert 'appended BUILD (exports_files(["uv.lock"]))' in forced.out
    assert not (workspace / "BUILD.bazel").exists()
    assert (workspace / "BUILD").read_text().endswith('exports_files(["uv.lock"])\n')
    again = axl("bazel", "init", cwd=workspace)
    assert again.code == 0, again.err
    assert "kept BUILD (it exports uv.lock" in again.out


def test_bazel_init_adds_bazels_folders_to_an_existing_gitignore(workspace: Path) -> None:
    write(workspace / ".gitignore", ".axl/")  # no final newline
    done = axl("bazel", "init", cwd=workspace)
    assert done.code == 0, done.err
    assert "appended .gitignore (/bazel-*)" in done.out
    assert (workspace / ".gitignore").read_text() == ".axl/\n/bazel-*\n"


def test_a_venv_inside_the_project_is_written_relative() -> None:
    files = render(".venv/lib/python3.11/site-packages/axl/_bazel", ".venv")
    assert 'path = ".venv/lib/python3.11/site-packages/axl/_bazel"' in files["WORKSPACE"]
    assert 'venv = ".venv"' in files["WORKSPACE"]
    assert render(None, "env")[".bazelignore"] == ".venv\n.axl\nworkspace\nenv\n"


# -- axl init ---------------------------------------------------------------------------------


def test_init_then_build_twice_the_second_all_cached(tmp_path: Path) -> None:
    done = axl("init", "hello-world", cwd=tmp_path, env=OFFLINE)
    assert done.code == 0, done.err
    root = tmp_path / "hello-world"
    for name in ("pyproject.toml", "BUILD", "pipeline.py", "params.yaml", ".gitignore", "uv.lock"):
        assert f"wrote hello-world/{name}" in done.out, done.out
    assert "next: cd hello-world && axl build //:hello_world" in done.out
    ignored = (root / ".gitignore").read_text().splitlines()
    assert {".axl/", "/workspace/"} <= set(ignored)
    assert "# axl from the checkout" in (root / "pyproject.toml").read_text()
    # The lock holds axl itself, by the name this checkout's pyproject.toml gives it.
    dist, checkout = requirement()
    assert checkout == str(REPO)
    assert f'name = "{dist}"' in (root / "uv.lock").read_text()
    first = axl("build", "//:hello_world", "--json", cwd=root)
    assert first.code == 0, first.err
    steps = json.loads(first.out)["steps"]
    assert {s["status"] for s in steps.values()} == {"ran"}
    assert len(steps) == 3
    second = axl("build", "//:hello_world", "--json", cwd=root)
    assert second.code == 0, second.err
    assert {s["status"] for s in json.loads(second.out)["steps"].values()} == {"cached"}
    # The params file is applied: 100 values of 0.5 each step.
    summary = next(iter(steps["summary"]["outputs"].values()))
    assert json.loads(Path(summary["path"]).read_text()) == {
        "count": 100,
        "total": 2475.0,
        "max": 49.5,
    }


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "p" / "BUILD", "# mine\n")
    done = axl("init", "p", cwd=tmp_path, env=OFFLINE)
    assert done.code == 2
    assert done.err.startswith(f"error: {tmp_path / 'p'}: BUILD already exists; refusing")
    assert sorted(os.listdir(tmp_path / "p")) == ["BUILD"]
    assert (tmp_path / "p" / "BUILD").read_text() == "# mine\n"


def test_init_without_uv_says_there_is_no_lockfile_and_still_builds(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python3").symlink_to(sys.executable)
    done = axl("init", "here", cwd=tmp_path, env={"PATH": str(bare)})
    assert done.code == 0, done.err
    assert "note: uv is not installed, so there is no uv.lock yet" in done.out
    root = tmp_path / "here"
    assert not (root / "uv.lock").exists()
    assert axl("build", "//:here", cwd=root).code == 0


def test_init_in_the_current_folder(tmp_path: Path) -> None:
    folder = tmp_path / "7 Samurai"
    folder.mkdir()
    write(folder / ".gitignore", "*.log\n")
    done = axl("init", cwd=folder, env=OFFLINE)
    assert done.code == 0, done.err
    assert "next: axl build //:p_7_samurai" in done.out
    assert "appended ./.gitignore" in done.out
    assert (folder / ".gitignore").read_text().startswith("*.log\n.axl/\n")


def test_the_checkouts_generated_bazel_packages_are_up_to_date() -> None:
    """A fresh clone builds them with Bazel as committed (test_bazel_clone.py)."""
    for label in ("//examples:churn", "//examples:tiny"):
        done = axl("bazel", label, "--check", cwd=REPO)
        assert done.code == 0, done.err
        assert "is up to date" in done.out
