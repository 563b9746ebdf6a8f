"""A wide fan-out: a params step, 2,000 calls of one step over constants, and a fan-in.

The shape that tests and measures how emitters scale with the number of calls (``bench/
bench_emit_size.py``, ``tests/test_argo_scale.py``): per call, the Argo Workflow holds one small
DAG task and the manifest one line; the calls share one template.
"""

from axl import Workflow, step

#: The fan-out width, fixed when graph() runs.
CALLS = 2000


class Wide(Workflow):
    @step
    def params(self) -> dict:
        return {"scale": 3}

    @step(io_handler="json")
    def work(self, scale: int, i: int) -> int:
        return scale * i

    @step(io_handler="json")
    def total(self, parts: list) -> int:
        return sum(parts)

    def graph(self):
        p = self.params()
        return self.total([self.work(p["scale"], i) for i in range(CALLS)])
