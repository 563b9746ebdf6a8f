"""S3 (and S3-compatible: MinIO, Ceph, R2, moto) as a remote cache: ``s3://bucket/prefix``.

Objects are ``<prefix>/ac/<key>`` and ``<prefix>/cas/<sha256>``, the names of the HTTP protocol.
boto3 is imported only when an ``s3://`` URL is opened (the ``s3`` extra). Credentials, region and
endpoint come from boto3's usual sources (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``,
``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` for a non-AWS server, instance roles, ...).

Transfers run in the calling thread (``use_threads=False``): the local executor forks worker
processes, and forking while transfer threads are alive is unsafe.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from axl.cache._remote import ATTEMPTS, DEFAULT_TIMEOUT, RemoteError
from axl.errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Remote:
    """A remote cache in an S3 bucket, under an optional key prefix."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise UsageError(
                f"remote cache {url!r} is not an s3://bucket[/prefix] URL",
                hint="write e.g. s3://my-bucket/axl-cache",
            )
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self._client = s3_client(f"the remote cache {url}", timeout=timeout)
        from boto3.s3.transfer import TransferConfig

        self._transfer = TransferConfig(use_threads=False)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}/{kind}/{name}" if self.prefix else f"{kind}/{name}"

    def get_ac(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key("ac", key))
            return response["Body"].read()
        except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _failed
            self._raise_unless_missing(exc, "get", key)
            return None

    def put_ac(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key("ac", key), Body=data)
        except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _failed
            raise self._failed(exc, "put", key) from None

    def has_cas(self, digest: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key("cas", digest))
        except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _failed
            self._raise_unless_missing(exc, "head", digest)
            return False
        return True

    def get_cas(self, digest: str, dest: Path) -> bool:
        try:
            self._client.download_file(
                self.bucket, self._key("cas", digest), str(dest), Config=self._transfer
            )
        except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _failed
            self._raise_unless_missing(exc, "get", digest)
            return False
        return True

    def put_cas(self, digest: str, src: Path) -> None:
        try:
            self._client.upload_file(
                str(src), self.bucket, self._key("cas", digest), Config=self._transfer
            )
        except Exception as exc:  # noqa: BLE001 - botocore's tree is mapped in _failed
            raise self._failed(exc, "put", digest) from None

    def close(self) -> None:
        self._client.close()

    def _raise_unless_missing(self, exc: Exception, op: str, name: str) -> None:
        """Return when ``exc`` says "no such object"; raise RemoteError otherwise."""
        if _code(exc) not in _MISSING:
            raise self._failed(exc, op, name) from None

    def _failed(self, exc: Exception, op: str, name: str) -> RemoteError:
        code = _code(exc)
        hint = None
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            hint = "check the AWS credentials and the bucket policy"
        elif code == "NoSuchBucket":
            hint = f"create the bucket {self.bucket} or fix the URL"
        elif type(exc).__name__ == "NoCredentialsError":
            hint = "set AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)"
        return RemoteError(
            f"the remote cache {self.url} failed ({op} {name[:12]}): {type(exc).__name__}: {exc}",
            hint=hint,
        )


def s3_client(what: str, *, timeout: float = DEFAULT_TIMEOUT) -> S3Client:
    """A boto3 S3 client with axl's settings (timeouts, retries); credentials, region and
    endpoint from boto3's usual sources. Shared by the remote cache and ``s3://`` data inputs.

    Raises:
        UsageError: boto3 is not installed (``what`` says who needs it).
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UsageError(
            f"{what} needs boto3, which is not installed",
            hint="install the s3 extra: pip install 'axl-build[s3]'",
        ) from None
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
    )
    client: S3Client = boto3.session.Session().client("s3", config=config)
    return client


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore error (public name of :func:`_code`)."""
    return _code(exc)


def _code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError (also when s3transfer wrapped it)."""
    seen: BaseException | None = exc
    while seen is not None:
        response: Any = getattr(seen, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return ""
