"""Remote external inputs: ``s3://`` objects and prefixes, ``http(s)://`` objects.

Keyed without downloading (HEAD / List only), by what the store says identifies the content:

* an S3 object by its ``ChecksumSHA256`` when the store keeps one, else by ``VersionId`` + ETag;
  an S3 prefix by the listing of its objects (relative name, ETag, size);
* an HTTP(S) object by a strong ETag, else by ``Last-Modified`` + ``Content-Length``; with
  neither, it cannot be keyed: the build warns once and the step reruns every build.

The bytes are fetched only when a step that reads them runs, into the CAS, and the response must
carry the identity that was keyed (same ETag / version): otherwise the step fails rather than
record a result under a key that describes other data. Credentials, endpoint and region come
from the same places as the S3 remote cache (:func:`axl.cache._s3.s3_client`).
"""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from axl.cache._local import LocalStore
from axl.errors import UsageError
from axl.hashing import StreamHasher, key_digest
from axl.ir import Source

_TIMEOUT = 30.0
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


@dataclass(frozen=True)
class RemoteIdentity:
    """What keys a remote input: ``digest`` over ``remote`` (the store's own identity fields)."""

    digest: str
    remote: dict[str, Any]
    warning: str | None = None


def resolve_remote(src: Source, step: str) -> RemoteIdentity:
    """Key a remote input with HEAD / List requests only.

    Raises:
        UsageError: The object or prefix does not exist, credentials are missing, the server
            cannot be reached.
    """
    if src.location.startswith("s3://"):
        return _s3_prefix(src, step) if src.kind == "dir" else _s3_object(src, step)
    return _http_object(src, step)


def _problem(src: Source, step: str, problem: str, hint: str) -> UsageError:
    return UsageError(f"step {step!r}: input {src.kind} {src.location} {problem}", hint=hint)


def _split(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def _s3_failure(src: Source, step: str, exc: Exception) -> UsageError:
    from axl.cache._s3 import error_code

    code = error_code(exc)
    if code in _MISSING:
        return _problem(src, step, "does not exist", "upload it, or fix the URL")
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return _problem(
            src,
            step,
            "cannot be read: no AWS credentials",
            "set AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) as for the S3 remote cache",
        )
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return _problem(src, step, f"cannot be read ({code})", "check the AWS credentials")
    return _problem(
        src,
        step,
        f"cannot be read: {type(exc).__name__}: {exc}",
        "check the endpoint (AWS_ENDPOINT_URL) and the network",
    )


def _s3_object(src: Source, step: str) -> RemoteIdentity:
    from axl.cache._s3 import s3_client

    bucket, key = _split(src.location)
    client = s3_client(f"input {src.location}")
    try:
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _s3_failure
        raise _s3_failure(src, step, exc) from None
    finally:
        client.close()
    checksum = head.get("ChecksumSHA256")
    remote: dict[str, Any] = {"url": src.location, "size": int(head.get("ContentLength", 0))}
    if checksum:
        remote["checksum"] = f"sha256:{checksum}"
        ident: dict[str, Any] = {"checksum": remote["checksum"]}
    else:
        remote["etag"] = str(head.get("ETag", ""))
        if head.get("VersionId") and head.get("VersionId") != "null":
            remote["version"] = str(head["VersionId"])
        ident = {k: remote.get(k) for k in ("url", "etag", "version", "size")}
    return RemoteIdentity(key_digest("remote-object", ident), remote)


def _s3_prefix(src: Source, step: str) -> RemoteIdentity:
    from axl.cache._s3 import s3_client

    bucket, prefix = _split(src.location)
    client = s3_client(f"input {src.location}")
    objects: list[list[Any]] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix) :].lstrip("/")
                if not rel or (src.glob and not PurePosixPath(rel).match(src.glob)):
                    continue
                etag, size = str(obj.get("ETag", "")), int(obj.get("Size", 0))
                objects.append([rel, etag, size, f"s3://{bucket}/{obj['Key']}"])
    except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _s3_failure
        raise _s3_failure(src, step, exc) from None
    finally:
        client.close()
    if not objects:
        raise _problem(src, step, "holds no objects", "upload the data, or fix the prefix")
    objects.sort()
    remote = {"url": src.location, "objects": objects}
    return RemoteIdentity(key_digest("remote-prefix", remote), remote)


