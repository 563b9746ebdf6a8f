"""Checked by mypy in tests/test_typing.py, never run: what a type checker sees of the DSL.

Each ``reveal_type`` line carries the expected type in a trailing ``# T:`` comment.
"""

# ruff: noqa: F821
# (reveal_type is a type checker built-in; this file is only type-checked, never imported.)

from __future__ import annotations

from typing import Any

from axl import Dir, File, OutputRef, Workflow, step


class Typed(Workflow):
    @step
    def params(self) -> dict[str, Any]:
        return {"n": 3}

    @step
    def make(self, params: dict[str, Any]) -> list[int]:
        return list(range(params["n"]))

    @step(io_handler="cloudpickle", retries=2)
    def total(self, xs: list[int]) -> int:
        return sum(xs)

    @step(outputs=("train", "test"))
    def split(self, xs: list[int]) -> tuple[list[int], list[int]]:
        return xs[:1], xs[1:]

    @step
    def mean(self, parts: list[int]) -> float:
        return sum(parts) / len(parts)

    def graph(self) -> OutputRef[float]:
        reveal_type(Typed.make)  # T: axl.dsl.StepDef[list[int]]
        reveal_type(Typed.total)  # T: axl.dsl.StepDef[int]
        reveal_type(self.total)  # T: axl.dsl.BoundStep[int]
        p = self.params()
        reveal_type(p)  # T: axl.dsl.OutputRef[dict[str, Any]]
        reveal_type(p["n"])  # T: axl.dsl.OutputRef[Any]
        xs = self.make(p)
        reveal_type(xs)  # T: axl.dsl.OutputRef[list[int]]
        reveal_type(self.total(xs))  # T: axl.dsl.OutputRef[int]
        reveal_type(self.total.named("again"))  # T: axl.dsl.BoundStep[int]
        reveal_type(self.total(xs, name="third"))  # T: axl.dsl.OutputRef[int]
        both = self.split(xs)
        reveal_type(both)  # T: axl.dsl.OutputRef[tuple[list[int], list[int]]]
        train, _test = both
        reveal_type(train)  # T: axl.dsl.OutputRef[Any]
        reveal_type(both["test"])  # T: axl.dsl.OutputRef[Any]
        parts = [self.total(train) for _ in range(3)]
        reveal_type(self.mean(parts))  # T: axl.dsl.OutputRef[float]
        reveal_type(File(p["n"]))  # T: axl.external.File
        reveal_type(Dir("data/raw", glob="*.csv"))  # T: axl.external.Dir
        reveal_type(self.total(File("data/xs.json")))  # T: axl.dsl.OutputRef[int]
        return self.mean(parts)
