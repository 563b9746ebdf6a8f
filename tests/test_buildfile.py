"""BUILD files: parsed with ast (never run), checked against the rule registry, errors at
``BUILD:line`` with a "did you mean"; the target graph: ``:all``/``...`` expansion, deps, query."""

from __future__ import annotations

from pathlib import Path

import pytest

from axl.errors import BuildFileError, LabelError, UsageError
from axl.graph._buildfile import parse_build_text
from axl.graph._labels import Label
from axl.graph._rules import RuleKind, kinds
from axl.graph._targets import TargetGraph
from tests.conftest import write

GOOD = """
load("//rules:axl.bzl", "axl_workflow")  # accepted and ignored, for Bazel
package(default_visibility = ["//visibility:public"])

\"\"\"The examples.\"\"\"

axl_workflow(
    name = "churn",
    workflow = "churn_workflow.py:ChurnWorkflow",
    params = "churn.yaml",
    tags = ["demo"],
)
axl_image(name = "churn_image", workflow = ":churn")
argo_workflow(name = "churn_argo", workflow = ":churn", image = ":churn_image")
dagster_job(name = "churn_dagster", workflow = "//examples:churn")
py_library(name = "lib", srcs = glob(["*.py"]))
"""


def parse(text: str, package: str = "examples") -> dict[str, object]:
    return parse_build_text(text, Path(f"/ws/{package}/BUILD"), package).targets  # type: ignore[return-value]


def error(text: str) -> BuildFileError:
    with pytest.raises(BuildFileError) as info:
        parse_build_text(text, Path("/ws/examples/BUILD"), "examples")
    return info.value


def test_good_file() -> None:
    targets = parse_build_text(GOOD, Path("/ws/examples/BUILD"), "examples").targets
    assert list(targets) == ["churn", "churn_image", "churn_argo", "churn_dagster", "lib"]
    churn = targets["churn"]
    assert churn.label == Label("examples", "churn")
    assert churn.kind.name == "axl_workflow"
    assert churn.attrs["params"] == "churn.yaml"
    assert churn.line == 7
    assert churn.deps == ()
    argo = targets["churn_argo"]
    assert argo.deps == (Label("examples", "churn"), Label("examples", "churn_image"))
    assert targets["churn_dagster"].deps == (Label("examples", "churn"),)
    # Bazel's own rules: any attributes, even calls like glob(), never checked or built.
    assert targets["lib"].kind.bazel_only


def test_registry_has_the_kinds() -> None:
    names = set(kinds())
    assert {"axl_workflow", "axl_image", "argo_workflow", "dagster_job", "py_library"} <= names
    assert kinds()["axl_workflow"].builder is not None


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        (
            '\n\naxl_workfow(name = "x", workflow = "a.py:A")\n',
            3,
            "unknown rule kind 'axl_workfow'",
            "did you mean axl_workflow?",
        ),
        ('frobnicate(name = "x")\n', 1, "unknown rule kind 'frobnicate'", "axl rule kinds:"),
        (
            'axl_workflow(\n    name = "x",\n    workflow = "a.py:A",\n    parms = "p.yaml",\n)\n',
            4,
            "axl_workflow has no attribute 'parms'",
            "did you mean params?",
        ),
        (
            'axl_workflow(\n    name = "x",\n    workflow = ["a.py:A"],\n)\n',
            3,
            "attribute 'workflow' must be a string, got list",
            None,
        ),
        (
            'axl_workflow(name = "x", workflow = "a.py:A", deps = ":y")\n',
            1,
            "attribute 'deps' must be a list of label strings",
            None,
        ),
        (
            'W = "a.py:A"\naxl_workflow(name = "x", workflow = W)\n',
            1,
            "may only hold rule calls, not an assignment",
            None,
        ),
        (
            'axl_workflow(\n    name = "x",\n    workflow = WORKFLOW,\n)\n',
            3,
            "attribute 'workflow' is not a literal value: WORKFLOW",
            "never run",
        ),
        (
            'axl_workflow(name = "x", workflow = "a.py:" + "A")\n',
            1,
            "is not a literal value",
            None,
        ),
        (
            'axl_workflow(name = "x", workflow = "a.py:A")\n\n'
            'axl_workflow(name = "x", workflow = "b.py:B")\n',
            3,
            "duplicate target name 'x' (first declared on line 1)",
            None,
        ),
        ('axl_workflow(name = "x",\n  workflow = "a.py:A"\n', 1, "syntax error", None),
        ('axl_workflow(name = "x")\n', 1, "axl_workflow needs attribute 'workflow'", None),
        ('axl_workflow("x", workflow = "a.py:A")\n', 1, "keyword arguments only", None),
        (
            'axl_workflow(name = "x", workflow = "a.py:A", name = "y")\n',
            1,
            "given twice",
            None,
        ),
        ('axl_workflow(name = "all", workflow = "a.py:A")\n', 1, "may not be named 'all'", None),
        ('axl_workflow(name = "a b", workflow = "a.py:A")\n', 1, "target name 'a b'", None),
        (
            'axl_image(\n  name = "i",\n  workflow = "//x:all",\n)\n',
            3,
            "attribute 'workflow'",
            None,
        ),
        ('native.axl_workflow(name = "x")\n', 1, "is not a rule call", None),
        ("import os\n", 1, "not an import", None),
    ],
)
def test_errors_name_the_line(text: str, line: int, message: str, hint: str | None) -> None:
    exc = error(text)
    assert exc.line == line, exc.render()
    assert message in exc.message, exc.render()
    assert exc.render().startswith(f"{exc.file}:{line}: ")
    assert str(exc.file).endswith("BUILD")
    if hint is not None:
        assert hint in str(exc.hint)


