"""Running one step: shared by the local executor and the runner entrypoint."""

from axl.runtime._step import StepOutcome, StepTask, execute

__all__ = ["StepOutcome", "StepTask", "execute"]
