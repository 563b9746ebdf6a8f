"""Checked by mypy in tests/test_api.py, never run: what a type checker sees of build results.

Each ``reveal_type`` line carries the expected type in a trailing ``# T:`` comment.
"""

# ruff: noqa: F821
# (reveal_type is a type checker built-in; this file is only type-checked, never imported.)

from __future__ import annotations

from typing import Any

import axl
from axl import Workflow, step


class Typed(Workflow):
    @step
    def total(self) -> int:
        return 1

    @step(outputs=("train", "test"))
    def split(self, n: int) -> tuple[list[int], list[int]]:
        return [n], []

    def graph(self) -> Any:
        return self.split(self.total())


def check(result: axl.BuildResult) -> None:
    reveal_type(axl.build(Typed))  # T: axl._results.BuildResult
    reveal_type(axl.results(Typed, run="last"))  # T: axl._results.BuildResult
    reveal_type(result[Typed.total])  # T: int
    reveal_type(result.output(Typed.total))  # T: int
    reveal_type(result[Typed.split])  # T: tuple[list[int], list[int]]
    reveal_type(result["total"])  # T: Any
    reveal_type(result.output("split", "train"))  # T: Any
    reveal_type(result.steps["total"])  # T: axl._results.StepResult
    reveal_type(result.steps["total"].seconds)  # T: float
    reveal_type(result.path("total"))  # T: pathlib.Path
    reveal_type(result.ok)  # T: bool
