"""axl: build ML workflows the way Bazel builds software."""

from axl.dsl import OutputRef, Workflow, step, workflow

__version__ = "0.1.0"

__all__ = ["OutputRef", "Workflow", "__version__", "step", "workflow"]
