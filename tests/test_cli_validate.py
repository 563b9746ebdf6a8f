from pathlib import Path

from conftest import REPO, axl


def test_version() -> None:
    r = axl("--version")
    assert r.code == 0
    assert r.out.startswith("axl 0.")


def test_validate_example_summary() -> None:
    r = axl("validate", "-m", "examples/tiny.py:Tiny", cwd=REPO)
    assert r.code == 0, r.err
    assert "workflow Tiny: 3 steps, 2 edges" in r.out


def test_validate_json_round_trips(tmp_path: Path) -> None:
    from axl import ir

    r = axl("validate", "-m", "examples/tiny.py:Tiny", "--json", cwd=REPO)
    assert r.code == 0, r.err
    loaded = ir.loads(r.out)
    assert ir.dumps(loaded) == r.out
