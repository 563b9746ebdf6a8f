"""The local executor: scheduling, parallelism, retries, reports, run history."""

from axl.exec._engine import BuildOptions, build
from axl.exec._report import BuildReport, StepReport

__all__ = ["BuildOptions", "BuildReport", "StepReport", "build"]
