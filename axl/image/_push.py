"""``--push``: put a baked image in its registry and learn the digest that pins it.

The key tag names the image's contents, so a registry that already has ``REPO:<key tag>`` has
this image: nothing is pushed and the registry's digest is reported. Otherwise every tag is
pushed and the digest comes from the push. Registry credentials are the engine's
(``docker login``).
"""

from __future__ import annotations

from axl.image._engine import Engine, _reason
from axl.image._errors import ImageError


def registry_digest(engine: Engine, reference: str) -> str | None:
    """The registry's manifest digest of ``reference``; ``None`` when it has none (or cannot
    say: an unreachable registry is reported by the push that follows)."""
    import docker

    try:
        data = engine.client().api.inspect_distribution(reference)
    except docker.errors.DockerException:
        return None
    digest = (data.get("Descriptor") or {}).get("digest")
    return str(digest) if digest else None


def push(engine: Engine, repository: str, tags: list[str]) -> tuple[str, bool]:
    """Push ``repository`` with ``tags`` (the key tag first) unless the registry has it.

    Returns:
        ``(REPO@sha256:..., pushed)``.

    Raises:
        ImageError: The push failed (registry unreachable, refused, not logged in).
    """
    import docker

    found = registry_digest(engine, f"{repository}:{tags[0]}")
    if found is not None:
        return f"{repository}@{found}", False
    digest: str | None = None
    for tag in tags:
        try:
            for line in engine.client().api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in line:
                    raise _push_failed(repository, tag, str(line["error"]))
                aux = line.get("aux") or {}
                if tag == tags[0] and aux.get("Digest"):
                    digest = str(aux["Digest"])
        except docker.errors.DockerException as exc:
            raise _push_failed(repository, tag, _reason(exc)) from None
    if digest is None:
        raise ImageError(
            f"pushing {repository}:{tags[0]} reported no digest",
            hint="check the registry, then push again",
        )
    return f"{repository}@{digest}", True


def _push_failed(repository: str, tag: str, reason: str) -> ImageError:
    return ImageError(
        f"pushing {repository}:{tag} failed: {reason.strip()}",
        hint="check that the registry is reachable from the Docker engine and that you are "
        "logged in (docker login); the image is built and tagged locally",
    )
