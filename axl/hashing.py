"""The only module that hashes. Every digest in axl comes from a function here.

Two kinds of digest:

* **Content digests** of bytes and files: plain BLAKE3, hex. They name blobs in the content store,
  so anyone can check one with ``b3sum``.
* **Keys** over structured values: BLAKE3 in key-derivation mode, whose context string carries the
  domain and :data:`KEY_VERSION`, over the canonical JSON encoding of the value. Two domains can
  never collide, and bumping :data:`KEY_VERSION` invalidates every key at once.

One alias: **remote names**, SHA-256 hex, under which the remote cache stores blobs. Bazel's
remote-cache protocol names a CAS blob by its SHA-256 and servers check it (bazel-remote refuses
any other name), so only the remote cache uses them, always beside the BLAKE3 digest they alias.

Canonical JSON: sorted keys, no insignificant whitespace, UTF-8, no NaN. Never ``repr()``, never
pickle bytes (neither is stable across runs or versions).
"""

from __future__ import annotations

import json
import math
import mmap
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import blake3

from axl.errors import CanonicalError

#: Bump when anything about how keys are derived changes; every cached result then misses.
KEY_VERSION = 1

_CHUNK = 1 << 20
_BIG = 16 << 20
_WINDOW = 64 << 20  # a multiple of the page size, as mmap offsets must be


def canonical_json(value: Any) -> str:
    """Encode ``value`` canonically: sorted keys, compact, UTF-8, finite numbers only.

    Raises:
        CanonicalError: ``value`` holds something that has no canonical JSON form.
    """
    _check_canonical(value, "value")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _is_plain_json(value: Any) -> bool:
    """The common case, checked fast: exact JSON types, string keys, finite floats."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is dict:
            if any(type(k) is not str for k in item):
                return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is not float or not math.isfinite(item):
            return False
    return True


def _check_canonical(value: Any, where: str) -> None:
    if _is_plain_json(value):
        return
    # The slow walk names the offending path (and accepts subclasses and other Mappings).
    # Iterative so deep structures cannot overflow the stack.
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if item is None or isinstance(item, (bool, int, str)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise CanonicalError(
                    f"{path} is {item!r}, which has no canonical encoding",
                    hint="use None or a finite number",
                )
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
            continue
        if isinstance(item, Mapping):
            for k, v in item.items():
                if not isinstance(k, str):
                    raise CanonicalError(
                        f"{path} has a non-string key {k!r}",
                        hint="use string keys in params and constants",
                    )
                stack.append((v, f"{path}[{k!r}]"))
            continue
        raise CanonicalError(
            f"{path} is a {type(item).__name__}, which has no canonical encoding",
            hint="pass JSON-able values (None, bool, int, float, str, list, dict) as constants "
            "and params, or produce the value in a step",
        )


def key_digest(domain: str, value: Any) -> str:
    """The key of ``value`` in ``domain``: BLAKE3 (derive-key mode) over its canonical JSON."""
    hasher = blake3.blake3(derive_key_context=f"axl {KEY_VERSION} {domain}")
    hasher.update(canonical_json(value).encode())
    return hasher.hexdigest()


def trusted_key_digest(domain: str, value: Any) -> str:
    """:func:`key_digest` for a value axl assembled itself from parts already checked canonical
    (action keys: digests, IR constants, options). Skips the per-item walk, which would cost more
    than the hash on a null build of thousands of steps."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    hasher = blake3.blake3(derive_key_context=f"axl {KEY_VERSION} {domain}")
    hasher.update(text.encode())
    return hasher.hexdigest()


def bytes_digest(data: bytes) -> str:
    """The content digest of ``data``."""
    return blake3.blake3(data).hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """The content digest of a file, streamed: memory stays flat whatever the file's size.

    Large files are hashed with BLAKE3's multithreaded mode over a memory map, one 64 MiB window
    at a time: as fast as mapping the whole file, without the whole file showing in the process's
    resident memory.
    """
    path = Path(path)
    with path.open("rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size < _BIG:
            # Read into one buffer: a fresh bytes object per chunk costs more than the hashing.
            # (Not mapped: a file truncated while mapped kills the process with SIGBUS, and
            # data inputs are files users edit.)
            small = blake3.blake3()
            buffer = bytearray(min(_CHUNK, max(size, 1)))
            view = memoryview(buffer)
            while n := f.readinto(buffer):
                small.update(view[:n])
            return small.hexdigest()
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        offset = 0
        while offset < size:
            length = min(_WINDOW, size - offset)
            with mmap.mmap(f.fileno(), length, offset=offset, access=mmap.ACCESS_READ) as window:
                hasher.update(window)
            offset += length
        return hasher.hexdigest()


def tree_listing(files: list[tuple[str, bool, str]]) -> tuple[bytes, str]:
    """A folder's Merkle listing and its digest.

    Args:
        files: ``(relative POSIX name, executable, content digest)`` of each file, any order.

    Returns:
        The canonical listing (sorted by name; a format tag keeps it apart from any other blob)
        and its content digest, which is the folder's digest: a renamed, added, removed, edited
        or chmod +x'ed file changes it; file order on disk and timestamps do not.
    """
    entries = [[name, "x" if executable else "-", digest] for name, executable, digest in files]
    entries.sort(key=lambda entry: entry[0])
    data = canonical_json({"format": f"axl-tree-{KEY_VERSION}", "files": entries}).encode()
    return data, bytes_digest(data)


def bytes_sha256(data: bytes) -> str:
    """The remote name (SHA-256, hex) of ``data``."""
    import hashlib  # only the remote cache needs it; a null build should not pay its import

    return hashlib.sha256(data).hexdigest()


def is_sha256(name: str) -> bool:
    """Whether ``name`` has the shape of a remote name: 64 lowercase hex digits."""
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The remote name (SHA-256, hex) of a file, streamed in 1 MiB reads."""
    import hashlib

    hasher = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with Path(path).open("rb", buffering=0) as f:
        while n := f.readinto(buffer):
            hasher.update(view[:n])
    return hasher.hexdigest()


class StreamHasher:
    """Digest of bytes seen in pieces (uploads, downloads, pipes)."""

    def __init__(self) -> None:
        self._hasher = blake3.blake3()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hasher.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()


def hmac_digest(secret: bytes, data: bytes) -> str:
    """A keyed digest (BLAKE3 keyed mode) that signs ``data`` with a shared secret."""
    key = blake3.blake3(secret, derive_key_context=f"axl {KEY_VERSION} hmac-key").digest()
    return blake3.blake3(data, key=key).hexdigest()
