"""What ``axl build-image`` reports, and the build log it is read from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Lines the classic builder prints about its own work, not the step's output.
_BUILDER_NOISE = ("--->", "Removing intermediate container")
#: The instruction that lays the dependency venv into the final image.
DEPS_INSTRUCTION = "COPY --from=builder /opt/venv /opt/venv"


@dataclass
class BuildStep:
    """One Dockerfile instruction as the (classic) builder ran it."""

    number: str
    instruction: str
    cached: bool = False
    output: list[str] = field(default_factory=list)


@dataclass
class BuildLog:
    """The build's output, split into steps as it streams in."""

    steps: list[BuildStep] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    _partial: str = ""

    def feed(self, text: str) -> list[str]:
        """Take a chunk of the ``stream`` output; returns the complete lines it finished."""
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        lines = [_ANSI.sub("", line).rstrip("\r") for line in done]
        for line in lines:
            self._line(line)
        return lines

    def finish(self) -> None:
        if self._partial:
            self._line(_ANSI.sub("", self._partial))
            self._partial = ""

    def _line(self, line: str) -> None:
        self.lines.append(line)
        match = _STEP.match(line)
        if match:
            self.steps.append(BuildStep(match.group(1), match.group(2)))
        elif self.steps:
            step = self.steps[-1]
            if line.strip() == "---> Using cache":
                step.cached = True
            step.output.append(line)

    def failing_output(self, limit: int = 25) -> list[str]:
        """The last lines the last step printed (the builder's own ``--->`` lines left out)."""
        if not self.steps:
            return [line for line in self.lines if line.strip()][-limit:]
        out = [
            line
            for line in self.steps[-1].output
            if line.strip() and not line.lstrip().startswith(_BUILDER_NOISE)
        ]
        return out[-limit:]


@dataclass(frozen=True)
class ImageResult:
    """One ``axl build-image``: which image, whether it was built, how.

    Attributes:
        workflow: The workflow's name.
        key: The image key (:func:`axl.image._key.image_key`).
        repository: The image's repository (``registry/name``).
        tags: Every ``repository:tag`` pointing at it (the key tag first).
        image_id: The image's ID on the engine (``sha256:...``).
        built: False when an image with the key was already there.
        repo_digest: ``repository@sha256:...`` once the registry holds it (after ``--push``).
        pushed: Whether this run pushed it.
        steps: The build's steps (empty when nothing was built).
        seconds: Wall time of the whole command.
    """

    workflow: str
    key: str
    repository: str
    tags: tuple[str, ...]
    image_id: str
    built: bool
    repo_digest: str | None = None
    pushed: bool = False
    steps: tuple[BuildStep, ...] = ()
    seconds: float = 0.0

    @property
    def reference(self) -> str:
        """The reference to run it by: pinned by registry digest when pushed, else the key tag
        (content-addressed: it names this image and no other)."""
        return self.repo_digest or self.tags[0]

    @property
    def dependency_layer(self) -> str | None:
        """``reused`` or ``built`` for the dependency layer; ``None`` when nothing was built."""
        for step in self.steps:
            if step.instruction == DEPS_INSTRUCTION:
                return "reused" if step.cached else "built"
        return None

    def to_json(self) -> dict[str, Any]:
        """What ``--json`` prints."""
        return {
            "workflow": self.workflow,
            "key": self.key,
            "image": self.reference,
            "image_id": self.image_id,
            "repository": self.repository,
            "tags": list(self.tags),
            "built": self.built,
            "pushed": self.pushed,
            "repo_digest": self.repo_digest,
            "dependency_layer": self.dependency_layer,
            "steps": [
                {"step": s.number, "instruction": s.instruction, "cached": s.cached}
                for s in self.steps
            ],
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """Lines for people."""
        if not self.built:
            head = f"up to date: {self.tags[0]} ({self.image_id})"
        else:
            cached = sum(s.cached for s in self.steps)
            head = (
                f"built {self.tags[0]} ({self.image_id}) in {self.seconds:.1f} s: "
                f"{len(self.steps)} steps, {cached} from cache"
            )
            if self.dependency_layer:
                head += f"; dependency layer {self.dependency_layer}"
        lines = [head, *(f"tagged {t}" for t in self.tags[1:])]
        if self.repo_digest:
            lines.append(f"{'pushed' if self.pushed else 'in registry'}: {self.repo_digest}")
        return "\n".join(lines) + "\n"
