"""The HTML report's inline stylesheet and script (no CDN, no network: the file stands alone).

The script draws the timeline from the run data embedded in the page (``#axl-data``) and links
the timeline, the DAG and the step details: hovering a bar highlights its step in the DAG,
clicking a step in either scrolls to its details. When it has drawn, it sets
``data-timeline="ready"`` on ``<body>`` (tests wait for that in the DOM).
"""

from __future__ import annotations

CSS = """
:root { --ink:#212121; --muted:#607d8b; --line:#e0e0e0; --bg:#fafafa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
  color:var(--ink); background:var(--bg); }
header { padding:18px 28px 12px; background:#fff; border-bottom:1px solid var(--line); }
h1 { margin:0 0 6px; font-size:22px; font-weight:600; }
h1 .run { color:var(--muted); font-weight:400; font-size:16px; margin-left:8px; }
h2 { font-size:16px; margin:0 0 10px; font-weight:600; }
main { padding:16px 28px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px;
  margin-bottom:16px; }
.meta { color:var(--muted); font-size:13px; }
.meta span { margin-right:14px; }
.chip { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px;
  border:1px solid; margin-right:6px; white-space:nowrap; }
.badge { font-size:13px; padding:2px 10px; vertical-align:middle; }
#dag { overflow-x:auto; }
#dag svg { max-width:100%; height:auto; }
#dag .node { cursor:pointer; }
#dag .node.hl rect, #dag .node.hl polygon, #dag .node.hl path { stroke-width:3; }
#timeline svg { width:100%; height:auto; display:block; }
#timeline .bar { cursor:pointer; }
#timeline .bar:hover, #timeline .bar.hl { stroke:#212121; stroke-width:1.5; }
#timeline text { font:11px sans-serif; fill:#37474f; }
#timeline .axis line { stroke:#eceff1; }
#timeline .row-label { font:12px sans-serif; fill:#212121; }
article.step { border-top:1px solid var(--line); padding:12px 0 6px; }
article.step:first-of-type { border-top:0; padding-top:0; }
article.step h3 { margin:0 0 6px; font-size:15px; }
article.step h3 .secs { color:var(--muted); font-weight:400; font-size:13px; margin-left:8px; }
article.step:target { background:#fffde7; }
.key { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:12px; color:var(--muted); }
.output { margin:8px 0 4px 14px; }
.output h4 { margin:0 0 4px; font-size:13px; font-weight:600; }
.output h4 .handler { color:var(--muted); font-weight:400; }
.note { color:var(--muted); margin:2px 0 6px; font-size:13px; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; font-size:12px; margin:4px 0 8px; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; white-space:nowrap; }
th { background:#f5f5f5; font-weight:600; }
table.metrics td:first-child { font-weight:600; }
pre { background:#263238; color:#eceff1; padding:8px 10px; border-radius:6px; overflow:auto;
  font-size:12px; max-height:320px; margin:4px 0 8px; }
pre.error { background:#fff3f3; color:#b71c1c; border:1px solid #ffcdd2; }
details summary { cursor:pointer; color:var(--muted); font-size:13px; }
img.preview-image { max-width:480px; max-height:360px; border:1px solid var(--line);
  border-radius:4px; background:#fff; }
footer { color:var(--muted); font-size:12px; padding:0 28px 24px; }
"""

