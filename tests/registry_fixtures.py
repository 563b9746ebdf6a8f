"""A real Docker registry on loopback for the ``--push`` tests, started per session.

A pytest plugin (listed in ``pytest_plugins`` in conftest.py). Fixture:

- ``docker_registry`` (session): runs Debian's ``docker-registry`` (distribution 2.8) on
  ``127.0.0.1:<free port>`` with filesystem storage in a temporary folder and no auth, waits
  for ``GET /v2/`` to answer and yields ``127.0.0.1:PORT``. The Docker engine pushes to it over
  plain HTTP without any daemon configuration: engines treat 127.0.0.0/8 as an insecure registry.

A missing ``docker-registry`` binary (``scripts/system-deps.sh`` installs it) fails the fixture
with that reason, never skips.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(address: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"docker-registry exited with {proc.returncode}:\n{log.read_text()[-3000:]}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(
        f"docker-registry did not answer on {address} in 30s:\n{log.read_text()[-3000:]}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running, empty registry (no auth, plain HTTP)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail(
            "the push tests need Debian's docker-registry: run scripts/system-deps.sh "
            "(apt-get install docker-registry)",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(CONFIG.format(root=root / "data", port=port))
    log = root / "registry.log"
    address = f"127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(address, proc, log)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
