"""axl: build ML workflows the way Bazel builds software."""

from axl._api import build, results
from axl._results import BuildFailed, BuildResult, StepResult
from axl.dsl import OutputRef, Workflow, step, workflow
from axl.external import Dir, File

__version__ = "0.1.0"

__all__ = [
    "BuildFailed",
    "BuildResult",
    "Dir",
    "File",
    "OutputRef",
    "StepResult",
    "Workflow",
    "__version__",
    "build",
    "results",
    "step",
    "workflow",
]
