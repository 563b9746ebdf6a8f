"""Remote stores: the protocol, a registry by URL scheme, and where the remote's URL comes from.

A remote store is a dumb key/value service with two namespaces, the layout of Bazel's HTTP remote
cache: ``ac/<key>`` (action records) and ``cas/<digest>`` (blobs). It never decides what a record
means or whether a blob is good: :class:`axl.cache._tiered.TieredStore` verifies everything it
downloads. Backends register by URL scheme and are imported only when a URL names them, so boto3
loads only for ``s3://``.

Where the URL comes from, first match wins: ``--remote-cache URL``, ``$AXL_REMOTE_CACHE``, then
``remote_cache = "URL"`` under ``[tool.axl]`` in the workspace's ``pyproject.toml``. An empty value
at a higher level switches the remote off for that run.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from axl.errors import CacheError, UsageError

#: Environment variables read here.
ENV_URL = "AXL_REMOTE_CACHE"
ENV_UPLOAD = "AXL_REMOTE_UPLOAD"
ENV_TIMEOUT = "AXL_REMOTE_TIMEOUT"

#: Seconds one remote operation may block (connect, or wait for the next bytes).
DEFAULT_TIMEOUT = 10.0
#: Attempts per operation when the failure looks transient (connection reset, 5xx, 429).
ATTEMPTS = 3


class RemoteError(CacheError):
    """The remote cache could not be reached or answered with an error (not a miss)."""


class RemoteStore(Protocol):
    """What a remote cache backend provides. Every method raises :class:`RemoteError` when the
    remote fails; a missing entry is not a failure (``None``/``False``)."""

    url: str

    def get_ac(self, key: str) -> bytes | None:
        """The action entry under ``key``, or ``None`` when there is none."""

    def put_ac(self, key: str, data: bytes) -> None:
        """Store an action entry (replacing any)."""

    def has_cas(self, digest: str) -> bool:
        """Whether a blob is stored under ``digest`` (its content is not checked)."""

    def get_cas(self, digest: str, dest: Path) -> bool:
        """Stream the blob into the file ``dest``; ``False`` when there is none."""

    def put_cas(self, digest: str, src: Path) -> None:
        """Upload the file ``src`` as the blob ``digest``."""

    def close(self) -> None:
        """Release connections."""


#: URL scheme -> "module:Class"; the class is called with the URL and a timeout.
_BACKENDS: dict[str, str] = {
    "http": "axl.cache._http:HttpRemote",
    "https": "axl.cache._http:HttpRemote",
    "s3": "axl.cache._s3:S3Remote",
    "file": "axl.cache._dirremote:DirRemote",
}


def register_remote(scheme: str, target: str) -> None:
    """Serve URLs of ``scheme`` with ``target`` (``"module:Class"``, imported on first use)."""
    _BACKENDS[scheme.lower()] = target


def remote_schemes() -> list[str]:
    return sorted(_BACKENDS)


def open_remote(url: str, *, timeout: float | None = None) -> RemoteStore:
    """The remote store ``url`` names: ``http(s)://host/prefix``, ``s3://bucket/prefix``, or a
    shared folder (a path or ``file:///path``). Opening does not contact the remote.

    Raises:
        UsageError: The URL is malformed or its scheme is unknown.
    """
    scheme = urlsplit(url).scheme.lower()
    if len(scheme) <= 1:  # no scheme, or a Windows drive letter: a folder path
        scheme = "file"
    target = _BACKENDS.get(scheme)
    if target is None:
        raise UsageError(
            f"remote cache {url!r} has the unknown scheme {scheme!r}",
            hint=f"use one of {', '.join(s + '://' for s in remote_schemes())} or a folder path",
        )
    module_name, _, class_name = target.partition(":")
    cls: Any = getattr(importlib.import_module(module_name), class_name)
    store: RemoteStore = cls(url, timeout=timeout if timeout is not None else remote_timeout())
    return store


def remote_timeout() -> float:
    """``$AXL_REMOTE_TIMEOUT`` seconds, else :data:`DEFAULT_TIMEOUT`."""
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise UsageError(
            f"${ENV_TIMEOUT}={raw!r} is not a number of seconds",
            hint="set it to e.g. 5 (seconds per remote operation), or unset it",
        )
    return value


@dataclass(frozen=True)
class RemoteConfig:
    """The remote a build uses: its URL, whether this machine uploads, and who said so."""

    url: str
    upload: bool = True
    source: str = "--remote-cache"


def remote_config(
    root: Path, url: str | None = None, upload: bool | None = None
) -> RemoteConfig | None:
    """Resolve the remote cache setting: ``url`` (the flag) > ``$AXL_REMOTE_CACHE`` >
    ``[tool.axl] remote_cache`` in ``root/pyproject.toml``. ``upload`` likewise: the flag >
    ``$AXL_REMOTE_UPLOAD`` > ``[tool.axl] remote_upload`` > yes.

    Returns:
        ``None`` when no remote is configured (or the chosen setting is empty).

    Raises:
        UsageError: ``pyproject.toml`` or an environment variable holds a malformed value.
    """
    table = _tool_axl(root)
    chosen: str | None
    if url is not None:
        chosen, source = url, "--remote-cache"
    elif ENV_URL in os.environ:
        chosen, source = os.environ[ENV_URL], f"${ENV_URL}"
    else:
        value = table.get("remote_cache")
        if value is not None and not isinstance(value, str):
            raise UsageError(
                "[tool.axl] remote_cache must be a string",
                hint='write remote_cache = "https://host/prefix" (or s3://bucket/prefix)',
                file=root / "pyproject.toml",
            )
        chosen, source = value, "pyproject.toml"
        if chosen and "://" not in chosen and not Path(chosen).is_absolute():
            # A folder in pyproject.toml is relative to the workspace, not to where axl runs.
            chosen = str(root / chosen)
    chosen = (chosen or "").strip()
    if not chosen:
        return None
    if "://" not in chosen:
        chosen = str(Path(chosen).expanduser().resolve())
    return RemoteConfig(chosen, _upload_setting(root, table, upload), source)


def _upload_setting(root: Path, table: dict[str, Any], flag: bool | None) -> bool:
    if flag is not None:
        return flag
    raw = os.environ.get(ENV_UPLOAD)
    if raw is not None and raw.strip():
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise UsageError(
            f"${ENV_UPLOAD}={raw!r} is not a yes/no value", hint="set it to 1 or 0, or unset it"
        )
    value = table.get("remote_upload", True)
    if not isinstance(value, bool):
        raise UsageError(
            "[tool.axl] remote_upload must be true or false",
            hint="write remote_upload = false for a read-only consumer",
            file=root / "pyproject.toml",
        )
    return value


def _tool_axl(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"pyproject.toml is not valid TOML: {exc}", hint="fix the file", file=path
        ) from None
    tool = data.get("tool", {})
    table = tool.get("axl", {}) if isinstance(tool, dict) else {}
    return table if isinstance(table, dict) else {}
