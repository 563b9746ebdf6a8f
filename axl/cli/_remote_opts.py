"""Remote-cache options shared by every command that builds (``axl run local``, ``axl build``).

A command declares ``remote_cache: RemoteCacheOpt = None, remote_upload: RemoteUploadOpt = None``
and passes both to :func:`axl.exec._remote_build.build_store` (or to ``run_local``), which
resolves them against ``$AXL_REMOTE_CACHE`` and ``[tool.axl]`` in ``pyproject.toml``.
"""

from __future__ import annotations

from typing import Annotated

import typer

RemoteCacheOpt = Annotated[
    str | None,
    typer.Option(
        "--remote-cache",
        metavar="URL",
        help="Share cache hits through http(s)://host/prefix, s3://bucket/prefix or a folder "
        "(default: $AXL_REMOTE_CACHE, else [tool.axl] remote_cache; '' turns it off).",
    ),
]
RemoteUploadOpt = Annotated[
    bool | None,
    typer.Option(
        "--remote-upload/--no-remote-upload",
        help="Upload fresh results to the remote cache (default: yes; $AXL_REMOTE_UPLOAD, "
        "[tool.axl] remote_upload). --no-remote-upload only reads.",
        show_default=False,
    ),
]
