"""Moving blobs between a machine's local cache and the shared store (the remote cache).

The client and the workers share no disk: every input a worker needs and every output it makes
travels through the remote cache's CAS, named by SHA-256 (Bazel's protocol), and is checked
against its BLAKE3 digest (axl's identity) wherever it lands. Uploads are content-addressed, so
two copies of a step (a rescheduled one and a stray one) can only ever write the same bytes under
the same name.
"""

from __future__ import annotations

import contextlib

from axl.cache._local import LocalStore
from axl.cache._remote import RemoteStore
from axl.errors import AxlError
from axl.hashing import file_digest, file_sha256


class TransferError(AxlError):
    """A blob is missing from the shared store or does not match its digest."""


def push_blob(remote: RemoteStore, store: LocalStore, digest: str, name: str | None = None) -> str:
    """Make the local blob ``digest`` present in ``remote``; returns its remote name (SHA-256).

    Raises:
        RemoteError: The remote failed.
        OSError: The blob is not in the local store.
    """
    path = store.blob_path(digest)
    name = name or file_sha256(path)
    if not remote.has_cas(name):
        remote.put_cas(name, path)
    return name


def pull_blob(remote: RemoteStore, store: LocalStore, digest: str, name: str) -> None:
    """Make the blob ``digest`` local, downloading ``cas/<name>`` and checking its BLAKE3 digest.

    Raises:
        TransferError: The remote lacks it, or its bytes are not ``digest``.
        RemoteError: The remote failed.
    """
    if store.verified_blob(digest) is not None:
        return
    tmp = store.tmp_file()
    try:
        if not remote.get_cas(name, tmp):
            raise TransferError(
                f"blob {digest[:12]} (cas/{name[:12]}) is missing from the shared store "
                f"{remote.url}",
                hint="the store may have evicted it; build again",
            )
        if file_digest(tmp) != digest:
            raise TransferError(
                f"blob cas/{name[:12]} in {remote.url} does not match its digest {digest[:12]}",
                hint="the shared store holds corrupt or tampered data; delete that blob",
            )
        store.put_file(tmp, digest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
