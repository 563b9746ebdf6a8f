"""``axl report``: one self-contained HTML file describing a recorded build.

The page holds the DAG (Graphviz's SVG when ``dot`` is installed, else :mod:`axl.viz._layout`'s),
a timeline of the steps drawn by an inline script from the run data embedded as JSON, and per step
its outputs' previews, its error and its captured logs. Nothing is fetched: it opens from disk.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from axl import __version__
from axl.cache._local import LocalStore
from axl.errors import UsageError
from axl.exec._history import Run, StepRun
from axl.viz._dot import have_graphviz, render, to_dot
from axl.viz._layout import layout_svg
from axl.viz._model import NEVER, STYLES, GraphView, from_run, human_size, style
from axl.viz._previews import preview
from axl.viz._report_assets import CSS, JS

#: Logs longer than this show their end only (where the error usually is).
MAX_LOGS = 64 * 1024
#: Above this many steps the DAG is not drawn (Graphviz would take minutes, and nobody reads it).
MAX_DAG_STEPS = 400
#: Outputs of this many steps are previewed; later steps are listed without previews.
MAX_PREVIEWED = 150


def dag_svg(view: GraphView, *, graphviz: bool | None = None) -> str:
    """The DAG as an inline ``<svg>``: Graphviz's when available (``graphviz=None``: if installed),
    else the built-in layout. Either way each step is a ``g.node`` with id ``step-<name>``."""
    if len(view.nodes) > MAX_DAG_STEPS:
        return (
            f'<p class="note">{len(view.nodes)} steps: too many to draw here; try '
            "axl graph ... --format svg</p>"
        )
    if graphviz is None:
        graphviz = have_graphviz()
    if graphviz:
        try:
            svg = render(to_dot(view, ids=True), "svg").decode("utf-8")
        except UsageError:
            pass
        else:
            # Drop the XML prolog and doctype: the element is inlined into HTML.
            return svg[svg.index("<svg") :]
    return layout_svg(view)


def _chip(status: str, text: str | None = None) -> str:
    fill, border, label = style(status)
    return (
        f'<span class="chip" style="background:{fill};border-color:{border}">'
        f"{escape(text or label)}</span>"
    )


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "?"


def _saved(store: LocalStore, step: StepRun) -> float | None:
    """For a cache hit, how long the step took when it ran (the time the hit saved)."""
    if step.status != "cached" or step.key is None:
        return None
    record = store.get_record(step.key)
    return round(record.seconds, 6) if record is not None else None


def _data(run: Run, store: LocalStore, view: GraphView) -> dict[str, Any]:
    order = {n.name: i for i, n in enumerate(view.nodes)}
    steps = []
    for name, step in run.steps.items():
        start = round(step.started - run.started, 6) if step.started else None
        steps.append(
            {
                "name": name,
                "status": step.status,
                "start": start,
                "seconds": round(step.seconds, 6),
                "saved": _saved(store, step),
                "attempts": step.attempts,
                "order": order.get(name, len(order)),
            }
        )
    return {
        "workflow": run.workflow,
        "run": run.id,
        "seconds": round(run.seconds, 6),
        "steps": steps,
        "colours": {s: [f, b] for s, (f, b, _) in STYLES.items()},
    }


def _script_json(data: dict[str, Any]) -> str:
    # Escaped so that no value can close the <script> element or open a comment.
    text = json.dumps(data, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _logs(store: LocalStore, step: StepRun) -> str:
    if step.log_digest is None:
        return ""
    path = store.blob_path(step.log_digest)
    if not store.has_blob(step.log_digest):
        return '<p class="note">logs: no longer in the cache</p>'
    raw = path.read_bytes()
    cut = len(raw) > MAX_LOGS
    text = raw[-MAX_LOGS:].decode("utf-8", errors="replace")
    label = f"logs ({human_size(len(raw))}{', the end only' if cut else ''})"
    return f"<details><summary>{label}</summary><pre>{escape(text)}</pre></details>"


def _step(store: LocalStore, step: StepRun, kind: str, *, previews: bool = True) -> str:
    parts = [f'<article class="step" id="detail-{escape(step.name, quote=True)}">']
    secs = f"{step.seconds:.3f} s" if step.status != "cached" else ""
    parts.append(
        f'<h3>{escape(step.name)} {_chip(step.status)}<span class="secs">{secs}</span></h3>'
    )
    if step.key:
        parts.append(f'<div class="key">key {escape(step.key)}</div>')
    if step.reason:
        parts.append(f'<p class="note">{escape(step.reason)}</p>')
    if step.error:
        detail = step.traceback or step.error
        parts.append(f'<pre class="error">{escape(detail.rstrip())}</pre>')
    outputs = step.outputs
    if kind == "params" and "out" in outputs:
        outputs = {"out": outputs["out"]}
    for name, rec in outputs.items():
        parts.append(
            f'<div class="output"><h4>{escape(name)} <span class="handler">'
            f"{escape(rec.handler)} · {human_size(rec.size)}</span></h4>"
            f"{preview(store, rec) if previews else ''}</div>"
        )
    parts.append(_logs(store, step))
    parts.append("</article>")
    return "".join(parts)


def build_report(run: Run, store: LocalStore, *, graphviz: bool | None = None) -> str:
    """The report of ``run`` as one HTML document (outputs and logs read from ``store``)."""
    view = from_run(run)
    counts = " ".join(_chip(s, f"{n} {style(s)[2]}") for s, n in run.counts().items())
    result = _chip("ran" if run.ok else "failed", "ok" if run.ok else "FAILED")
    kinds = {n.name: n.kind for n in view.nodes}
    steps = "".join(
        _step(store, s, kinds.get(s.name, "step"), previews=i < MAX_PREVIEWED)
        for i, s in enumerate(run.ordered_steps())
    )
    never = [n.name for n in view.nodes if n.status == NEVER]
    missing = (
        f'<p class="note">not built in this run: {escape(", ".join(never))}</p>' if never else ""
    )
    who = f" by {escape(run.user)}" if run.user else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(run.workflow)} · run {escape(run.id)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(run.workflow)}<span class="run">run {escape(run.id)}</span>
<span class="badge">{result}</span></h1>
<div class="meta"><span>started {_when(run.started)}</span><span>took {run.seconds:.2f} s</span>
<span>on {escape(run.host or "?")}{who}</span><span>by {escape(run.backend)}</span>
<span class="key">workflow {escape(run.hash[:16])}</span></div>
<div class="meta" style="margin-top:6px">{counts}</div>
</header>
<main>
<section><h2>Graph</h2><div id="dag">{dag_svg(view, graphviz=graphviz)}</div>{missing}</section>
<section><h2>Timeline</h2><div id="timeline"></div></section>
<section id="steps"><h2>Steps</h2>{steps}</section>
</main>
<footer>axl {escape(__version__)} · run record {escape(run.path.name)}</footer>
<script type="application/json" id="axl-data">{_script_json(_data(run, store, view))}</script>
<script>{JS}</script>
</body>
</html>
"""