JS = r"""
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("axl-data").textContent);
  var colours = data.colours;

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) { node.setAttribute(k, attrs[k]); }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function secs(s) {
    if (s >= 60) { return Math.floor(s / 60) + "m" + (s % 60).toFixed(0).padStart(2, "0") + "s"; }
    if (s >= 1) { return s.toFixed(s >= 10 ? 1 : 2) + " s"; }
    return (s * 1000).toFixed(0) + " ms";
  }
  function niceStep(total) {
    var raw = total / 7, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * mag >= raw) { return steps[i] * mag; } }
    return 10 * mag;
  }
  function dagNode(name) { return document.getElementById("step-" + name); }
  function show(name) {
    var target = document.getElementById("detail-" + name);
    if (target) { location.hash = "detail-" + name; }
  }

  function drawTimeline() {
    var host = document.getElementById("timeline");
    var steps = data.steps.slice();
    var end = data.seconds;
    steps.forEach(function (s) {
      if (s.start !== null) { end = Math.max(end, s.start + s.seconds); }
    });
    var total = Math.max(end, 0.001);
    steps.sort(function (a, b) {
      var x = a.start === null ? Infinity : a.start, y = b.start === null ? Infinity : b.start;
      return x - y || a.order - b.order;
    });
    var W = 1000, labelW = 160, right = 170, plotW = W - labelW - right, rowH = 24;
    var strip = 34, top = strip + 22, H = top + rowH * steps.length + 8;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, class: "gantt", role: "img"}, host);
    function x(t) { return labelW + (t / total) * plotW; }

    var axis = el("g", {class: "axis"}, svg), step = niceStep(total);
    for (var t = 0; t <= total + 1e-9; t += step) {
      el("line", {x1: x(t), x2: x(t), y1: strip, y2: H - 4}, axis);
      el("text", {x: x(t), y: strip + 14, "text-anchor": "middle"}, axis, secs(t));
    }

    // Parallelism: how many steps were running at each moment (a step area over the timeline).
    var events = [];
    steps.forEach(function (s) {
      if (s.start !== null && s.seconds > 0 && s.status !== "cached") {
        events.push([s.start, 1]); events.push([s.start + s.seconds, -1]);
      }
    });
    events.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var level = 0, peak = 0, pts = [[0, 0]];
    events.forEach(function (e) {
      pts.push([e[0], level]); level += e[1]; pts.push([e[0], level]); peak = Math.max(peak, level);
    });
    pts.push([total, level]);
    var scale = (strip - 8) / Math.max(peak, 1), d = "";
    pts.forEach(function (p, i) {
      d += (i ? "L" : "M") + x(p[0]).toFixed(1) + "," + (strip - 2 - p[1] * scale).toFixed(1);
    });
    d += "L" + x(total).toFixed(1) + "," + (strip - 2) + "L" + x(0) + "," + (strip - 2) + "Z";
    el("path", {d: d, fill: "#cfd8dc", stroke: "#90a4ae", class: "parallelism"}, svg);
    el("text", {x: 4, y: strip - 10}, svg, "running at once");
    el("text", {x: W - right + 8, y: strip - 10}, svg, "max " + peak);

    steps.forEach(function (s, i) {
      var y = top + i * rowH, c = colours[s.status] || colours.never;
      el("text", {x: labelW - 8, y: y + 16, "text-anchor": "end", class: "row-label"}, svg, s.name);
      var start = s.start === null ? total : s.start;
      var width = Math.max(3, (s.seconds / total) * plotW);
      var bar = el("rect", {
        x: x(start), y: y + 4, width: width, height: rowH - 8, rx: 3, fill: c[0], stroke: c[1],
        class: "bar " + s.status, "data-step": s.name
      }, svg);
      var note = s.status === "cached"
        ? "cached" + (s.saved ? " · saved " + secs(s.saved) : "")
        : s.status + " · " + secs(s.seconds)
          + (s.attempts > 1 ? " · " + s.attempts + " tries" : "");
      el("title", {}, bar, s.name + ": " + note);
      el("text", {x: Math.min(x(start) + width + 6, W - right + 8), y: y + 16}, svg, note);
      bar.addEventListener("mouseenter", function () {
        var n = dagNode(s.name); if (n) { n.classList.add("hl"); }
      });
      bar.addEventListener("mouseleave", function () {
        var n = dagNode(s.name); if (n) { n.classList.remove("hl"); }
      });
      bar.addEventListener("click", function () { show(s.name); });
    });
  }

  function wireDag() {
    data.steps.forEach(function (s) {
      var n = dagNode(s.name);
      if (n) { n.addEventListener("click", function () { show(s.name); }); }
    });
  }

  drawTimeline();
  wireDag();
  document.body.setAttribute("data-timeline", "ready");
})();
"""
