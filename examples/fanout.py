"""Fan-out and fan-in: one source, N parallel steps, a sink that takes their list.

Also shows a step with two named outputs (``split``), literal constants beside outputs, a dict of
outputs as one argument, and per-step options. Used by the README and the tests.
"""

import random
from pathlib import Path

from axl import Workflow, step

# The fan-out width is fixed when graph() runs: graph() only wires steps, it never sees values.
SHARDS = 4


class FanOut(Workflow):
    @step
    def params(self) -> dict:
        return {"rows": 1000, "seed": 7, "test_fraction": 0.2}

    @step
    def source(self, rows: int, seed: int) -> list:
        rng = random.Random(seed)
        return [rng.random() for _ in range(rows)]

    @step(outputs=("train", "test"))
    def split(self, data: list, test_fraction: float) -> tuple[list, list]:
        cut = round(len(data) * (1 - test_fraction))
        return data[:cut], data[cut:]

    @step(resources={"cpu": "1", "memory": "512Mi"}, retries=1)
    def shard_sum(self, data: list, shard: int, shards: int) -> float:
        return sum(data[shard::shards])

    @step
    def total(self, parts: list) -> float:
        return sum(parts)

    # input_mode "path": this argument arrives as the artifact's file path, not the loaded value.
    @step(io_handler="json", input_mode={"test": "path"})
    def report(self, sums: dict, test: Path) -> dict:
        return {
            "train_sum": sums["train"],
            "test_sum": sums["test"],
            "test_file_bytes": Path(test).stat().st_size,
        }

    def graph(self):
        p = self.params()
        data = self.source(p["rows"], p["seed"])
        train, test = self.split(data, p["test_fraction"])
        # Fan-out: each call is its own node, named shard_sum, shard_sum-1, shard_sum-2, ...
        parts = [self.shard_sum(train, i, SHARDS) for i in range(SHARDS)]
        # Fan-in: a list of outputs is one argument; the second call gets an explicit name.
        train_sum = self.total(parts)
        test_sum = self.total([self.shard_sum(test, 0, 1, name="test_shard")], name="test_total")
        return self.report({"train": train_sum, "test": test_sum}, test)
