"""Checked by mypy in tests/test_typing.py, never run: mistakes the types of the DSL catch.

Each line that must fail carries the expected message fragment in a trailing ``# E:`` comment.
"""

from __future__ import annotations

from axl import File, OutputRef, Workflow, step


class Misused(Workflow):
    @step
    def count(self) -> int:
        return 3

    @step(cache=False)
    def label(self, n: int) -> str:
        return str(n)

    def graph(self) -> OutputRef[int]:
        n: int = self.count()  # E: Incompatible types in assignment
        return self.label(n)  # E: Incompatible return value type


class BadData(Workflow):
    @step
    def read(self, path: str) -> int:
        return len(path)

    def graph(self) -> OutputRef[int]:
        return self.read(File(3))  # E: Argument 1 to "File" has incompatible type "int"
