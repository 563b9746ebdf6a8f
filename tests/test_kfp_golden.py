"""Golden KFP pipeline specs for the examples, compared byte for byte and loaded by KFP's SDK.

The goldens live in ``tests/golden/kfp/<case>.yaml`` and change only with ``make golden``
(``AXL_REGENERATE_GOLDEN=1``), so a change to the emitter, the examples' code or ``uv.lock``
(the spec pins both) shows up as a reviewed diff.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO
from golden_files import REGENERATE, check_golden
from kfp_helpers import PINNED, load_checked

from axl.emit.argo import dump_yaml

GOLDEN = REPO / "tests" / "golden" / "kfp"

#: Case name -> `axl compile --target kfp` arguments, run from the repository root.
CASES = {
    "tiny": ["-m", "examples/tiny.py:Tiny"],
    "fanout": ["-m", "examples/fanout.py:FanOut"],
    "churn": ["-m", "examples/churn_workflow.py:ChurnWorkflow", "-p", "examples/churn.yaml"],
    # Workspace data, keyed at compile time: the pods read it from the image and refuse others.
    "movies": ["-m", "examples/movies.py:MovieStats"],
    "churn_remote": [
        "-m",
        "examples/churn_workflow.py:ChurnWorkflow",
        "-p",
        "examples/churn.yaml",
        "--image",
        PINNED,
        "--remote-cache",
        "http://axl-cache.ci.svc:8080/axl",
        "--cache-secret-ref",
        "axl-cache",
    ],
}


def _compile(args: list[str]) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "compile", "--target", "kfp", *args],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_kfp(case: str) -> None:
    actual = _compile(CASES[case])
    check_golden(
        GOLDEN / f"{case}.yaml", actual, f"axl compile --target kfp {' '.join(CASES[case])}"
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_kfp_loads_in_kfp_and_round_trips(case: str) -> None:
    path = GOLDEN / f"{case}.yaml"
    component, spec, platform = load_checked(path)
    assert component.name == spec["pipelineInfo"]["name"]
    # Every step is a task of the pipeline, not a component loaded alone.
    assert component.pipeline_spec is not None
    text = path.read_text(encoding="utf-8")
    assert dump_yaml(spec) + "---\n" + dump_yaml(platform) == text
    for needle in (str(REPO), "/home/", "/tmp/", '"platform":', '"python":', "&id0", "*id0"):
        assert needle not in text, needle


def test_golden_kfp_has_no_stale_files() -> None:
    if REGENERATE:
        return
    stale = sorted(p.stem for p in GOLDEN.glob("*.yaml") if p.stem not in CASES)
    assert not stale, f"golden files without a case in CASES: {stale}"
