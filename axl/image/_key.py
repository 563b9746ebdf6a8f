"""The image key: what a baked image depends on, and nothing else.

A digest (:func:`axl.hashing.key_digest`, domain ``image``) over:

* the Dockerfile's text, which names the base image reference, the uv version, the system
  packages, the extras and groups, and how the project is installed;
* the base image's ID on the engine, when it has one (a re-imported ``axl-base:x`` with new
  contents is a new base even though its reference is the same);
* the content digest of every file in the build context (the lockfile or requirements, the code
  files), by their path in the context;
* the build args' values, except the proxy variables Docker predefines (they change how the
  build reaches the network, not what it produces).

Not in the key: the CA bundle (like a proxy, it changes the route, not the result), the network
mode, file times, the order options were given in (:class:`axl.emit.image.ImageSpec` sorts).
"""

from __future__ import annotations

from collections.abc import Mapping

from axl.hashing import bytes_digest, key_digest

#: Build args Docker predefines; they never enter the key (nor Docker's own layer cache).
PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)
#: Hex digits of the key used as the content-addressed tag.
TAG_LENGTH = 32
#: The label holding the full key on every image axl builds.
KEY_LABEL = "axl.image.key"


def image_key(
    dockerfile: str,
    files: Mapping[str, str],
    base_id: str | None,
    build_args: Mapping[str, str],
) -> str:
    """The key of an image.

    Args:
        dockerfile: The rendered Dockerfile.
        files: Context path -> content digest of every context file (not the CA bundle).
        base_id: The base image's ID on the engine (``sha256:...``), or ``None``.
        build_args: The build args given by the user.
    """
    return key_digest(
        "image",
        {
            "dockerfile": bytes_digest(dockerfile.encode()),
            "files": dict(files),
            "base_id": base_id,
            "build_args": {k: v for k, v in build_args.items() if k not in PROXY_ARGS},
        },
    )


def key_tag(key: str) -> str:
    """The content-addressed tag of an image with ``key``."""
    return key[:TAG_LENGTH]
