"""``axl build-image`` as a command: its two front ends agree, and bad input is one ``error:``
line with a hint and exit code 2, before any engine is involved (or when none answers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_helpers import make_workspace

AXL = str(Path(sys.executable).with_name("axl"))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def axl(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AXL, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("error: "), proc.stderr
    assert [line for line in lines if line.startswith("error: ")] == [lines[0]]
    return proc.stderr


def test_the_fast_front_end_takes_the_typer_commands_options() -> None:
    import typer.main

    from axl.cli import app
    from axl.cli._fastimage import option_names

    command = typer.main.get_command(app).commands["build-image"]  # type: ignore[attr-defined]
    declared = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    assert {o for o in declared if o.startswith("-")} - {"--help"} == option_names()


def test_help_goes_through_typer(ws: Path) -> None:
    proc = axl("build-image", "--help", cwd=ws)
    assert proc.returncode == 0
    assert "--system-package" in proc.stdout
    assert "--ca-bundle" in proc.stdout
    missing = axl("build-image", cwd=ws)
    assert missing.returncode == 2
    assert "--module" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--build-arg", "NOVALUE"], "error: --build-arg 'NOVALUE' is not NAME=VALUE"),
        (["--tag", "repo@sha256:" + "0" * 64], "holds a digest"),
        (["--tag", "Upper/Case"], "is not a valid image repository"),
        (["--system-package", "bad;name"], "system package 'bad;name' is not valid"),
        (["--extra", "ml"], "the project defines no extra 'ml'"),
        (["--include", "nothing-here"], "include nothing-here does not exist"),
        (["--ca-bundle", "/no/such/ca.crt"], "--ca-bundle /no/such/ca.crt is not a file"),
    ],
)
def test_bad_options_are_one_error(ws: Path, args: list[str], message: str) -> None:
    err = _one_error(axl("build-image", "-m", "flow.py:Flow", *args, cwd=ws))
    assert message in err


def test_inconsistent_dependencies_are_one_error(ws: Path) -> None:
    flow = ws / "flow.py"
    flow.write_text(
        flow.read_text().replace(
            "class Flow(Workflow):\n",
            'class Flow(Workflow):\n    use_lockfile = True\n    requirements = ["six"]\n',
        )
    )
    err = _one_error(axl("build-image", "-m", "flow.py:Flow", cwd=ws))
    assert "sets both use_lockfile = True and requirements" in err
    assert "hint: keep one" in err


def test_no_engine_is_one_error(ws: Path) -> None:
    err = _one_error(
        axl("build-image", "-m", "flow.py:Flow", cwd=ws, DOCKER_HOST="unix:///nonexistent.sock")
    )
    assert "error: cannot reach a Docker engine at unix:///nonexistent.sock" in err
    assert "hint: start Docker" in err


def test_image_reference_pins_only_a_registry_digest() -> None:
    """What the Argo target gets from an image target (axl.image.image_reference)."""
    from axl.image import ImageResult, image_reference
    from axl.image._target import ImageTargetResult

    local = ImageResult(
        workflow="churn",
        key="ab" * 32,
        repository="registry.example.com/churn",
        tags=("registry.example.com/churn:" + "ab" * 16, "registry.example.com/churn:v1"),
        image_id="sha256:" + "cd" * 32,
        built=False,
    )
    assert image_reference(local) is None
    assert image_reference(local, pinned=False) == "registry.example.com/churn:" + "ab" * 16
    pushed = ImageResult(
        **{**local.__dict__, "repo_digest": "registry.example.com/churn@sha256:ef"}
    )
    assert image_reference(pushed) == "registry.example.com/churn@sha256:ef"
    assert pushed.reference == "registry.example.com/churn@sha256:ef"
    target = ImageTargetResult(None, "axl_image", "ok", image=pushed.reference, image_result=pushed)  # type: ignore[arg-type]
    assert image_reference(target) == "registry.example.com/churn@sha256:ef"
    assert target.to_json()["image"]["image"] == "registry.example.com/churn@sha256:ef"
    assert "in registry: registry.example.com/churn@sha256:ef" in pushed.summary()
