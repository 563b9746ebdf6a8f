"""The HTTP remote cache: Bazel's protocol, ``GET/PUT/HEAD <prefix>/ac/<key>`` and
``<prefix>/cas/<sha256>``, as nginx WebDAV (``dav_methods PUT``) and bazel-remote serve it. What the
names and bodies hold (SHA-256 names, ``ActionResult`` entries) is :mod:`axl.cache._tiered`'s
business; this module moves bytes.

One persistent connection (HTTP/1.1 keep-alive) carries every request of a build, so a warm build
pays one TCP (and TLS) handshake, not one per blob. Every socket operation has a timeout, and a
request is tried at most :data:`~axl.cache._remote.ATTEMPTS` times, only when the failure looks
transient (connection refused or reset, 5xx, 429); a timeout is not retried, since a remote that
was slow once is likely slow again and the build must not wait on it. Bodies are streamed in
chunks, never held whole in memory.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from axl.cache._remote import ATTEMPTS, DEFAULT_TIMEOUT, RemoteError
from axl.errors import UsageError

_CHUNK = 1 << 16
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_NAME = re.compile(r"[0-9a-f]{16,128}")
_BodyOpener = Callable[[], IO[bytes]]


class HttpRemote:
    """A remote cache at ``http(s)://[user:password@]host[:port][/prefix]``."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"remote cache {url!r} is not an http(s) URL with a host",
                hint="write e.g. http://cache.example.com:8080/axl",
            )
        try:
            self.port = parts.port
        except ValueError:
            raise UsageError(f"remote cache {url!r} has a bad port") from None
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        # The URL without its password: this is what messages and run records show.
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = f"{parts.scheme}://{netloc}{self.prefix}"
        self._headers = {"Content-Type": "application/octet-stream"}
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self._conn: http.client.HTTPConnection | None = None

    # -- the RemoteStore protocol ------------------------------------------------------------

    def get_ac(self, key: str) -> bytes | None:
        response = self._request("GET", self._path("ac", key))
        if response is None:
            return None
        return self._read_all(response)

    def put_ac(self, key: str, data: bytes) -> None:
        self._put(self._path("ac", key), len(data), lambda: io.BytesIO(data))

    def has_cas(self, digest: str) -> bool:
        return self._request("HEAD", self._path("cas", digest)) is not None

    def get_cas(self, digest: str, dest: Path) -> bool:
        path = self._path("cas", digest)
        for attempt in range(ATTEMPTS):
            response = self._request("GET", path)
            if response is None:
                return False
            with dest.open("wb") as f:
                try:
                    while chunk := response.read(_CHUNK):
                        f.write(chunk)
                except (OSError, http.client.HTTPException) as exc:
                    # A body cut off mid-way: start the blob again on a fresh connection.
                    self._drop()
                    if isinstance(exc, socket.timeout) or attempt == ATTEMPTS - 1:
                        raise self._failed("GET", path, exc) from None
                    _backoff(attempt)
                    continue
            return True
        return False  # pragma: no cover - the loop returns or raises

    def put_cas(self, digest: str, src: Path) -> None:
        self._put(self._path("cas", digest), src.stat().st_size, lambda: src.open("rb"))

    def close(self) -> None:
        self._drop()

    # -- HTTP ----------------------------------------------------------------------------------

    def _path(self, kind: str, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise RemoteError(f"{name!r} is not a key or digest")
        return f"{self.prefix}/{kind}/{name}"

    def _put(self, path: str, size: int, body: _BodyOpener) -> None:
        headers = {"Content-Length": str(size)}
        response = self._request("PUT", path, body, headers)
        if response is None:
            raise RemoteError(
                f"the remote cache {self.url} answered PUT {path} with 404",
                hint="the prefix does not accept uploads; with nginx, set "
                "'dav_methods PUT; create_full_put_path on;'",
            )
        self._read_all(response)

    def _request(
        self,
        method: str,
        path: str,
        body: _BodyOpener | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse | None:
        """Send one request (retrying transient failures); ``None`` on 404.

        The returned response's body must be read to the end before the next request.
        """
        last: BaseException | str = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                _backoff(attempt - 1)
            conn = self._connection()
            try:
                if body is None:
                    conn.request(method, path, headers={**self._headers, **(headers or {})})
                else:
                    with body() as stream:
                        conn.request(method, path, stream, {**self._headers, **(headers or {})})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                # Includes a keep-alive connection the server closed while idle: reconnect.
                self._drop()
                if isinstance(exc, socket.timeout):
                    raise self._failed(method, path, exc) from None
                last = exc
                continue
            status = response.status
            if status == 404:
                self._read_all(response)
                return None
            if 200 <= status < 300:
                return response
            self._read_all(response)
            if status in _RETRY_STATUS:
                last = f"HTTP {status} {response.reason}"
                continue
            raise RemoteError(
                f"the remote cache {self.url} answered {method} {path} with HTTP {status} "
                f"{response.reason}",
                hint=_status_hint(status),
            )
        raise self._failed(method, path, last)

    def _read_all(self, response: http.client.HTTPResponse) -> bytes:
        try:
            return response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise self._failed("read", "", exc) from None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._conn = cls(self.host, self.port, timeout=self.timeout, blocksize=_CHUNK)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None

    def _failed(self, method: str, path: str, why: BaseException | str) -> RemoteError:
        if isinstance(why, socket.timeout):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(why, BaseException):
            reason = f"{type(why).__name__}: {why}".rstrip(": ")
        else:
            reason = why
        where = f" {method} {path}" if path else ""
        return RemoteError(f"the remote cache {self.url} failed{where}: {reason}")


def _backoff(attempt: int) -> None:
    time.sleep(min(0.1 * 3**attempt, 1.0))


def _status_hint(status: int) -> str | None:
    if status in (401, 403):
        return "check the credentials in the URL (http://user:password@host/prefix)"
    if status == 405:
        return "the server does not accept this method; nginx needs 'dav_methods PUT'"
    if status == 413:
        return "the blob is larger than the server accepts; nginx: 'client_max_body_size 0'"
    return None