def _http_object(src: Source, step: str) -> RemoteIdentity:
    request = urllib.request.Request(src.location, method="HEAD")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
            headers = response.headers
    except urllib.error.HTTPError as exc:
        missing = exc.code in (404, 410)
        raise _problem(
            src,
            step,
            "does not exist (HTTP 404)" if missing else f"answered HTTP {exc.code}",
            "fix the URL" if missing else "check the server and any credentials it needs",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _problem(src, step, f"cannot be reached ({reason})", "check the URL") from None
    etag = headers.get("ETag")
    modified, length = headers.get("Last-Modified"), headers.get("Content-Length")
    remote: dict[str, Any] = {"url": src.location}
    if etag and not etag.startswith("W/"):
        remote["etag"] = etag
    elif modified and length:
        remote.update(last_modified=modified, size=int(length))
    else:
        # Nothing identifies the content: a fresh value each build makes the step rerun.
        remote["unversioned"] = time.time_ns()
        warning = (
            f"input {src.location} (step {step!r}) has neither a strong ETag nor Last-Modified "
            "and Content-Length, so axl cannot tell when it changes: the step reruns every build"
        )
        return RemoteIdentity(key_digest("remote-object", remote), remote, warning)
    return RemoteIdentity(key_digest("remote-object", remote), remote)


# -- downloading when the step runs -------------------------------------------------------


def download(remote: dict[str, Any], store: LocalStore, name: str) -> tuple[str, int]:
    """Fetch a keyed remote object into ``store``; returns its content digest and size.

    Raises:
        UsageError: It is gone, or no longer the version that was keyed.
    """
    url = str(remote["url"])
    tmp = store.tmp_file()
    hasher = StreamHasher()
    try:
        with tmp.open("wb") as out:
            got = (
                _s3_get(remote, out, hasher)
                if url.startswith("s3://")
                else _http_get(remote, out, hasher)
            )
        for field in ("etag", "version", "checksum", "last_modified"):
            if field in remote and got.get(field) not in (None, remote[field]):
                raise UsageError(
                    f"input {name!r} ({url}) changed after the build keyed it ({field} "
                    f"{remote[field]} -> {got[field]}); the step did not run",
                    hint="build again so the step is keyed with the object as it is now",
                )
        return store.put_file(tmp, hasher.hexdigest())
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def download_prefix(remote: dict[str, Any], store: LocalStore, name: str, folder: Any) -> str:
    """Fetch every object of a keyed S3 prefix into ``store`` and lay them out in ``folder``
    (read-only links into the CAS, under their names relative to the prefix)."""
    import os

    for rel, etag, _size, url in remote["objects"]:
        digest, _ = download({"url": url, "etag": etag}, store, name)
        link = folder / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(store.blob_path(digest), link)
    return str(folder)


def _s3_get(remote: dict[str, Any], out: Any, hasher: StreamHasher) -> dict[str, Any]:
    from axl.cache._s3 import s3_client

    bucket, key = _split(str(remote["url"]))
    client = s3_client(f"input {remote['url']}")
    try:
        extra: dict[str, Any] = {"ChecksumMode": "ENABLED"}
        if "version" in remote:
            extra["VersionId"] = remote["version"]
        response = client.get_object(Bucket=bucket, Key=key, **extra)
        body = response["Body"]
        while chunk := body.read(1 << 20):
            hasher.update(chunk)
            out.write(chunk)
    finally:
        client.close()
    checksum = response.get("ChecksumSHA256")
    return {
        "etag": response.get("ETag"),
        "version": response.get("VersionId") if "version" in remote else None,
        "checksum": f"sha256:{checksum}" if checksum and "checksum" in remote else None,
    }


def _http_get(remote: dict[str, Any], out: Any, hasher: StreamHasher) -> dict[str, Any]:
    request = urllib.request.Request(str(remote["url"]))  # noqa: S310 - http(s) only
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
        while chunk := response.read(1 << 20):
            hasher.update(chunk)
            out.write(chunk)
        headers = response.headers
    return {"etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified")}
