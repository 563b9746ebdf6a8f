"""Artifact stores, chosen by URL: where a step's inputs come from and its outputs go.

* a directory (``/mnt/pvc/axl``, ``file:///mnt/pvc/axl``, a Kubernetes volume, or a local cache
  folder such as ``.axl``): the same layout as :class:`axl.cache._local.LocalStore`;
* ``s3://bucket/prefix``: any S3-compatible service through boto3 (the ``s3`` extra, imported only
  when such a URL is used). The endpoint and credentials come from boto3's usual configuration
  (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ... or an instance role).

Layout under the store's root::

    cas/ab/abcdef...            a directory's blobs, named by their BLAKE3 content digest: the
                                local cache's layout, so a cache folder is a store as it is
    cas/abcdef...               an S3 store's blobs, by BLAKE3 digest too; the remote cache
                                names its blobs by SHA-256 (Bazel's protocol), so one bucket
                                and prefix can hold both without a clash
    runs/<run-id>/<step>.json   the runner's result record of each step of a run

Blobs are content-addressed: an upload whose digest is already present is skipped, and every
download is hashed and compared with the digest it was asked for. No reader ever sees a partial
object: a directory store writes a temporary file and renames it into place; an S3 object becomes
visible only when its single PUT (or its multipart upload) completes, and S3 rejects a PUT whose
body ends before its ``Content-Length``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlparse

from axl.cache._local import LocalStore, write_atomic
from axl.errors import RunnerError
from axl.hashing import StreamHasher

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Names of non-blob objects (result records): plain relative paths, no "..", no leading "/".
_NAME = re.compile(r"^(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_CHUNK = 1 << 20
#: Bodies up to this size go up in one PUT; larger ones as a multipart upload (atomic as well:
#: the object appears only when the upload is completed).
SINGLE_PUT_LIMIT = 512 << 20


class ArtifactStore(Protocol):
    """What the runner needs from a store."""

    url: str

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        """Whether the blob is present (and has ``size``, when given). No hashing."""

    def upload_blob(self, src: Path, digest: str, size: int) -> bool:
        """Store the file ``src`` (whose digest is ``digest``); ``False`` when it was present."""

    def download_blob(self, digest: str, dest: Path) -> bool:
        """Write the blob to ``dest`` after checking its digest; ``False`` when it is absent.

        Raises:
            RunnerError: The stored bytes do not match ``digest``, or the store failed.
        """

    def get_object(self, name: str) -> bytes | None:
        """The bytes stored under ``name`` (e.g. ``runs/<run>/<step>.json``), or ``None``."""

    def put_object(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``, replacing what was there, atomically."""

    def blob_url(self, digest: str) -> str:
        """Where the blob lives, as a URL (for result records and people)."""


def check_digest(digest: str) -> str:
    """``digest`` if it is a BLAKE3 hex digest; it becomes part of an object path."""
    if not _DIGEST.match(digest):
        raise RunnerError(f"{digest!r} is not a content digest (64 lowercase hex characters)")
    return digest


def check_name(name: str) -> str:
    """``name`` if it is a safe relative object name (no ``..``, no leading ``/``)."""
    if not _NAME.match(name):
        raise RunnerError(f"{name!r} is not a safe object name in an artifact store")
    return name


class DirStore:
    """A directory (local disk, NFS, a Kubernetes volume) laid out as a :class:`LocalStore`.

    Reading never creates anything: only a write (or :meth:`local_store`) sets up the layout.
    """

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.url = url or str(root)
        self._local: LocalStore | None = None

    def _blob(self, digest: str) -> Path:
        return self.root / "cas" / digest[:2] / check_digest(digest)

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        try:
            st = self._blob(digest).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def upload_blob(self, src: Path, digest: str, size: int) -> bool:
        if self.has_blob(digest, size):
            return False
        local = self.local_store()
        tmp = local.tmp_file()
        try:
            shutil.copyfile(src, tmp)
            local.put_file(tmp, digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return True

    def download_blob(self, digest: str, dest: Path) -> bool:
        try:
            src = self._blob(digest).open("rb")
        except FileNotFoundError:
            return False
        with src:
            _receive(src, dest, digest, self.blob_url(digest))
        return True

    def get_object(self, name: str) -> bytes | None:
        try:
            return (self.root / check_name(name)).read_bytes()
        except FileNotFoundError:
            return None

    def put_object(self, name: str, data: bytes) -> None:
        path = self.root / check_name(name)
        local = self.local_store()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, local.tmp_dir)

    def blob_url(self, digest: str) -> str:
        return str(self._blob(digest))

    def local_store(self) -> LocalStore:
        """The folder as a :class:`LocalStore` (set up on first use), so nothing is copied."""
        if self._local is None:
            try:
                self._local = LocalStore(self.root)
            except OSError as exc:
                raise RunnerError(
                    f"artifact store {self.url} cannot be used: {exc.strerror or exc}",
                    hint="pass a writable folder, or an s3://bucket/prefix URL",
                ) from None
        return self._local


