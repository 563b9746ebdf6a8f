"""The local store in front of a remote one: read-through, write-through, never trusted blindly.

The remote speaks Bazel's remote-cache protocol, so Bazel's own servers hold axl's entries as they
hold Bazel's: a blob is stored under its SHA-256 (its *remote name*, ``cas/<sha256>``) and an
action entry (``ac/<key>``) is a real ``ActionResult`` message (:mod:`axl.cache._reapi`) whose
output files are the record's blobs, so a validating server such as bazel-remote accepts it and
serves it only while every blob it names is present. The axl part rides in one inlined output
file, ``.axl/entry.json``: the record's exact bytes, their keyed digest when ``$AXL_CACHE_SECRET``
is set (:func:`axl.hashing.hmac_digest`), and the remote name of each blob.

Reading: a key the local action cache lacks (or whose blobs are gone) is asked of the remote. With
a secret, an unsigned or badly signed entry is ignored: outputs are unpickled, so a record naming
someone else's blob would run their code. The record's blobs are then downloaded by remote name
into ``tmp/``, hashed with BLAKE3, and moved into the local CAS only when the content matches the
record's digest (the remote names themselves are not trusted); only then is the record stored
locally. A step whose entry fails any check is a miss and runs locally.

Writing: a fresh local result is uploaded blobs first, then its entry, so a reader on another
machine never finds an entry whose blobs are missing. ``upload=False`` makes a read-only consumer.

The remote can only make a build faster: the first failure (down, slow, erroring) prints one
warning and the rest of the build runs against the local store alone.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from axl.cache import _reapi
from axl.cache._local import LocalStore
from axl.cache._records import ActionResult
from axl.cache._remote import RemoteError, RemoteStore
from axl.hashing import bytes_sha256, file_digest, file_sha256, hmac_digest, is_sha256

#: The shared secret that signs remote action entries.
ENV_SECRET = "AXL_CACHE_SECRET"  # noqa: S105 - the variable's name, not a secret
ENTRY_VERSION = 2
#: The inlined output file of an action entry that carries axl's record.
ENTRY_FILE = ".axl/entry.json"
#: The inlined output file of a document entry (a shared workflow load).
LOAD_FILE = ".axl/load.json"
#: ``ExecutedActionMetadata.worker`` of uploaded entries. A server that fills in an empty worker
#: (bazel-remote) re-encodes the entry; with one set it stores the bytes as sent.
WORKER = "axl"

#: Why a remote entry was not used; each kind is warned about once per build.
UNSIGNED, BAD_SIGNATURE, MALFORMED, TAMPERED = "unsigned", "bad-signature", "malformed", "tampered"

Warn = Callable[[str], None]


def secret_from_env() -> bytes | None:
    """``$AXL_CACHE_SECRET`` as bytes, or ``None`` when unset or empty."""
    value = os.environ.get(ENV_SECRET, "")
    return value.encode() if value else None


@dataclass(frozen=True)
class RemoteEntry:
    """A checked remote entry: the record, and the remote name (SHA-256) of each of its blobs."""

    record: ActionResult
    names: dict[str, str]


def record_blobs(record: ActionResult) -> list[str]:
    """The blobs a record needs: its outputs and its log, each once, in a stable order."""
    digests = [rec.digest for _, rec in sorted(record.outputs.items())]
    if record.log_digest:
        digests.append(record.log_digest)
    return list(dict.fromkeys(digests))


def _blob_paths(record: ActionResult) -> dict[str, str]:
    """A readable path for each blob (``<step>/<output>.<ext>``; the log ``<step>/.log``, which no
    output name can give): the output files' paths in the entry, for people browsing a server."""
    paths: dict[str, str] = {}
    for name, rec in sorted(record.outputs.items()):
        suffix = f".{rec.extension}" if rec.extension else ""
        paths.setdefault(rec.digest, f"{record.step}/{name}{suffix}")
    if record.log_digest:
        paths.setdefault(record.log_digest, f"{record.step}/.log")
    return paths


