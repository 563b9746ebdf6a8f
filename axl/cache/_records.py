"""Action results: what the action cache stores under a key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RECORD_VERSION = 1


@dataclass(frozen=True)
class OutputRecord:
    """One stored output: its blob digest and size, and how to read it."""

    digest: str
    size: int
    handler: str
    extension: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "digest": self.digest,
            "size": self.size,
            "handler": self.handler,
            "extension": self.extension,
        }
        if self.metadata:
            out["metadata"] = self.metadata
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutputRecord:
        return cls(
            digest=str(data["digest"]),
            size=int(data["size"]),
            handler=str(data["handler"]),
            extension=str(data["extension"]),
            metadata=dict(data.get("metadata", {})),
        )


@dataclass(frozen=True)
class ActionResult:
    """The record of one successful step execution, stored under its action key."""

    key: str
    workflow: str
    step: str
    outputs: dict[str, OutputRecord]
    seconds: float = 0.0
    created: float = 0.0
    log_digest: str | None = None
    parts: dict[str, Any] = field(default_factory=dict, compare=False)
    #: Local trust stamps of the blobs, digest -> (size, mtime_ns, inode); see LocalStore.
    stamps: dict[str, tuple[int, int, int]] = field(default_factory=dict, compare=False)
    #: What the step read undeclared when it ran, so a cache hit can repeat the warning.
    undeclared: tuple[str, ...] = field(default=(), compare=False)

    def to_bytes(self) -> bytes:
        data = {
            "version": RECORD_VERSION,
            "key": self.key,
            "workflow": self.workflow,
            "step": self.step,
            "outputs": {k: v.to_json() for k, v in sorted(self.outputs.items())},
            "seconds": self.seconds,
            "created": self.created,
            "log_digest": self.log_digest,
            "parts": self.parts,
            "stamps": {k: list(v) for k, v in sorted(self.stamps.items())},
        }
        if self.undeclared:
            # Only when there is something: records of clean steps keep their bytes.
            data["undeclared"] = list(self.undeclared)
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ActionResult | None:
        """Parse a record; ``None`` when it is not a record this version reads (a miss)."""
        try:
            data = json.loads(raw)
            if data.get("version") != RECORD_VERSION:
                return None
            return cls(
                key=str(data["key"]),
                workflow=str(data["workflow"]),
                step=str(data["step"]),
                outputs={k: OutputRecord.from_json(v) for k, v in data["outputs"].items()},
                seconds=float(data.get("seconds", 0.0)),
                created=float(data.get("created", 0.0)),
                log_digest=data.get("log_digest"),
                parts=dict(data.get("parts", {})),
                stamps={
                    k: (int(v[0]), int(v[1]), int(v[2])) for k, v in data.get("stamps", {}).items()
                },
                undeclared=tuple(str(v) for v in data.get("undeclared", ())),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