class S3Store:
    """``s3://bucket/prefix`` through boto3 (imported when first used)."""

    def __init__(self, bucket: str, prefix: str, url: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = url
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise RunnerError(
                    f"artifact store {self.url} needs boto3, which is not installed",
                    hint="install the s3 extra: pip install 'axl-build[s3]'",
                ) from None
            self._client = boto3.client("s3")
        return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _blob_key(self, digest: str) -> str:
        return self._key(f"cas/{check_digest(digest)}")

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        head = self._call("head", self._blob_key(digest), missing_ok=True)
        return head is not None and (size is None or int(head["ContentLength"]) == size)

    def upload_blob(self, src: Path, digest: str, size: int) -> bool:
        if self.has_blob(digest, size):
            return False
        key = self._blob_key(digest)
        if size <= SINGLE_PUT_LIMIT:
            with src.open("rb") as body:
                self._call("put", key, body=body, size=size, digest=digest)
        else:
            self._call("multipart", key, path=src, digest=digest)
        return True

    def download_blob(self, digest: str, dest: Path) -> bool:
        got = self._call("get", self._blob_key(digest), missing_ok=True)
        if got is None:
            return False
        with contextlib.closing(got["Body"]) as body:
            _receive(body, dest, digest, self.blob_url(digest))
        return True

    def get_object(self, name: str) -> bytes | None:
        got = self._call("get", self._key(check_name(name)), missing_ok=True)
        if got is None:
            return None
        with contextlib.closing(got["Body"]) as body:
            data: bytes = body.read()
            return data

    def put_object(self, name: str, data: bytes) -> None:
        self._call("put_bytes", self._key(check_name(name)), data=data)

    def blob_url(self, digest: str) -> str:
        return f"s3://{self.bucket}/{self._blob_key(digest)}"

    def _call(
        self, op: str, key: str, *, missing_ok: bool = False, **kw: Any
    ) -> dict[str, Any] | None:
        """One S3 request; botocore's errors become one clear :class:`RunnerError`."""
        client, bucket = self.client, self.bucket
        try:
            if op == "head":
                return dict(client.head_object(Bucket=bucket, Key=key))
            if op == "get":
                return dict(client.get_object(Bucket=bucket, Key=key))
            if op == "put":
                client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=kw["body"],
                    ContentLength=kw["size"],
                    Metadata={"axl-digest": kw["digest"]},
                )
            elif op == "put_bytes":
                client.put_object(Bucket=bucket, Key=key, Body=kw["data"])
            elif op == "multipart":
                extra = {"Metadata": {"axl-digest": kw["digest"]}}
                client.upload_file(str(kw["path"]), bucket, key, ExtraArgs=extra)
        except Exception as exc:  # noqa: BLE001 - botocore's error classes are built at run time
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if missing_ok and code in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise RunnerError(
                f"artifact store {self.url}: {op} s3://{bucket}/{key} failed: "
                f"{type(exc).__name__}: {exc}",
                hint="check the bucket, the credentials (AWS_ACCESS_KEY_ID, ...) and "
                "AWS_ENDPOINT_URL for S3-compatible services",
            ) from None
        return {}


def _receive(src: IO[bytes], dest: Path, digest: str, where: str) -> None:
    """Copy ``src`` to ``dest`` through a temporary file, hashing on the way; only bytes that
    match ``digest`` are renamed into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".download-")
    hasher = StreamHasher()
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
        _check_received(hasher.hexdigest(), digest, where)
        os.replace(name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def _check_received(got: str, digest: str, where: str) -> None:
    if got != digest:
        raise RunnerError(
            f"blob {where} is corrupt: its content digest is {got[:12]}..., not {digest[:12]}...",
            hint="delete the object; the step that produced it will upload it again",
        )


def open_artifact_store(url: str) -> ArtifactStore:
    """The store ``url`` names: ``s3://bucket/prefix``, ``file:///path`` or a directory path.

    Raises:
        RunnerError: The URL's scheme is not supported or the store cannot be opened.
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "s3":
        if not parsed.netloc:
            raise RunnerError(
                f"artifact store URL {url!r} names no bucket", hint="write s3://bucket/prefix"
            )
        return S3Store(parsed.netloc, parsed.path, url)
    if scheme == "file":
        return DirStore(Path(parsed.path), url)
    if scheme == "":
        return DirStore(Path(url).resolve(), url)
    raise RunnerError(
        f"artifact store URL {url!r} has an unsupported scheme {scheme!r}",
        hint="use a folder path, file:///path or s3://bucket/prefix",
    )