def encode_entry(
    record: ActionResult, secret: bytes | None, names: Mapping[str, tuple[str, int]]
) -> bytes:
    """The remote form of ``record`` (without local trust stamps), signed if a secret is given.

    Args:
        record: The record.
        secret: The shared secret, or ``None``.
        names: Each of the record's blobs -> its remote name (SHA-256) and size.
    """
    body = replace(record, stamps={}).to_bytes()
    blobs = record_blobs(record)
    meta = json.dumps(
        {
            "axl_entry": ENTRY_VERSION,
            "record": body.decode(),
            "signature": hmac_digest(secret, body) if secret else None,
            "cas": {digest: names[digest][0] for digest in blobs},
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    paths = _blob_paths(record)
    files = [_reapi.OutputFile(paths[d], names[d][0], names[d][1]) for d in blobs]
    files.append(_reapi.OutputFile(ENTRY_FILE, bytes_sha256(meta), len(meta), meta))
    return _reapi.encode_action_result(files, worker=WORKER)


def decode_entry(raw: bytes, key: str, secret: bytes | None) -> tuple[RemoteEntry | None, str]:
    """Check and parse a remote entry fetched under ``key``.

    Returns:
        ``(entry, "")`` when it may be used, else ``(None, why)`` with ``why`` one of
        :data:`UNSIGNED`, :data:`BAD_SIGNATURE`, :data:`MALFORMED`.
    """
    try:
        carrier = _reapi.decode_action_result(raw).file(ENTRY_FILE)
        if carrier is None or not carrier.contents:
            return None, MALFORMED  # an entry some other client (Bazel) wrote, or garbage
        meta = json.loads(carrier.contents)
        if meta.get("axl_entry") != ENTRY_VERSION:
            return None, MALFORMED
        body = str(meta["record"]).encode()
        signature = meta.get("signature")
        cas = {str(k): str(v) for k, v in dict(meta["cas"]).items()}
    except (_reapi.DecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None, MALFORMED
    problem = _signature_problem(secret, body, signature)
    if problem:
        return None, problem
    record = ActionResult.from_bytes(body)
    if record is None or record.key != key:
        # A valid record replayed under another key is as wrong as a corrupt one.
        return None, MALFORMED
    names = {digest: cas.get(digest, "") for digest in record_blobs(record)}
    if not all(is_sha256(name) for name in names.values()):
        return None, MALFORMED
    return RemoteEntry(record, names), ""


def _signature_problem(secret: bytes | None, body: bytes, signature: object) -> str:
    """``""`` when ``body`` may be used: no secret to check against, or a good signature; else
    :data:`UNSIGNED` or :data:`BAD_SIGNATURE`."""
    if secret is None:
        return ""
    if not isinstance(signature, str) or not signature:
        return UNSIGNED
    if not hmac.compare_digest(signature, hmac_digest(secret, body)):
        return BAD_SIGNATURE
    return ""


def encode_document(body: bytes, secret: bytes | None) -> bytes:
    """A document that is not a step's result (a shared workflow load) as an action entry: an
    ``ActionResult`` with one inlined output file, :data:`LOAD_FILE`, signed like a record."""
    meta = json.dumps(
        {
            "axl_document": ENTRY_VERSION,
            "body": body.decode(),
            "signature": hmac_digest(secret, body) if secret else None,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    carrier = _reapi.OutputFile(LOAD_FILE, bytes_sha256(meta), len(meta), meta)
    return _reapi.encode_action_result([carrier], worker=WORKER)


def decode_document(raw: bytes, secret: bytes | None) -> tuple[bytes | None, str]:
    """The body of a document entry, checked as :func:`decode_entry` checks a record."""
    try:
        carrier = _reapi.decode_action_result(raw).file(LOAD_FILE)
        if carrier is None or not carrier.contents:
            return None, MALFORMED
        meta = json.loads(carrier.contents)
        if meta.get("axl_document") != ENTRY_VERSION:
            return None, MALFORMED
        body = str(meta["body"]).encode()
        signature = meta.get("signature")
    except (_reapi.DecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None, MALFORMED
    problem = _signature_problem(secret, body, signature)
    return (None, problem) if problem else (body, "")


@dataclass
class RemoteStats:
    """What the remote did for one build; saved in the run record."""

    url: str
    upload: bool
    remote_hits: int = 0
    remote_misses: int = 0
    uploads: int = 0
    blobs_downloaded: int = 0
    bytes_downloaded: int = 0
    blobs_uploaded: int = 0
    bytes_uploaded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    degraded: bool = False
    #: Workflow loads taken from the remote (the user's module was not imported) / uploaded.
    loads_fetched: int = 0
    loads_uploaded: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "upload": self.upload,
            "remote_hits": self.remote_hits,
            "remote_misses": self.remote_misses,
            "uploads": self.uploads,
            "blobs_downloaded": self.blobs_downloaded,
            "bytes_downloaded": self.bytes_downloaded,
            "blobs_uploaded": self.blobs_uploaded,
            "bytes_uploaded": self.bytes_uploaded,
            "rejected": dict(sorted(self.rejected.items())),
            "degraded": self.degraded,
            "loads_fetched": self.loads_fetched,
            "loads_uploaded": self.loads_uploaded,
            "warnings": list(self.warnings),
        }


class _Tampered(Exception):
    """A downloaded blob's content does not match its digest."""


def _stderr(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


class TieredStore(LocalStore):
    """A :class:`LocalStore` that reads through to and writes through to a remote store.

    Only :meth:`get_record` and :meth:`put_record` reach the remote; blobs are written, read and
    verified locally as before, so the engine and its worker processes need not know about it.
    Not thread-safe (the engine calls it from its scheduling thread only).

    Args:
        root: The local cache folder.
        remote: The remote store.
        upload: Whether fresh results are uploaded.
        secret: Signs uploaded entries and is required of downloaded ones; by default
            ``$AXL_CACHE_SECRET``.
        warn: Receives each warning (default: a ``warning:`` line on stderr).
    """

    def __init__(
        self,
        root: Path,
        remote: RemoteStore,
        *,
        upload: bool = True,
        secret: bytes | Callable[[], bytes | None] | None = secret_from_env,
        warn: Warn | None = None,
    ) -> None:
        super().__init__(root)
        self.remote = remote
        self.upload = upload
        self.secret = secret() if callable(secret) else secret
        self.stats = RemoteStats(remote.url, upload)
        #: Keys whose records came from the remote during this store's life.
        self.fetched: set[str] = set()
        self._warn = warn if warn is not None else _stderr
        self._warned: set[str] = set()
        # Blobs the remote holds with the wrong content: uploaded again even though HEAD says
        # they exist, so a tampered blob is repaired by the next build that produces it.
        self._suspect: set[str] = set()
        # BLAKE3 digest -> remote name, for blobs hashed or downloaded during this store's life.
        self._names: dict[str, str] = {}

    def remote_tier(self) -> TieredStore:
        return self

    @property
    def degraded(self) -> bool:
        return self.stats.degraded

    # -- reading -------------------------------------------------------------------------------

    def get_record(self, key: str) -> ActionResult | None:
        """The local record, else the remote one (checked, its blobs downloaded and verified)."""
        record = super().get_record(key)
        if record is not None and all(self.has_blob(d) for d in record_blobs(record)):
            return record
        if self.stats.degraded:
            return record
        return self._fetch(key) or record

    def _fetch(self, key: str) -> ActionResult | None:
        try:
            raw = self.remote.get_ac(key)
            if raw is None:
                self.stats.remote_misses += 1
                return None
            entry, problem = decode_entry(raw, key, self.secret)
            if entry is None:
                self._reject(problem, key)
                return None
            record = entry.record
            for digest in record_blobs(record):
                if not self._download(digest, entry.names[digest]):
                    # An evicted blob (the server's own GC): a plain miss.
                    self.stats.remote_misses += 1
                    return None
        except RemoteError as exc:
            self._degrade(exc)
            return None
        except _Tampered as exc:
            self._reject(TAMPERED, key, str(exc))
            return None
        stamps = {d: s for d in record_blobs(record) if (s := self.stamp(d)) is not None}
        record = replace(record, stamps=stamps)
        super().put_record(record)
        self.fetched.add(key)
        self.stats.remote_hits += 1
        return record

    def _download(self, digest: str, name: str) -> bool:
        """Make the blob ``digest`` local from the remote's ``cas/<name>``; ``False`` when the
        remote does not have it."""
        if self.verified_blob(digest) is not None:
            return True
        tmp = self.tmp_file()
        try:
            if not self.remote.get_cas(name, tmp):
                return False
            if file_digest(tmp) != digest:
                self._suspect.add(digest)
                raise _Tampered(f"blob {digest[:12]} does not match its digest")
            size = tmp.stat().st_size
            self.put_file(tmp, digest)
            self._names[digest] = name
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self.stats.blobs_downloaded += 1
        self.stats.bytes_downloaded += size
        return True

    # -- writing -------------------------------------------------------------------------------

    def put_record(self, record: ActionResult) -> None:
        """Store ``record`` locally, then upload its blobs and then its entry."""
        super().put_record(record)
        if not self.upload or self.stats.degraded:
            return
        try:
            names: dict[str, tuple[str, int]] = {}
            for digest in record_blobs(record):
                path = self.blob_path(digest)
                size = path.stat().st_size
                name = self.remote_name(digest)
                names[digest] = (name, size)
                if digest in self._suspect or not self.remote.has_cas(name):
                    self.remote.put_cas(name, path)
                    self._suspect.discard(digest)
                    self.stats.blobs_uploaded += 1
                    self.stats.bytes_uploaded += size
            entry = encode_entry(record, self.secret, names)
            self.remote.put_ac(record.key, entry)
            self.stats.uploads += 1
            self.stats.bytes_uploaded += len(entry)
        except RemoteError as exc:
            self._degrade(exc)
        except OSError:
            # A local blob vanished (a concurrent gc): without it the entry must not go up.
            return

    def get_document(self, key: str) -> bytes | None:
        """The checked body of the document entry ``key`` (see :func:`encode_document`), or
        ``None`` (absent, rejected with a warning, or the remote failed)."""
        if self.stats.degraded:
            return None
        try:
            raw = self.remote.get_ac(key)
        except RemoteError as exc:
            self._degrade(exc)
            return None
        if raw is None:
            return None
        body, problem = decode_document(raw, self.secret)
        if body is None:
            self._reject(problem, key)
        return body

    def put_document(self, key: str, body: bytes) -> None:
        """Upload a document entry (unless this store does not upload)."""
        if not self.upload or self.stats.degraded:
            return
        entry = encode_document(body, self.secret)
        try:
            self.remote.put_ac(key, entry)
        except RemoteError as exc:
            self._degrade(exc)
            return
        self.stats.bytes_uploaded += len(entry)

    def remote_name(self, digest: str) -> str:
        """The remote name (SHA-256) of the local blob ``digest``, hashed once per store.

        Raises:
            OSError: The blob is not in the local store.
        """
        name = self._names.get(digest)
        if name is None:
            name = self._names[digest] = file_sha256(self.blob_path(digest))
        return name

    def reset_stats(self) -> None:
        """Start counting afresh (a new build). A degraded remote stays off, and warnings
        already given are not repeated: the remote's health is per process, not per build."""
        self.stats = replace(RemoteStats(self.stats.url, self.upload), degraded=self.stats.degraded)
        self.fetched = set()

    def close(self) -> None:
        """Release the remote's connections."""
        with contextlib.suppress(RemoteError, OSError):
            self.remote.close()

    # -- trouble -------------------------------------------------------------------------------

    def _degrade(self, exc: RemoteError) -> None:
        self.stats.degraded = True
        hint = f" ({exc.hint})" if exc.hint else ""
        self._warn_once(
            "degraded",
            f"{exc.message}{hint}; the rest of this build uses the local cache only",
        )

    def _reject(self, why: str, key: str, detail: str = "") -> None:
        self.stats.rejected[why] = self.stats.rejected.get(why, 0) + 1
        url = self.stats.url
        if why in (UNSIGNED, BAD_SIGNATURE):
            message = (
                f"ignored remote cache entries from {url} that are unsigned or badly signed "
                f"(first: {key[:12]}, {why}); those steps run locally. Check that every writer "
                f"uses the same ${ENV_SECRET}"
            )
            self._warn_once("signature", message)
        elif why == TAMPERED:
            self._warn_once(
                TAMPERED,
                f"ignored remote cache entries from {url} whose blobs fail verification "
                f"(first: {detail}); those steps run locally and re-upload their outputs",
            )
        else:
            self._warn_once(
                MALFORMED,
                f"ignored unreadable remote cache entries from {url} (first: {key[:12]}); "
                "a writer may use another axl version",
            )

    def _warn_once(self, kind: str, message: str) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        self.stats.warnings.append(message)
        self._warn(message)
