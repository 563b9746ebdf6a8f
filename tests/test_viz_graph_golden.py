"""Golden `axl graph` output (dot and mermaid) for the examples, compared byte for byte.

Each case builds the example in a throwaway workspace and cache, so the states are fixed (churn:
one build, every step ran; Tiny: built twice, every step cached; Tiny before any build: never
built) and the sizes are those of the example's outputs. The goldens hold no timings and no paths.
They change only with ``make golden`` (``AXL_REGENERATE_GOLDEN=1``), never in CI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import REPO, axl
from golden_files import check_golden

GOLDEN = REPO / "tests" / "golden" / "graph"
FORMATS = {"dot": "dot", "mmd": "mermaid"}

#: Case -> (workflow spec inside the copied examples, params file, builds before drawing).
CASES = {
    "churn": ("churn_workflow.py:ChurnWorkflow", "churn.yaml", 1),
    "tiny": ("tiny.py:Tiny", None, 2),
    "tiny_never_built": ("tiny.py:Tiny", None, 0),
}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], bytes]:
    """Every case's graph in every format, drawn once for the module."""
    root = tmp_path_factory.mktemp("golden-graph")
    (root / "pyproject.toml").write_text('[project]\nname = "ws"\nversion = "0"\n')
    (root / "uv.lock").write_text("version = 1\n")
    for name in ("churn_workflow.py", "churn.yaml", "tiny.py"):
        shutil.copy(REPO / "examples" / name, root / name)
    results: dict[tuple[str, str], bytes] = {("root", ""): str(root).encode()}
    for case, (spec, params, builds) in CASES.items():
        cache = root / f"cache-{case}"
        extra = ["-p", params] if params else []
        for _ in range(builds):
            r = axl("run", "local", "-m", spec, *extra, "--cache-dir", str(cache), cwd=root)
            assert r.code == 0, r.err
        for suffix, fmt in FORMATS.items():
            r = axl("graph", "-m", spec, *extra, "-f", fmt, "--cache-dir", str(cache), cwd=root)
            assert r.code == 0, r.err
            results[(case, suffix)] = r.out.encode()
    return results


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_graph(case: str, suffix: str, drawn: dict[tuple[str, str], bytes]) -> None:
    check_golden(
        GOLDEN / f"{case}.{suffix}", drawn[(case, suffix)], f"axl graph -f {FORMATS[suffix]}"
    )


@pytest.mark.parametrize("suffix", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_graph_is_machine_independent(case: str, suffix: str) -> None:
    text = (GOLDEN / f"{case}.{suffix}").read_text(encoding="utf-8")
    for leak in (str(REPO), "/tmp/", "/home/", "/root/"):
        assert leak not in text
    assert " ms" not in text  # no timings
    assert "seconds" not in text


def test_golden_graph_has_no_stale_files() -> None:
    known = {f"{case}.{suffix}" for case in CASES for suffix in FORMATS}
    stale = sorted(p.name for p in GOLDEN.glob("*") if p.name not in known)
    assert not stale, f"golden files without a case in CASES: {stale}"


def test_golden_graph_repeats_byte_for_byte(drawn: dict[tuple[str, str], bytes]) -> None:
    """Drawing again from the same cache gives the same bytes (nothing depends on the clock)."""
    root = Path(drawn[("root", "")].decode())
    r = axl("graph", "-m", "tiny.py:Tiny", "--cache-dir", str(root / "cache-tiny"), cwd=root)
    assert r.code == 0, r.err
    assert r.out.encode() == drawn[("tiny", "dot")]
