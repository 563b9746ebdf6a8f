"""Loading an emitted KFP pipeline spec the way its users do, with KFP's own SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from axl.emit.kfp import check, sdk_problems

#: A workflow whose step's code fails (exit 1), for the failure tests.
FAILING = """
from axl import Workflow, step


class Fails(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 2}

    @step(io_handler="json")
    def boom(self, n: int) -> int:
        raise ValueError(f"no luck with {n}")

    def graph(self):
        return self.boom(self.params()["n"])
"""

PINNED = "registry.example.com/axl-churn@sha256:" + "0123456789abcdef" * 4


def load_checked(path: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``kfp.components.load_component_from_file`` of ``path``, plus the typed parse of what the
    SDK leaves a Struct (``deploymentSpec``, the Kubernetes platform config) and axl's own
    reference checks. Returns the loaded component and the two documents."""
    from kfp import components

    component = components.load_component_from_file(str(path))
    text = path.read_text(encoding="utf-8")
    assert sdk_problems(text) == []
    spec, platform = yaml.safe_load_all(text)
    found = check(spec, platform)
    assert found.errors == [], found.errors
    return component, spec, platform
