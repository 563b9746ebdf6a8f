"""The Dagster emitter: a workflow -> the source of a Python module defining a Dagster job.

``emit_module`` writes the module (one op per step, a ``Config`` class per params step, the job,
a ``Definitions`` object and the embedded IO manifest); ``compile_dagster`` wraps it as a
:class:`~axl.emit.Compiled`; ``compile_target`` is what ``axl compile --target dagster`` calls.
None of these import Dagster: only the generated module does (through
:mod:`axl.emit.dagster.runtime`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axl.emit import Compiled, WorkflowBundle
from axl.emit.dagster._emit import DagsterModule, emit_module
from axl.errors import UsageError

__all__ = ["DagsterModule", "compile_dagster", "compile_target", "emit_module"]


def compile_dagster(bundle: WorkflowBundle) -> Compiled:
    """The module's text, warnings and a summary line. Same bundle, same bytes."""
    module = emit_module(bundle)
    size = max(1, round(len(module.text.encode()) / 1024))
    summary = f"Dagster job {module.job}: {len(bundle.ir.nodes)} ops, {size} KiB"
    return Compiled(module.text, module.warnings, summary)


def compile_target(bundle: WorkflowBundle, options: Mapping[str, Any]) -> Compiled:
    """The ``dagster`` compile target. It takes no options (``None`` means "not given").

    Raises:
        UsageError: An option was given.
    """
    for name, value in options.items():
        if value is not None:
            raise UsageError(
                f"--{name.replace('_', '-')} does not apply to --target dagster",
                hint="configure the job at run time instead (Dagster run config)",
            )
    return compile_dagster(bundle)
