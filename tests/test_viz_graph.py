"""`axl graph` through the CLI (states of a failed build, svg/png through Graphviz, errors) and
the pure pieces behind it: the view model, the Mermaid ids, the built-in SVG layout."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Result, axl, write

from axl.exec._history import Run
from axl.viz._layout import layout_svg
from axl.viz._mermaid import _ids, to_mermaid
from axl.viz._model import EdgeView, GraphView, NodeView, OutputView, from_run, human_size

WF = """
from axl import Workflow, step


class W(Workflow):
    @step
    def params(self) -> dict:
        return {"fail": True}

    @step
    def load(self) -> bytes:
        return b"x" * 3000

    @step
    def check(self, data: bytes, fail: bool) -> int:
        if fail:
            raise RuntimeError("no")
        return len(data)

    @step
    def publish(self, n: int) -> int:
        return n

    @step
    def later(self, data: bytes) -> int:
        return 1

    def graph(self):
        p = self.params()
        data = self.load()
        self.later(data)
        return self.publish(self.check(data, p["fail"]))
"""

BUILD = """
axl_workflow(name = "w", workflow = "wf.py:W")
dagster_job(name = "job", workflow = ":w")
"""


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root

    def axl(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return axl(*args, "--cache-dir", str(self.root / "cache"), cwd=self.root, env=env)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A workflow whose `check` failed in its last build (so `publish` was skipped)."""
    root = tmp_path_factory.mktemp("graph")
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    write(root / "wf.py", WF)
    write(root / "BUILD", BUILD)
    p = Project(root)
    r = p.axl("run", "local", "-m", "wf.py:W", "--keep-going", "-j", "1")
    assert r.code == 1, r.err
    return p


def _node_line(dot: str, name: str) -> str:
    return next(line for line in dot.splitlines() if line.startswith(f'  "{name}" ['))


def test_dot_shows_each_state_of_the_last_build(project: Project) -> None:
    r = project.axl("graph", "-m", "wf.py:W")
    assert r.code == 0, r.err
    assert 'fillcolor="#ffcdd2"' in _node_line(r.out, "check")
    assert "failed</font>" in _node_line(r.out, "check")
    assert "dashed" in _node_line(r.out, "publish")
    assert "skipped</font>" in _node_line(r.out, "publish")
    assert "bytes · 2.9 KiB<br/>ran" in _node_line(r.out, "load")
    assert '"load" -> "check" [label="data"];' in r.out
    assert '"params" -> "check" [label="fail"];' in r.out


def test_mermaid_by_label(project: Project) -> None:
    r = project.axl("graph", "//:w", "--format", "mermaid")
    assert r.code == 0, r.err
    assert r.out.splitlines()[1] == "flowchart LR"
    assert "  class check failed" in r.out
    assert "  class publish skipped" in r.out
    assert "  class params,load,later ran" in r.out
    assert '  load -->|"data"| check' in r.out


def test_svg_and_png_through_graphviz(project: Project) -> None:
    r = project.axl("graph", "-m", "wf.py:W", "-o", "g.svg")  # the format from the suffix
    assert r.code == 0, r.err
    svg = (project.root / "g.svg").read_text()
    assert "<svg" in svg
    assert len(re.findall(r'class="node"', svg)) == 5
    r = project.axl("graph", "-m", "wf.py:W", "-f", "png", "--out", "g.out")
    assert r.code == 0, r.err
    assert (project.root / "g.out").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = project.axl("graph", "-m", "wf.py:W", "-f", "svg")
    assert r.code == 0, r.err
    assert "<svg" in r.out


def test_svg_without_graphviz_names_the_package(project: Project, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    r = project.axl("graph", "-m", "wf.py:W", "-f", "png", "-o", "x.png", env={"PATH": str(empty)})
    assert r.code == 2
    lines = r.err.splitlines()
    assert lines[0] == (
        "error: --format png needs Graphviz's `dot` program, which is not installed "
        "(Debian package: graphviz)"
    )
    assert lines[1].startswith("hint: apt-get install graphviz")
    assert len(lines) == 2
    assert not (project.root / "x.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("-m", "wf.py:W", "-f", "jpeg"),
            "error: --format jpeg is not one of dot, mermaid, svg, png",
        ),
        (
            ("//:w", "-m", "wf.py:W"),
            "error: name the workflow either by label or with -m, not both",
        ),
        ((), "error: which workflow? name it by label or with -m"),
        (("//:job",), "error: //:job is a dagster_job target, not a workflow"),
        (("-m", "wf.py:W", "-o", "no/such/dir/g.dot"), "error: --out no/such/dir/g.dot: folder"),
    ],
)
def test_graph_usage_errors(project: Project, args: tuple[str, ...], message: str) -> None:
    r = project.axl("graph", *args)
    assert r.code == 2
    assert r.err.startswith(message), r.err
    assert "Traceback" not in r.err


