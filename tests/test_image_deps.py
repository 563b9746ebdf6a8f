"""Workflow dependency settings: one resolution for keys, images and the runner, and the errors
when they do not fit together (no engine needed)."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO
from image_helpers import FLOW, forget, lock, make_workspace, prepared

from axl.errors import UsageError
from axl.graph import environment_part
from axl.image import ImageOptions
from axl.ir import build_ir


def _flow(root: Path, attrs: str) -> None:
    """flow.py with class attributes ``attrs`` added to Flow."""
    text = (
        textwrap.dedent(FLOW)
        .lstrip()
        .replace(
            "class Flow(Workflow):\n", f"class Flow(Workflow):\n{textwrap.indent(attrs, '    ')}\n"
        )
    )
    (root / "flow.py").write_text(text)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _ir(root: Path):  # type: ignore[no-untyped-def]
    from axl._loader import load_workflow

    forget()
    return build_ir(load_workflow(str(root / "flow.py:Flow"), root))


def test_requirements_replace_the_lockfile_unless_both_are_asked_for(ws: Path) -> None:
    _flow(ws, 'requirements = ["six==1.16.0", "idna"]')
    ir = _ir(ws)
    assert not ir.use_lockfile
    env = environment_part(ir, ws)
    assert env["dependencies"].startswith("requirements:")
    image = prepared(ws)
    assert image.plan.deps_kind == "requirements"
    assert image.rendered.generated["deps/requirements.txt"] == b"idna\nsix==1.16.0\n"
    assert "deps/uv.lock" not in image.digests

    _flow(ws, 'use_lockfile = True\nrequirements = ["six"]')
    with pytest.raises(UsageError, match="both use_lockfile = True and requirements"):
        environment_part(_ir(ws), ws)
    with pytest.raises(UsageError, match="both use_lockfile = True and requirements"):
        prepared(ws)


def test_requirements_and_a_requirements_file_are_exclusive(ws: Path) -> None:
    (ws / "requirements.txt").write_text("six\n")
    _flow(ws, 'requirements = ["six"]\nrequirements_file = "requirements.txt"')
    with pytest.raises(UsageError, match="both requirements and requirements_file"):
        prepared(ws)


def test_a_requirements_file_must_exist(ws: Path) -> None:
    _flow(ws, 'requirements_file = "reqs/prod.txt"')
    with pytest.raises(UsageError, match="reqs/prod.txt does not exist"):
        prepared(ws)
    (ws / "reqs").mkdir()
    (ws / "reqs" / "prod.txt").write_text("six\n")
    image = prepared(ws)
    assert image.rendered.files["deps/requirements.txt"] == "reqs/prod.txt"
    assert environment_part(_ir(ws), ws)["dependencies"].startswith("reqs/prod.txt:")
    (ws / "reqs" / "prod.txt").write_text("six\n-r base.txt\n")
    with pytest.raises(UsageError, match=r"prod.txt line 2 refers to another file .*\(-r\)"):
        prepared(ws)


def test_baking_needs_the_lockfile_a_local_run_does_not(ws: Path) -> None:
    (ws / "uv.lock").unlink()
    assert environment_part(_ir(ws), ws)["dependencies"] == "uv.lock:absent"
    with pytest.raises(UsageError, match="needs uv.lock") as info:
        prepared(ws)
    assert "uv lock" in (info.value.hint or "")


def test_a_lockfile_out_of_date_with_pyproject_is_refused(ws: Path) -> None:
    pyproject = ws / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = []", 'dependencies = ["six"]')
    )
    with pytest.raises(UsageError, match="out of date with pyproject.toml") as info:
        prepared(ws)
    assert "uv lock" in (info.value.hint or "")


def test_extras_and_groups_must_exist(tmp_path: Path) -> None:
    root = make_workspace(
        tmp_path / "ws",
        extra="""
        [project.optional-dependencies]
        data = []

        [dependency-groups]
        dev = []
        """,
    )
    ok = prepared(root, ImageOptions(extras=("data",), groups=("dev",)))
    assert "--no-default-groups --extra data --group dev" in ok.rendered.dockerfile
    with pytest.raises(UsageError, match="no extra 'ml'") as info:
        prepared(root, ImageOptions(extras=("ml",)))
    assert info.value.hint == "its extras: data"
    with pytest.raises(UsageError, match="no dependency group 'docs'"):
        prepared(root, ImageOptions(groups=("docs",)))


def test_an_installable_project_brings_its_files(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "README.md").write_text("# ws\n")
    (root / "ws" / "__pycache__").mkdir(parents=True)
    (root / "ws" / "__init__.py").write_text("")
    (root / "ws" / "__pycache__" / "x.pyc").write_bytes(b"")
    make_workspace(
        root,
        extra="""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        """,
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[project]\n", '[project]\nreadme = "README.md"\n')
    )
    lock(root)
    image = prepared(root)
    assert image.rendered.files.keys() >= {
        "code/README.md",
        "code/pyproject.toml",
        "code/ws/__init__.py",
        "code/flow.py",
    }
    assert not any("__pycache__" in name for name in image.rendered.files)
    assert "-e /app" in image.rendered.dockerfile
    shutil.rmtree(root / "ws")
    with pytest.raises(UsageError, match="which files make up project 'ws'") as info:
        prepared(root)
    assert "--include" in (info.value.hint or "")


def test_axls_own_workspace_installs_axl_from_its_sources() -> None:
    """The examples' workspace is axl's: the image installs axl from the code layer."""
    forget()
    sys.modules.pop("examples.churn_workflow", None)
    image = prepared(REPO, spec="examples/tiny.py:Tiny", cache=False)
    files = image.rendered.files
    assert {"code/axl/__init__.py", "code/runner/manifest.schema.json", "code/LICENSE"} <= set(
        files
    )
    assert "code/examples/tiny.py" in files
    assert not any(name.startswith("code/tests/") for name in files)
    assert "uv pip install --python /opt/venv/bin/python --no-deps --prefix /opt/project" in (
        image.rendered.dockerfile
    )


def test_include_paths_must_exist(ws: Path) -> None:
    with pytest.raises(UsageError, match="include data/missing.csv does not exist"):
        prepared(ws, ImageOptions(include=("data/missing.csv",)))
    with pytest.raises(UsageError, match="outside the workspace"):
        prepared(ws, ImageOptions(include=("../elsewhere",)))
