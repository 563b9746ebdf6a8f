"""Golden Argo YAML for the examples, compared byte for byte.

The goldens live in ``tests/golden/argo/<case>.yaml``; ``examples/churn_argo.yaml`` (what the
README tells users to submit) is the churn golden's twin. Both change only with ``make golden``
(``AXL_REGENERATE_GOLDEN=1``), never in CI, so a change to the emitter, the examples' code or
``uv.lock`` (the YAML pins both) shows up as a reviewed diff.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from golden_files import REGENERATE, check_golden

from axl.emit import write_output
from axl.emit.argo import check, dump_yaml, validate_objects

GOLDEN = REPO / "tests" / "golden" / "argo"
EXAMPLE = REPO / "examples" / "churn_argo.yaml"
PINNED = "registry.example.com/axl-churn@sha256:" + "0123456789abcdef" * 4

#: Case name -> `axl compile` arguments, run from the repository root. Add each new example here.
CASES = {
    "tiny": ["-m", "examples/tiny.py:Tiny"],
    "fanout": ["-m", "examples/fanout.py:FanOut"],
    "churn": ["-m", "examples/churn_workflow.py:ChurnWorkflow", "-p", "examples/churn.yaml"],
    # Workspace data: read from the image's workspace, or mapped from the artifact repository.
    "movies": ["-m", "examples/movies.py:MovieStats", "--image", PINNED],
    "movies_repo": [
        "-m",
        "examples/movies.py:MovieStats",
        "--image",
        PINNED,
        "--artifact-repo",
        "axl/movies",
    ],
    "churn_template": [
        "-m",
        "examples/churn_workflow.py:ChurnWorkflow",
        "-p",
        "examples/churn.yaml",
        "--kind",
        "WorkflowTemplate",
        "--image",
        PINNED,
        "--namespace",
        "ml",
        "--artifact-repo",
        "axl/churn",
        "--artifact-repo-ref",
        "artifact-repositories:minio",
    ],
}


def _compile(args: list[str]) -> bytes:
    """``axl compile --target argo`` as a user runs it, from the repository root."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "compile", "--target", "argo", *args],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def _write_atomic(path: Path, data: bytes) -> None:
    write_output(path, data.decode("utf-8"))


def _compare(expected_path: Path, actual: bytes, what: str) -> None:
    check_golden(expected_path, actual, what)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_argo(case: str) -> None:
    actual = _compile(CASES[case])
    path = GOLDEN / f"{case}.yaml"
    if REGENERATE:
        _write_atomic(path, actual)
        if case == "churn":
            _write_atomic(EXAMPLE, actual)
        return
    _compare(path, actual, f"axl compile --target argo {' '.join(CASES[case])}")


def test_golden_argo_example_is_the_churn_golden() -> None:
    # The file users submit is exactly what axl emits for the churn example.
    if REGENERATE:
        return
    _compare(GOLDEN / "churn.yaml", EXAMPLE.read_bytes(), "examples/churn_argo.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_argo_validates_and_round_trips(case: str) -> None:
    text = (GOLDEN / f"{case}.yaml").read_text(encoding="utf-8")
    objects = list(yaml.safe_load_all(text))
    # The manifest's ConfigMap, then the Argo object that mounts it.
    assert [o["kind"] for o in objects[:-1]] == ["ConfigMap"]
    document = objects[-1]
    found = check(document)
    assert found.errors == [], found.errors
    validate_objects(objects)
    assert dump_yaml(objects) == text  # loads back to dicts that dump to the same bytes
    assert "&id0" not in text  # no anchors ...
    assert "*id0" not in text  # ... and no aliases
    # Nothing of the machine that compiled: no paths, no Python version or platform (those of
    # the pod are the runner's to fill in).
    for needle in (str(REPO), "/home/", "/tmp/", '"platform":', '"python":'):
        assert needle not in text, needle


def test_golden_argo_has_no_stale_files() -> None:
    stale = sorted(p.stem for p in GOLDEN.glob("*.yaml") if p.stem not in CASES)
    assert not stale, f"golden files without a case in CASES: {stale}"
