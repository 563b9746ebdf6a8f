"""`axl report`: the HTML report of a churn build, rendered in a real headless Chromium.

The browser loads the file from disk (no server, no network), runs its script, and we check the
DOM it dumps (one DAG node and one timeline bar per step) and a screenshot (a real picture with
the state colours in it, not a blank page). Chromium and Graphviz come from Debian
(`scripts/system-deps.sh`); a test that needs one that is missing fails, saying which.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPO, Result, axl, write

STEPS = {"params", "generate", "features", "split", "train", "evaluate"}
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail(
            "chromium is not installed: run scripts/system-deps.sh (Debian package chromium)"
        )
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [exe, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


class _Dom(HTMLParser):
    """What the checks need from a dumped DOM: DAG nodes, timeline bars, the body's marks."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.in_dag = 0
        self.dag_nodes: list[str] = []
        self.bars: list[str] = []
        self.body: dict[str, str | None] = {}
        self.tables: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body":
            self.body = a
        if tag == "div" and a.get("id") == "dag":
            self.in_dag = len(self.stack) + 1
        if self.in_dag and tag == "g" and "node" in classes:
            self.dag_nodes.append(a.get("id") or "")
        if tag == "rect" and "bar" in classes:
            self.bars.append(a.get("data-step") or "")
        if tag == "table":
            self.tables.append(" ".join(classes))
        if tag == "img" and (a.get("src") or "").startswith("data:image/"):
            self.images += 1
        if tag not in {"br", "img", "meta", "input", "hr", "link"}:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        if self.in_dag and len(self.stack) < self.in_dag:
            self.in_dag = 0


def dump_dom(html: Path, tmp: Path) -> _Dom:
    proc = chromium(tmp, "--dump-dom", html.as_uri())
    dom = _Dom()
    dom.feed(proc.stdout.decode("utf-8"))
    return dom


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB/RGBA PNG (a small decoder: no Pillow here)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, bytearray()
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8, depth
            bpp = {2: 3, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += body
    raw, stride = zlib.decompress(bytes(idat)), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind_, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind_ == 1:
                line[i] = (line[i] + a) & 255
            elif kind_ == 2:
                line[i] = (line[i] + b) & 255
            elif kind_ == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind_ == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(b"".join(bytes(line[x : x + 3]) for x in range(0, stride, bpp)))
        prev = line
    return width, height, rows


class Churn:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / "cache"

    def axl(self, *args: str) -> Result:
        return axl(*args, "--cache-dir", str(self.cache), cwd=self.root)


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> Churn:
    """churn built twice: all steps ran, then `train` again (--rerun) and the rest cached."""
    root = tmp_path_factory.mktemp("report")
    write(root / "pyproject.toml", '[project]\nname = "ws"\nversion = "0"\n')
    write(root / "uv.lock", "version = 1\n")
    for name in ("churn_workflow.py", "churn.yaml"):
        shutil.copy(REPO / "examples" / name, root / name)
    project = Churn(root)
    spec = ("-m", "churn_workflow.py:ChurnWorkflow", "-p", "churn.yaml", "-j", "2")
    for extra in ((), ("--rerun", "train")):
        r = project.axl("run", "local", *spec, *extra)
        assert r.code == 0, r.err
    return project


@pytest.fixture(scope="module")
def report(churn: Churn) -> Path:
    out = churn.root / "report.html"
    r = churn.axl("report", "last", "--out", str(out))
    assert r.code == 0, r.err
    assert r.err == f"wrote {out}\n"
    return out


def test_report_is_one_self_contained_file(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for outside in ("<link", 'src="http', "src='http", 'href="http', "url(http", "@import"):
        assert outside not in html, outside
    assert "<script src" not in html
    # The previews: the metrics dict as a table, the head of a table with its schema.
    assert 'class="metrics"' in html
    assert "roc_auc" in html
    assert "4000 rows, 6 columns" in html
    assert "monthly_charges" in html
    assert "not unpickled for the preview" in html  # the model is described, never loaded


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.fail(
            "Graphviz is not installed: run scripts/system-deps.sh (Debian package graphviz)"
        )
    dom = dump_dom(report, tmp_path)
    assert dom.body.get("data-timeline") == "ready", "the report's script did not run"
    assert sorted(dom.dag_nodes) == sorted(f"step-{s}" for s in STEPS)
    assert sorted(dom.bars) == sorted(STEPS)
    assert "metrics" in dom.tables

    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", report.as_uri())
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 900)
    colours = {row[x : x + 3] for row in rows[::4] for x in range(0, len(row), 12)}
    assert len(colours) > 50, f"the page looks blank ({len(colours)} colours)"
    # The fills of "ran" and "cached" steps (in the DAG and the timeline) are on screen.
    every = {row[x : x + 3] for row in rows for x in range(0, len(row), 3)}
    assert bytes.fromhex("c8e6c9") in every
    assert bytes.fromhex("bbdefb") in every


def test_report_without_graphviz_draws_its_own_dag(churn: Churn, tmp_path: Path) -> None:
    from axl.cache._local import LocalStore
    from axl.exec._history import find_run
    from axl.viz._report_html import build_report

    store = LocalStore(churn.cache)
    html = build_report(find_run(store, "last"), store, graphviz=False)
    assert 'class="dag builtin"' in html
    page = tmp_path / "builtin.html"
    page.write_text(html, encoding="utf-8")
    dom = dump_dom(page, tmp_path)
    assert dom.body.get("data-timeline") == "ready"
    assert sorted(dom.dag_nodes) == sorted(f"step-{s}" for s in STEPS)
    assert sorted(dom.bars) == sorted(STEPS)


def test_report_of_unknown_run(churn: Churn) -> None:
    r = churn.axl("report", "nope", "--out", str(churn.root / "x.html"))
    assert r.code == 2
    assert r.err.startswith("error: no run 'nope'")
    assert not (churn.root / "x.html").exists()
