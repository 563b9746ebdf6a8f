"""What a module emitted by ``axl compile --target dagster`` imports: the op runtime.

The generated ops are one line each: ``return axl.run(context, MANIFEST, "<step>", **inputs)``,
where ``axl`` is the :class:`AxlRunner` resource and ``MANIFEST`` the workflow's embedded IO
manifest. :meth:`AxlRunner.run` reuses or runs the step (:mod:`axl.emit.dagster._steps`),
attaches digests, sizes and cache status to the op's outputs as Dagster metadata, and turns a
failed step into :class:`dagster.Failure` carrying the step's traceback (retried by the op's
retry policy only when the step's own code failed).

This module imports Dagster: only generated modules import it, never ``import axl``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from axl.emit.dagster._steps import Artifact, Settings, StepError, StepRun, run_step

__all__ = ["Artifact", "AxlRunner", "Manifest"]


class Manifest:
    """A compiled workflow's IO manifest, and where the module holding it lives.

    Args:
        source: The generated module's ``__file__`` (its workspace is looked for above it).
        data: The manifest (``runner/manifest.schema.json``).
    """

    def __init__(self, source: str, data: Mapping[str, Any]) -> None:
        from axl.runtime._manifest_shared import expand

        self.source = source
        # The module embeds it compact (each step function's entry once): expanded once here.
        self.data = expand(dict(data), f"the MANIFEST of {source}")

    def cached(self, node: str) -> bool:
        """Whether step ``node``'s results may be reused and recorded (not ``cache=False``)."""
        return self.data.get("steps", {}).get(node, {}).get("cache") is not False


class AxlRunner(dg.ConfigurableResource):  # type: ignore[type-arg] # its own factory
    """Runs the axl steps of a compiled job's ops, sharing the cache with ``axl run local``.

    Configure it in run config (``resources: {axl: {config: {...}}}``); every field has a
    default.
    """

    #: ``in_process``: the runner's Python API in the op's process; ``subprocess``: a fresh
    #: ``python -m axl.runtime`` per step (isolation from the op's process).
    runner: str = "in_process"
    #: The interpreter a ``subprocess`` runner uses (default: the op's).
    python: str = ""
    #: The workspace root (default: ``$AXL_WORKSPACE``, else the folder with a pyproject.toml
    #: above the job's module).
    workspace: str = ""
    #: The local cache (default: ``$AXL_CACHE_DIR``, else ``<workspace>/.axl``).
    cache_dir: str = ""
    #: The remote cache URL, as ``axl run local --remote-cache`` (default: ``$AXL_REMOTE_CACHE``,
    #: then ``[tool.axl]`` in pyproject.toml; ``""`` turns it off).
    remote_cache: str | None = None

    def run(
        self,
        context: dg.OpExecutionContext,
        manifest: Manifest,
        node: str,
        config: dg.Config | None = None,
        /,
        **inputs: Artifact,
    ) -> Artifact | tuple[Artifact, ...]:
        """Reuse or run step ``node`` and return its outputs' references, in declaration order.

        Args:
            context: The op's context (its log receives the runner's log lines).
            manifest: The generated module's ``MANIFEST``.
            node: The step's node name.
            config: A params op's config: its values override the compiled params.
            **inputs: The op's inputs (upstream outputs), by op input name.

        Raises:
            dagster.Failure: The step failed (with its traceback), or could not be run.
        """
        settings = Settings(
            runner=self.runner,
            python=self.python,
            workspace=self.workspace,
            cache_dir=self.cache_dir,
            remote_cache=self.remote_cache,
        )
        params = None if config is None else dict(config.model_dump())
        try:
            done = run_step(
                manifest.data,
                manifest.source,
                node,
                inputs,
                settings,
                _logger(context),
                params=params,
                cache=manifest.cached(node),
                run=context.run_id,
            )
        except StepError as exc:
            raise dg.Failure(
                description=exc.describe(),
                metadata={
                    "axl step": exc.node,
                    "traceback": dg.MetadataValue.text(exc.traceback or ""),
                },
                allow_retries=exc.retryable,
            ) from None
        out_defs = list(context.op_def.output_defs)
        artifacts = []
        for (name, record), path, out_def in zip(done.outputs, done.paths, out_defs, strict=True):
            metadata = _metadata(done, name, record, path)
            context.add_output_metadata(metadata, output_name=out_def.name)
            artifacts.append(Artifact.of(record, node, name, done.key))
        return artifacts[0] if len(artifacts) == 1 else tuple(artifacts)


def _logger(context: dg.OpExecutionContext) -> Any:
    def log(level: str, message: str) -> None:
        getattr(context.log, level, context.log.info)(message)

    return log


def _metadata(done: StepRun, name: str, record: Any, path: Path) -> dict[str, Any]:
    """An output's Dagster metadata: where its bytes are and what axl did for it."""
    data: dict[str, Any] = {
        "axl step": done.node,
        "axl output": name,
        "digest": record.digest,
        "size": record.size,
        "handler": record.handler,
        "path": dg.MetadataValue.path(str(path)),
        "axl key": done.key,
        "axl status": done.status if done.status == "ran" else f"cached ({done.source})",
    }
    if record.metadata:
        data["axl metadata"] = dg.MetadataValue.json(record.metadata)
    return data
