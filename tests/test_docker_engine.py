"""The Docker pipeline the image tests stand on: a private engine, a registry-free base image,
builds from it, and network access to PyPI from inside a build."""

from __future__ import annotations

import os
import secrets
import textwrap
from pathlib import Path

import pytest
from docker_fixtures import DockerEngine, build_image, copy_host_ca, start_engine

pytestmark = pytest.mark.integration


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    return context


def test_engine_answers_and_is_reused(docker_engine: DockerEngine) -> None:
    assert docker_engine.client.ping()
    assert os.environ["DOCKER_HOST"] == docker_engine.host
    assert docker_engine.host.startswith("unix://")
    info = docker_engine.client.info()
    # No bridge: the host's firewall and interfaces are left alone (see scripts/docker-up.sh).
    assert "bridge" not in {n.name for n in docker_engine.client.networks.list()}
    assert info["Driver"] in {"overlay2", "vfs", "fuse-overlayfs"}
    again = start_engine()
    try:
        assert again.host == docker_engine.host
        assert not again.started
    finally:
        again.client.close()


def test_build_and_run_from_base(
    docker_engine: DockerEngine, docker_base_image: str, tmp_path: Path
) -> None:
    context = _context(
        tmp_path,
        f"""
        FROM {docker_base_image}
        RUN python3 -c "import pathlib, sys; pathlib.Path('/built').write_text(sys.version)"
        CMD ["python3", "-c", "print('hello from', open('/built').read())"]
        """,
    )
    image = build_image(docker_engine, context, "axl-test/hello:latest")
    try:
        out = docker_engine.client.containers.run(image.id, remove=True)
        assert out.decode().startswith("hello from 3.11.")
    finally:
        docker_engine.client.images.remove(image.id, force=True)


def test_default_build_network_has_no_route(
    docker_engine: DockerEngine, docker_base_image: str, tmp_path: Path
) -> None:
    context = _context(
        tmp_path,
        f"""
        FROM {docker_base_image}
        RUN python3 -c "import socket; socket.getaddrinfo('pypi.org', 443)"
        """,
    )
    with pytest.raises(AssertionError, match="getaddrinfo"):
        build_image(docker_engine, context, "axl-test/offline:latest")


def test_build_installs_from_pypi_through_host_network(
    docker_engine: DockerEngine, docker_base_image: str, tmp_path: Path
) -> None:
    context = _context(
        tmp_path,
        f"""
        FROM {docker_base_image}
        COPY ca.crt /usr/local/share/axl-build-ca.crt
        ENV SSL_CERT_FILE=/usr/local/share/axl-build-ca.crt \\
            PIP_CERT=/usr/local/share/axl-build-ca.crt \\
            PIP_DISABLE_PIP_VERSION_CHECK=1
        RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv \\
            && ln -s /opt/uv/bin/uv /usr/local/bin/uv
        # A fresh value each run, so the install below really reaches PyPI (the uv layer above
        # stays cached in the engine's data root between runs).
        ARG NONCE
        RUN uv venv /opt/venv && uv pip install --python /opt/venv --no-cache six \\
            && /opt/venv/bin/python -c "import six; print('six', six.__version__)"
        """,
    )
    copy_host_ca(context)
    image = build_image(
        docker_engine,
        context,
        "axl-test/pypi:latest",
        network_mode="host",
        buildargs={"NONCE": secrets.token_hex(8)},
    )
    try:
        out = docker_engine.client.containers.run(
            image.id, ["/opt/venv/bin/python", "-c", "import six; print(six.__name__)"], remove=True
        )
        assert out.decode().strip() == "six"
    finally:
        # noprune keeps the parent layers, so the next run reuses the `pip install uv` layer.
        docker_engine.client.images.remove(image.id, force=True, noprune=True)
