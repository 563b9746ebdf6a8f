"""Talking to the Docker engine: cheap questions over its socket, builds through the SDK.

"Is an image with this tag and key here?" is asked on every ``axl build-image``, so it must cost
milliseconds: on a ``unix://`` engine (the usual case) it is one HTTP request over the socket.
Building, pulling and pushing go through the ``docker`` SDK (the ``docker`` extra), imported
only then; so does everything on ``tcp://``/``ssh://`` engines.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import quote, urlencode

from axl.image._errors import ImageError

DEFAULT_HOST = "unix:///var/run/docker.sock"


def engine_host() -> str:
    """The engine's address: ``$DOCKER_HOST``, else Docker's default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def unreachable(host: str, reason: object) -> ImageError:
    return ImageError(
        f"cannot reach a Docker engine at {host}: {reason}",
        hint="start Docker (or set DOCKER_HOST to a running engine); axl builds images with "
        "the Docker engine, and buildah is not supported yet",
    )


def _unix_request(path: str, method: str, target: str, timeout: float = 30) -> tuple[int, bytes]:
    """One HTTP/1.0 request over a Unix socket: ``(status, body)``.

    HTTP/1.0, so the engine answers with a plain body and closes the connection (no chunked
    encoding, no keep-alive); :mod:`http.client` would do the same at several times the import
    cost, and this runs on every ``axl build-image``.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(f"{method} {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"unexpected answer from the engine: {head[:80]!r}")
    return int(status_line[1]), body


class Engine:
    """One engine, asked through its socket when it is local, else through the SDK."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or engine_host()
        self._client: Any = None

    # -- cheap questions --------------------------------------------------------------------

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        if not self.host.startswith("unix://"):
            raise NotImplementedError
        try:
            return _unix_request(self.host.removeprefix("unix://"), method, path)
        except OSError as exc:
            raise unreachable(self.host, exc) from None

    def inspect(self, reference: str) -> dict[str, Any] | None:
        """``docker image inspect REFERENCE``, or ``None`` when the engine has no such image."""
        try:
            status, body = self._request("GET", f"/images/{quote(reference, safe='/:@')}/json")
        except NotImplementedError:
            return self._sdk_inspect(reference)
        if status == 404:
            return None
        if status != 200:
            raise ImageError(f"the Docker engine answered {status} to inspecting {reference}")
        data: dict[str, Any] = json.loads(body)
        return data

    def find_labelled(self, label: str, value: str) -> dict[str, Any] | None:
        """An image whose ``label`` is ``value`` (any repository), inspected; else ``None``."""
        filters = json.dumps({"label": [f"{label}={value}"]})
        try:
            status, body = self._request("GET", f"/images/json?{urlencode({'filters': filters})}")
        except NotImplementedError:
            found = self.client().api.images(filters={"label": f"{label}={value}"})
        else:
            found = json.loads(body) if status == 200 else []
        for image in found:
            info = self.inspect(str(image["Id"]))
            if info is not None:
                return info
        return None

    def tag(self, image_id: str, repository: str, tag: str) -> None:
        """Point ``repository:tag`` at ``image_id``."""
        query = urlencode({"repo": repository, "tag": tag})
        try:
            status, body = self._request("POST", f"/images/{quote(image_id, safe=':')}/tag?{query}")
        except NotImplementedError:
            self.client().api.tag(image_id, repository, tag)
            return
        if status not in (200, 201):
            raise ImageError(f"tagging {image_id} as {repository}:{tag} failed: {body!r}")

    # -- the SDK ----------------------------------------------------------------------------

    def client(self) -> Any:
        """The ``docker`` SDK client (imported and connected on first use).

        Raises:
            ImageError: The SDK is missing or the engine does not answer.
        """
        if self._client is not None:
            return self._client
        try:
            import docker
        except ImportError:
            raise ImageError(
                "building images needs the `docker` Python package",
                hint="install axl's docker extra: pip install 'axl-build[docker]'",
            ) from None
        try:
            self._client = docker.DockerClient(base_url=self.host, version="auto", timeout=600)
        except docker.errors.DockerException as exc:
            raise unreachable(self.host, exc) from None
        return self._client

    def _sdk_inspect(self, reference: str) -> dict[str, Any] | None:
        import docker

        try:
            data: dict[str, Any] = self.client().api.inspect_image(reference)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.DockerException as exc:
            raise unreachable(self.host, exc) from None
        return data

    def pull(self, reference: str) -> None:
        """Pull ``reference``.

        Raises:
            ImageError: It cannot be pulled (no registry, no such image).
        """
        import docker

        try:
            self.client().api.pull(reference)
        except docker.errors.DockerException as exc:
            raise ImageError(
                f"base image {reference} is not on the engine and pulling it failed: "
                f"{_reason(exc)}",
                hint="pull or load it first (docker pull / docker load), or pass another --base",
            ) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _reason(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
