"""The S3 remote cache against a real moto server (``moto[server]``) on loopback.

The scenarios are those the nginx tests run (tests/remote_helpers.py). The server fixture here is
deliberately small and local to this module; a shared ``tests/s3_fixtures.py`` can replace it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import remote_helpers as scenarios

from axl.cache._remote import RemoteError, open_remote
from axl.cache._s3 import S3Remote

pytestmark = pytest.mark.integration

KEY = "ab" * 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Moto:
    """A ``moto_server`` process: an S3 API on 127.0.0.1."""

    def __init__(self) -> None:
        binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        if binary is None:
            pytest.fail("moto_server is missing: run `make setup` (moto[server] is a dev dep)")
        self.binary = binary
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                pytest.fail(f"moto_server exited at start:\n{err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            return
        self.stop()
        pytest.fail(f"moto_server did not listen on {self.endpoint} within {timeout} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point boto3 (here and in the axl processes the scenarios start) at the server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    server = Moto()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(moto: Moto, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket for this test on the module's server."""
    _aws_env(monkeypatch, moto.endpoint)
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")
    client(moto.endpoint).create_bucket(Bucket=name)
    return name


def client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def test_protocol_round_trip(bucket: str, tmp_path: Path, moto: Moto) -> None:
    remote = open_remote(f"s3://{bucket}/team/cache")
    assert isinstance(remote, S3Remote)
    assert remote.get_ac(KEY) is None
    assert not remote.has_cas(KEY)
    assert not remote.get_cas(KEY, tmp_path / "missing")
    remote.put_ac(KEY, b"record")
    assert remote.get_ac(KEY) == b"record"
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(1 << 20))
    remote.put_cas(KEY, blob)
    assert remote.has_cas(KEY)
    assert remote.get_cas(KEY, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == blob.read_bytes()
    keys = {o["Key"] for o in client(moto.endpoint).list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"team/cache/ac/{KEY}", f"team/cache/cas/{KEY}"}
    remote.close()


def test_missing_bucket_is_a_remote_error(bucket: str) -> None:
    remote = open_remote("s3://no-such-bucket-here/x")
    with pytest.raises(RemoteError, match="NoSuchBucket") as info:
        remote.put_ac(KEY, b"x")
    assert info.value.hint is not None
    assert "create the bucket" in info.value.hint


def test_share_between_workspaces(bucket: str, tmp_path: Path) -> None:
    scenarios.scenario_share(tmp_path, f"s3://{bucket}/ci")


def test_server_dies_mid_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = Moto()  # its own server: this test kills it
    server.start()
    try:
        _aws_env(monkeypatch, server.endpoint)
        client(server.endpoint).create_bucket(Bucket="dies")
        scenarios.scenario_remote_dies(tmp_path, "s3://dies/c", server.stop)
    finally:
        server.stop()


def test_tampered_blob_is_rejected(bucket: str, tmp_path: Path, moto: Moto) -> None:
    s3 = client(moto.endpoint)

    def read(digest: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=f"c/cas/{digest}")["Body"].read()
        return body

    def write(digest: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"c/cas/{digest}", Body=data)

    scenarios.scenario_tampered_blob(tmp_path, f"s3://{bucket}/c", read, write)


def test_bad_signatures_are_rejected(bucket: str, tmp_path: Path, moto: Moto) -> None:
    s3 = client(moto.endpoint)

    def read(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=f"c/ac/{key}")["Body"].read()
        return body

    def write(key: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"c/ac/{key}", Body=data)

    scenarios.scenario_signatures(tmp_path, f"s3://{bucket}/c", read, write)


def test_read_only_consumer(bucket: str, tmp_path: Path, moto: Moto) -> None:
    def count() -> int:
        listing = client(moto.endpoint).list_objects_v2(Bucket=bucket, Prefix="c/ac/")
        return int(listing.get("KeyCount", 0))

    scenarios.scenario_read_only(tmp_path, f"s3://{bucket}/c", count)
