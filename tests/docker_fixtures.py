"""A real Docker engine for the tests, started by the test session and stopped after it.

A pytest plugin (listed in ``pytest_plugins`` in conftest.py). Fixtures:

- ``docker_engine`` (session): runs ``scripts/docker-up.sh`` (installs Debian's ``docker.io`` when
  ``dockerd`` is missing, starts a private ``dockerd`` whose state lives in ``.services/docker``),
  sets ``DOCKER_HOST`` in ``os.environ`` for the session (so ``docker.from_env()`` and ``axl``
  subprocesses find it) and yields a :class:`DockerEngine`. An engine that was already running is
  reused and left running; one that the session started is stopped at its end.
- ``docker_base_image`` (session): the reference of a Debian bookworm image with Python 3.11,
  ``python3-venv`` and ``ca-certificates``, made without a registry by
  ``scripts/docker-base-image.sh`` (debootstrap + ``docker import``, cached between runs).

The engine has no bridge network: containers and build steps get only loopback unless they use
the host's network (``network_mode="host"``), and HTTPS from inside needs the host's CA bundle
(:func:`copy_host_ca`). docs/docker-in-tests.md has the details.

A machine where the engine cannot start fails these fixtures with the reason, never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import docker
    from docker.models.images import Image

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"

#: The tag that ``scripts/docker-base-image.sh`` gives the base image (AXL_BASE_IMAGE overrides).
BASE_IMAGE = os.environ.get("AXL_BASE_IMAGE", "axl-base:bookworm-python")


class DockerUnavailable(RuntimeError):
    """The engine or the base image could not be made; the message says why."""


@dataclass(frozen=True)
class DockerEngine:
    """A running engine: its address and an SDK client connected to it."""

    host: str
    """The ``DOCKER_HOST`` value, ``unix:///.../docker.sock``."""
    client: docker.DockerClient
    started: bool
    """True when this process started the engine (and so stops it)."""

    def env(self, **extra: str) -> dict[str, str]:
        """``os.environ`` plus ``DOCKER_HOST``, for a subprocess such as the ``axl`` CLI."""
        return {**os.environ, "DOCKER_HOST": self.host, **extra}


def _run(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
    )


def start_engine() -> DockerEngine:
    """Starts the private engine (or finds it running) and connects a client.

    Raises:
        DockerUnavailable: With the script's error and the tail of the dockerd log.
    """
    try:
        import docker
    except ImportError as exc:
        raise DockerUnavailable(
            "the `docker` Python package is missing: run `make setup` (the docker extra)"
        ) from exc
    proc = _run("docker-up.sh")
    if proc.returncode != 0:
        raise DockerUnavailable(f"scripts/docker-up.sh failed:\n{proc.stderr.strip()}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("export DOCKER_HOST=")]
    if not lines:
        raise DockerUnavailable(f"scripts/docker-up.sh printed no DOCKER_HOST:\n{proc.stdout}")
    host = lines[-1].removeprefix("export DOCKER_HOST=")
    client = docker.DockerClient(base_url=host, version="auto")
    return DockerEngine(host=host, client=client, started="# started" in proc.stdout)


def stop_engine() -> None:
    """Stops the private engine; its data root (images, build cache) is kept."""
    proc = _run("docker-down.sh")
    if proc.returncode != 0:
        raise DockerUnavailable(f"scripts/docker-down.sh failed:\n{proc.stderr.strip()}")


def ensure_base_image(engine: DockerEngine) -> str:
    """Makes the base image if the engine lacks it (about a minute cold) and returns its tag.

    Raises:
        DockerUnavailable: With the script's error (e.g. the tail of the debootstrap log).
    """
    proc = _run("docker-base-image.sh", env=engine.env(AXL_BASE_IMAGE=BASE_IMAGE))
    if proc.returncode != 0:
        raise DockerUnavailable(f"scripts/docker-base-image.sh failed:\n{proc.stderr.strip()}")
    return proc.stdout.strip().splitlines()[-1]


def host_ca_bundle() -> Path:
    """The CA bundle that HTTPS on this machine trusts (it includes a TLS proxy's CA, if any)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise DockerUnavailable("no CA bundle at $SSL_CERT_FILE or /etc/ssl/certs/ca-certificates.crt")


def copy_host_ca(context: Path, name: str = "ca.crt") -> str:
    """Copies :func:`host_ca_bundle` into a build context; returns its name there."""
    shutil.copyfile(host_ca_bundle(), context / name)
    return name


def build_image(engine: DockerEngine, context: Path, tag: str, **kwargs: Any) -> Image:
    """``client.images.build`` with ``rm=True``; a failed build raises with its log lines.

    Raises:
        AssertionError: The build failed; the message holds the build log.
    """
    import docker

    try:
        image, _ = engine.client.images.build(path=str(context), tag=tag, rm=True, **kwargs)
    except docker.errors.BuildError as exc:
        log = "".join(
            str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log
        )
        raise AssertionError(f"docker build of {tag} failed: {exc.msg}\n{log}") from None
    return image


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """The running private engine, with ``DOCKER_HOST`` set for the session."""
    try:
        engine = start_engine()
    except DockerUnavailable as exc:
        pytest.fail(f"the Docker tests need a real engine: {exc}", pytrace=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", engine.host)
        try:
            yield engine
        finally:
            engine.client.close()
            if engine.started:
                stop_engine()


@pytest.fixture(scope="session")
def docker_base_image(docker_engine: DockerEngine) -> str:
    """The tag of the registry-free Python base image (``axl-base:bookworm-python``)."""
    try:
        return ensure_base_image(docker_engine)
    except DockerUnavailable as exc:
        pytest.fail(f"the Docker tests need the base image: {exc}", pytrace=False)
