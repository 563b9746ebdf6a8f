"""Running a build on the engine: the context in, the log followed, a failure made readable.

The ``docker`` SDK's low-level build streams the classic builder's output; :class:`BuildLog`
splits it into steps (cached or run), and a failure becomes one :class:`ImageError` naming the
step and carrying the end of its output, with a hint chosen from what went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from axl.emit.image import SOURCE_DATE_EPOCH, Rendered
from axl.image._engine import Engine
from axl.image._errors import ImageError
from axl.image._key import KEY_LABEL
from axl.image._result import BuildLog

if TYPE_CHECKING:
    from axl.image._build import ImageOptions
    from axl.image._plan import WorkflowPlan


def run_build(
    engine: Engine,
    rendered: Rendered,
    root: Path,
    digests: dict[str, str],
    options: ImageOptions,
    plan: WorkflowPlan,
    key: str,
    tag: str,
    on_line: Callable[[str], None] | None,
) -> BuildLog:
    """Send the context to the engine and follow the build.

    Raises:
        ImageError: The build failed: the failing step and its last output lines.
    """
    import docker

    from axl.image._context import write_context

    sources = {arc: root / rel for arc, rel in rendered.files.items()}
    generated = {**rendered.generated, "Dockerfile": rendered.dockerfile.encode()}
    if rendered.ca_arcname and options.ca_bundle:
        sources[rendered.ca_arcname] = Path(options.ca_bundle)
    labels = {
        KEY_LABEL: key,
        "axl.image.workflow": plan.name,
        "axl.image.entry": plan.entry,
        "axl.image.dependencies": plan.deps_entry,
    }
    log = BuildLog()
    context = write_context(sources, generated, mtime=SOURCE_DATE_EPOCH, digests=digests)
    error: str | None = None
    try:
        stream = engine.client().api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            labels=labels,
            buildargs=dict(options.build_args) or None,
            network_mode=options.network,
            decode=True,
            dockerfile="Dockerfile",
        )
        for chunk in stream:
            if "stream" in chunk:
                for line in log.feed(str(chunk["stream"])):
                    if on_line is not None:
                        on_line(line)
            elif "error" in chunk:
                error = str(chunk["error"]).strip()
    except docker.errors.DockerException as exc:
        error = str(getattr(exc, "explanation", None) or exc)
    finally:
        context.close()
    log.finish()
    if error is not None:
        raise _failed(tag, log, error)
    return log


def _failed(tag: str, log: BuildLog, error: str) -> ImageError:
    step = log.steps[-1] if log.steps else None
    where = f" at step {step.number} ({_short(step.instruction)})" if step else ""
    output = "\n".join(f"  | {line}" for line in log.failing_output())
    text = (error + "\n" + output).lower()
    if "unable to locate package" in text or "has no installation candidate" in text:
        hint = "check the --system-package names (Debian packages of the base image's release)"
    elif "name resolution" in text or "dns error" in text or "could not resolve" in text:
        hint = "the build has no network: on an engine without a bridge pass --network host"
    elif "certificate" in text or "unknownissuer" in text:
        hint = "TLS is intercepted on this network: pass --ca-bundle with the proxy's CA bundle"
    elif step is not None and "uv sync" in step.instruction:
        hint = "uv could not install uv.lock: check it with `uv sync --frozen` on this machine"
    else:
        hint = "the lines above are the end of the failing step's output"
    message = f"building {tag} failed{where}: {error}"
    return ImageError(message + ("\n" + output if output else ""), hint=hint)


def _short(instruction: str, limit: int = 90) -> str:
    return instruction if len(instruction) <= limit else instruction[: limit - 3] + "..."
