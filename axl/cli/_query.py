"""``axl query``: list targets (``//examples/...``) or a target's deps (``deps(//x:y)``)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from axl.cli._app import WorkspaceOpt, app

_OUTPUTS = ("label", "label_kind", "json")


@app.command()
def query(
    expression: Annotated[
        str,
        typer.Argument(
            help="A pattern (//pkg:name, //pkg:all, //pkg/...) or deps(PATTERN).",
        ),
    ],
    output: Annotated[
        str,
        typer.Option("--output", help="label, label_kind (kind and label) or json."),
    ] = "label",
    workspace: WorkspaceOpt = None,
) -> None:
    """List the targets an expression names, sorted by label.

    deps(X) is X and everything it depends on, transitively (as in Bazel).
    """
    from axl._loader import find_workspace
    from axl.errors import UsageError
    from axl.graph._targets import TargetGraph

    if output not in _OUTPUTS:
        raise UsageError(
            f"--output {output} is not one of {', '.join(_OUTPUTS)}",
            hint="e.g. --output label_kind",
        )
    graph = TargetGraph(find_workspace(explicit=workspace))
    targets = sorted(graph.query(expression), key=lambda t: t.label)
    if output == "json":
        rows = [
            {
                "label": str(t.label),
                "kind": t.kind.name,
                "deps": [str(d) for d in t.deps],
                "file": str(t.file),
                "line": t.line,
            }
            for t in targets
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for t in targets:
        line = f"{t.kind.name} rule {t.label}" if output == "label_kind" else str(t.label)
        sys.stdout.write(line + "\n")