# -- the target graph --------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> TargetGraph:
    write(
        tmp_path / "BUILD",
        'axl_workflow(name = "top", workflow = "top.py:Top", deps = ["//a:one"])\n',
    )
    write(
        tmp_path / "a" / "BUILD",
        """
        axl_workflow(name = "one", workflow = "one.py:One")
        axl_workflow(name = "two", workflow = "two.py:Two", deps = [":one"])
        axl_image(name = "a", workflow = ":two")
        """,
    )
    write(tmp_path / "a" / "b" / "BUILD.bazel", 'py_library(name = "lib", srcs = ["x.py"])\n')
    deep = tmp_path / "a" / "nobuild" / "c"
    write(deep / "BUILD", 'axl_workflow(name = "c", workflow = "c.py:C")\n')
    # Never searched: hidden folders, the readable output view, virtualenvs' site-packages.
    write(tmp_path / ".hidden" / "BUILD", 'axl_workflow(name = "h", workflow = "h.py:H")\n')
    write(tmp_path / "workspace" / "BUILD", 'axl_workflow(name = "w", workflow = "w.py:W")\n')
    return TargetGraph(tmp_path)


def labels(graph: TargetGraph, *patterns: str, cwd: Path | None = None) -> list[str]:
    return [str(x) for x in graph.expand(patterns, cwd=cwd or graph.root)]


def test_expand_recursive_and_all(tree: TargetGraph) -> None:
    assert tree.packages_under("") == ["", "a", "a/b", "a/nobuild/c"]
    assert labels(tree, "//...") == [
        "//:top",
        "//a:one",
        "//a:two",
        "//a:a",
        "//a/b:lib",
        "//a/nobuild/c:c",
    ]
    assert labels(tree, "//a/...") == [
        "//a:one",
        "//a:two",
        "//a:a",
        "//a/b:lib",
        "//a/nobuild/c:c",
    ]
    assert labels(tree, "//a:all") == ["//a:one", "//a:two", "//a:a"]
    assert labels(tree, "//a") == ["//a:a"]
    assert labels(tree, "//a:two", "//a:all") == ["//a:two", "//a:one", "//a:a"]


def test_relative_patterns_use_the_current_folder(tree: TargetGraph) -> None:
    a = tree.root / "a"
    assert labels(tree, ":one", cwd=a) == ["//a:one"]
    assert labels(tree, "b:lib", "...", cwd=a)[0] == "//a/b:lib"
    assert tree.cwd_package(a / "nobuild") == "a/nobuild"


def test_missing_targets_and_packages(tree: TargetGraph) -> None:
    with pytest.raises(LabelError) as info:
        tree.expand(["//a:too"])
    assert "no target '//a:too' in" in info.value.message
    assert info.value.hint == "did you mean //a:two?"
    with pytest.raises(LabelError) as info:
        tree.expand(["//a/bb:x"])
    assert "no package //a/bb" in info.value.message
    assert info.value.hint == "did you mean //a/b?"
    with pytest.raises(LabelError, match="there is no BUILD file in a/nobuild/"):
        tree.expand(["//a/nobuild:all"])
    with pytest.raises(LabelError, match="does not exist"):
        tree.expand(["//zzz/..."])


def test_deps_closure_and_query(tree: TargetGraph) -> None:
    order = [str(t.label) for t in tree.closure([Label("", "top"), Label("a", "a")])]
    assert order == ["//a:one", "//:top", "//a:two", "//a:a"]
    assert sorted(str(t.label) for t in tree.query("deps(//a:a)")) == [
        "//a:a",
        "//a:one",
        "//a:two",
    ]
    assert sorted(str(t.label) for t in tree.query("deps(//a:a, 1)")) == ["//a:a", "//a:two"]
    assert len(tree.query("//a/...")) == 5
    with pytest.raises(LabelError) as info:
        tree.query("dep(//a:a)")
    assert info.value.hint == "did you mean deps()?"


def test_build_bazel_wins_over_build(tmp_path: Path) -> None:
    write(tmp_path / "BUILD", 'axl_workflow(name = "plain", workflow = "x.py:X")\n')
    write(tmp_path / "BUILD.bazel", 'axl_workflow(name = "bazel", workflow = "x.py:X")\n')
    assert [str(x) for x in TargetGraph(tmp_path).expand(["//:all"])] == ["//:bazel"]


def test_missing_dep_is_reported_at_the_rule(tmp_path: Path) -> None:
    text = '\naxl_workflow(name = "x", workflow = "x.py:X", deps = [":y"])\n'
    (tmp_path / "BUILD").write_text(text)
    graph = TargetGraph(tmp_path)
    with pytest.raises(BuildFileError) as info:
        graph.closure([Label("", "x")])
    assert info.value.line == 2
    assert "//:x depends on //:y: no target '//:y'" in info.value.message


def test_cycles_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path / "BUILD",
        """
        axl_workflow(name = "x", workflow = "x.py:X", deps = [":y"])
        axl_workflow(name = "y", workflow = "y.py:Y", deps = [":z"])
        axl_workflow(name = "z", workflow = "z.py:Z", deps = [":x"])
        """,
    )
    with pytest.raises(BuildFileError, match=r"dependency cycle: //:x -> //:y -> //:z -> //:x"):
        TargetGraph(tmp_path).closure([Label("", "x")])


def test_kinds_without_builders_refuse_to_build() -> None:
    # Every axl kind has a builder now; a kind registered without one still refuses.
    with pytest.raises(UsageError, match="rule kind later_kind is not buildable yet"):
        RuleKind("later_kind", "A kind whose builder is not written yet.").load_builder()
    with pytest.raises(UsageError, match="py_library is a Bazel rule"):
        kinds()["py_library"].load_builder()
    assert callable(kinds()["axl_workflow"].load_builder())
