"""Golden Dockerfiles of the image emitter, compared byte for byte.

The goldens live in ``tests/golden/image/<case>.Dockerfile`` and change only with ``make golden``
(``AXL_REGENERATE_GOLDEN=1``), never in CI: a change to the template or the renderer shows up as
a reviewed diff. The specs are literal (not loaded from the examples), so adding a module to axl
does not move them.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace

import pytest
from conftest import REPO

from axl.emit.image import ImageSpec, render
from axl.errors import UsageError

GOLDEN = REPO / "tests" / "golden" / "image"
REGENERATE = os.environ.get("AXL_REGENERATE_GOLDEN") == "1"

CHURN = ImageSpec(
    workflow="churn",
    entry="examples.churn_workflow:ChurnWorkflow",
    base="axl-base:bookworm-python",
    deps_kind="lockfile",
    deps_files=("pyproject.toml", "uv.lock"),
    extras=("data",),
    groups=("dev",),
    install_project=True,
    code_files=("examples/churn_workflow.py", "axl/__init__.py", "pyproject.toml"),
    ca_bundle=True,
)

#: Case name -> spec. Each exercises one branch of the template.
CASES = {
    # A lockfile project that is installed (axl's own workspace: the churn example).
    "lockfile_project": CHURN,
    # A virtual lockfile project with system packages and build args, no CA.
    "lockfile_system": ImageSpec(
        workflow="score",
        entry="pipelines.score:Score",
        base="python:3.11-slim-bookworm",
        deps_kind="lockfile",
        deps_files=("pyproject.toml", "uv.lock"),
        code_files=("pipelines/__init__.py", "pipelines/score.py"),
        system_packages=("libpq5", "libgomp1"),
        build_args=("UV_INDEX_URL", "UV_EXTRA_INDEX_URL"),
    ),
    "requirements": ImageSpec(
        workflow="tiny",
        entry="tiny:Tiny",
        deps_kind="requirements",
        requirements=("pandas>=2", "axl==0.1.0"),
        code_files=("tiny.py",),
    ),
    "requirements_file": ImageSpec(
        workflow="tiny",
        entry="tiny:Tiny",
        deps_kind="file",
        deps_files=("requirements/prod.txt",),
        code_files=("tiny.py",),
        ca_bundle=True,
    ),
    "none": ImageSpec(
        workflow="tiny",
        entry="tiny:Tiny",
        base="axl-runner:latest",
        deps_kind="none",
        code_files=("tiny.py",),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dockerfile_golden(case: str) -> None:
    text = render(CASES[case]).dockerfile
    path = GOLDEN / f"{case}.Dockerfile"
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), str(path), "rendered"
            )
        )
        pytest.fail(f"{path.name} differs (make golden regenerates it):\n{diff}")


def test_context_layout_of_a_lockfile_project() -> None:
    rendered = render(CHURN)
    assert rendered.files == {
        "code/axl/__init__.py": "axl/__init__.py",
        "code/examples/churn_workflow.py": "examples/churn_workflow.py",
        "code/pyproject.toml": "pyproject.toml",
        "deps/pyproject.toml": "pyproject.toml",
        "deps/uv.lock": "uv.lock",
    }
    assert rendered.generated == {}
    assert rendered.ca_arcname == "axl-build/ca.crt"
    assert render(replace(CHURN, ca_bundle=False)).ca_arcname is None


def test_inline_requirements_become_a_sorted_file() -> None:
    rendered = render(CASES["requirements"])
    assert rendered.generated == {"deps/requirements.txt": b"axl==0.1.0\npandas>=2\n"}
    assert render(CASES["requirements_file"]).files["deps/requirements.txt"] == (
        "requirements/prod.txt"
    )


def test_the_order_options_come_in_does_not_change_the_dockerfile() -> None:
    spec = CASES["lockfile_system"]
    shuffled = replace(
        spec,
        system_packages=tuple(reversed(spec.system_packages)),
        build_args=tuple(reversed(spec.build_args)),
        code_files=tuple(reversed(spec.code_files)),
    )
    assert render(shuffled) == render(spec)


def test_the_ca_stays_in_the_builder_stage() -> None:
    text = render(CHURN).dockerfile
    final = text[text.rindex("\nFROM system\n") :]
    builder = text[text.index("FROM system AS builder") : text.rindex("\nFROM system\n")]
    assert "axl-build-ca" in builder
    assert "axl-build-ca" not in final
    assert "SSL_CERT_FILE" not in final


def test_the_dependency_layer_comes_before_the_code() -> None:
    text = render(CHURN).dockerfile
    final = text[text.rindex("\nFROM system\n") :]
    assert final.index("COPY --from=builder /opt/venv /opt/venv") < final.index("COPY code/")
    builder = text[: text.rindex("\nFROM system\n")]
    assert builder.index("COPY deps/") < builder.index("uv sync") < builder.index("COPY code/")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("system_packages", ("curl\nRUN rm -rf /",)),
        ("system_packages", ("Bad_Name",)),
        ("extras", ("data extra",)),
        ("groups", ("--all",)),
        ("build_args", ("1NAME",)),
        ("base", "python:3.11\nRUN x"),
        ("code_files", ("../outside.py",)),
        ("code_files", ("/etc/passwd",)),
        ("uv_version", "latest; rm"),
    ],
)
def test_values_that_would_break_the_dockerfile_are_refused(field: str, value: object) -> None:
    with pytest.raises(UsageError):
        replace(CHURN, **{field: value})


def test_extras_need_a_lockfile() -> None:
    with pytest.raises(UsageError, match="lockfile dependencies only"):
        replace(CASES["requirements"], extras=("data",))
