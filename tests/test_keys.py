"""What enters an action key and what does not."""

from __future__ import annotations

from pathlib import Path

from conftest import write

from axl.graph import CodeIndex, environment_part, key_parts
from axl.graph._keys import explain_change
from axl.ir import build_ir


def _ir_and_code(workspace: Path, src: str):  # type: ignore[no-untyped-def]
    from axl._loader import load_workflow

    write(workspace / "k.py", src)
    cls = load_workflow("k.py:K", workspace)
    ir = build_ir(cls)
    index = CodeIndex(workspace)
    steps = cls.steps()
    return ir, {n.name: index.step_code(steps[n.step].fn, cls) for n in ir.nodes}


BASE = """
from axl import Workflow, step


class K(Workflow):
    @step({opts})
    def one(self) -> int:
        return 1

    def graph(self):
        return self.one()
"""


def _key(workspace: Path, opts: str, name: str) -> str:
    import sys

    sys.modules.pop("k", None)
    (workspace / "k.py").unlink(missing_ok=True)
    src = BASE.replace("{opts}", opts)
    ir, code = _ir_and_code(workspace, src)
    node = ir.get_node("one")
    env = environment_part(ir, workspace)
    del name
    return key_parts(ir, node, code["one"], env, {}).key


def test_resources_and_retries_do_not_change_the_key(workspace: Path) -> None:
    plain = _key(workspace, "", "a")
    assert _key(workspace, 'resources={"cpu": "2"}, retries=3', "b") == plain
    assert _key(workspace, 'cache_version="2"', "c") != plain
    assert _key(workspace, 'env={"SEED": "1"}', "d") != plain
    assert _key(workspace, 'io_handler="cloudpickle"', "e") != plain


def test_environment_part_reads_the_lockfile(workspace: Path) -> None:
    ir, _ = _ir_and_code(workspace, BASE.replace("{opts}", ""))
    before = environment_part(ir, workspace)
    (workspace / "uv.lock").write_text("version = 1\n# changed\n")
    after = environment_part(ir, workspace)
    assert before["dependencies"] != after["dependencies"]
    assert before["python"] == after["python"]
    assert explain_change({"environment": before}, {"environment": after}) == ["uv.lock changed"]


def test_explain_change_for_a_first_build() -> None:
    assert explain_change(None, {}) == ["it had never been built before"]
