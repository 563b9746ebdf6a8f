"""The smallest useful workflow: params, a list, a sum. Used by the README and the tests."""

from axl import Workflow, step


class Tiny(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 3}

    @step
    def make(self, params: dict) -> list:
        return list(range(params["n"]))

    @step(io_handler="cloudpickle", retries=2)
    def total(self, xs: list) -> int:
        return sum(xs)

    def graph(self):
        return self.total(self.make(self.params()))
