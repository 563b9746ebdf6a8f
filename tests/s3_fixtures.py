"""A real S3-compatible server on loopback: ``moto_server`` (``moto[server]``, a dev dependency).

A pytest plugin (listed in ``pytest_plugins`` in conftest.py). Fixtures:

* ``moto_server`` (session): starts ``moto_server`` on 127.0.0.1 and a free port, waits until it
  answers, yields a :class:`MotoServer` (``.endpoint``), stops it at the end of the session;
* ``s3_env``: points boto3 at that server for this test (``AWS_ENDPOINT_URL`` and dummy
  credentials in ``os.environ``, so subprocesses such as the runner inherit them);
* ``s3_bucket``: a fresh, empty bucket (its name) on that server, with ``s3_env`` applied.

No skipping: when moto_server is missing or does not start, the test fails and says why.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_BUCKETS = itertools.count()


class MotoServer:
    """One ``moto_server`` process."""

    def __init__(self, log: Path) -> None:
        binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        binary = binary or shutil.which("moto_server")
        if binary is None:
            pytest.fail(
                "moto_server is missing, and the S3 tests need a real S3-compatible server: "
                "run `make setup` (moto[server] is a dev dependency)"
            )
        self.binary = binary
        self.log = log
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"moto_server exited at start:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # it answered: it is up
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"moto_server did not answer on {self.endpoint} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self) -> Any:
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
            region_name="us-east-1",
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A running moto_server for the whole session."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """boto3 (here and in subprocesses) talks to the moto server, with dummy credentials."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_server


@pytest.fixture
def s3_bucket(s3_env: MotoServer) -> str:
    """A fresh empty bucket's name."""
    name = f"axl-test-{os.getpid()}-{next(_BUCKETS)}"
    s3_env.client().create_bucket(Bucket=name)
    return name