def test_graph_of_a_workflow_never_built(project: Project) -> None:
    r = axl("graph", "-m", "wf.py:W", "--cache-dir", str(project.root / "fresh"), cwd=project.root)
    assert r.code == 0, r.err
    assert r.out.count("never built") == 6  # five steps and the legend


# -- pure pieces --------------------------------------------------------------------------------


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 GiB",
    ]


def test_mermaid_ids_are_safe_and_unique() -> None:
    ids = _ids(["end", "a-b", "a_b", "9x", "graph", "ok"])
    assert ids == {
        "end": "s_end",
        "a-b": "a_b",
        "a_b": "a_b_2",
        "9x": "s_9x",
        "graph": "s_graph",
        "ok": "ok",
    }


def test_mermaid_escapes_labels() -> None:
    view = GraphView(
        "w",
        (NodeView("a", "step", "ran", (OutputView("out", 'x"<y>', 3),)),),
        (),
    )
    assert 'a["<b>a</b><br/>x#quot;#lt;y#gt; · 3 B<br/>ran"]' in to_mermaid(view)


def _view(n: int) -> GraphView:
    """A chain of ``n`` steps plus edges from the first step to every other (long edges)."""
    names = [f"s{i}" for i in range(n)]
    nodes = tuple(NodeView(s, "step", "ran", (OutputView("out", "json", 10),)) for s in names)
    edges = [EdgeView(a, b, "x") for a, b in zip(names, names[1:], strict=False)]
    edges += [EdgeView(names[0], b, "p") for b in names[2:]]
    return GraphView("chain", nodes, tuple(edges))


def test_builtin_layout_routes_long_edges_between_columns() -> None:
    svg = layout_svg(_view(5))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.iter(f"{ns}g")
    nodes = [g for g in groups if "node" in (g.get("class") or "").split()]
    assert [g.get("id") for g in nodes] == [f"step-s{i}" for i in range(5)]
    edges = [g for g in root.iter(f"{ns}g") if g.get("class") == "edge"]
    assert len(edges) == 4 + 3
    assert "nan" not in svg.lower()
    # Each column's box, and every edge's straight runs (waypoints) stay out of the boxes.
    boxes = [
        tuple(float(r.get(k) or 0) for k in ("x", "y", "width", "height"))
        for g in nodes
        for r in g.iter(f"{ns}rect")
    ]
    for edge in edges:
        d = next(edge.iter(f"{ns}path")).get("d") or ""
        for x1, y1, x2, y2 in re.findall(r"([\d.]+),([\d.]+) L([\d.]+),([\d.]+)", d):
            for bx, by, bw, bh in boxes:
                inside_x = bx < float(x1) < bx + bw or bx < float(x2) < bx + bw
                assert not (inside_x and by < float(y1) < by + bh), (d, (bx, by))


def test_view_of_an_old_record_recovers_edges_from_digests(tmp_path: Path) -> None:
    record = {
        "run": "r1",
        "workflow": "w",
        "started": 1.0,
        "finished": 2.0,
        "steps": {
            "a": {
                "status": "ran",
                "outputs": {"out": {"digest": "d1", "size": 5, "handler": "json", "extension": ""}},
                "parts": {"inputs": {}, "options": {"kind": "params"}},
            },
            "b": {
                "status": "skipped",
                "outputs": {},
                "parts": {"inputs": {"x": {"digest": "d1"}, "k": {"const": 3}}},
            },
        },
    }
    view = from_run(Run.from_json(record, tmp_path / "r1.json"))
    assert [(n.name, n.kind, n.status) for n in view.nodes] == [
        ("a", "params", "ran"),
        ("b", "step", "skipped"),
    ]
    assert view.edges == (EdgeView("a", "b", "x"),)
