"""The S3 remote cache against a real moto server on loopback (tests/s3_fixtures.py).

The scenarios are those the nginx tests run (tests/remote_helpers.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import remote_helpers as scenarios
from s3_fixtures import MotoServer

from axl.cache._remote import RemoteError, open_remote
from axl.cache._s3 import S3Remote

pytestmark = pytest.mark.integration

KEY = "ab" * 32


def test_protocol_round_trip(s3_bucket: str, s3_env: MotoServer, tmp_path: Path) -> None:
    bucket = s3_bucket
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
    keys = {o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"team/cache/ac/{KEY}", f"team/cache/cas/{KEY}"}
    remote.close()


def test_missing_bucket_is_a_remote_error(s3_env: MotoServer) -> None:
    remote = open_remote("s3://no-such-bucket-here/x")
    with pytest.raises(RemoteError, match="NoSuchBucket") as info:
        remote.put_ac(KEY, b"x")
    assert info.value.hint is not None
    assert "create the bucket" in info.value.hint


def test_share_between_workspaces(s3_bucket: str, tmp_path: Path) -> None:
    scenarios.scenario_share(tmp_path, f"s3://{s3_bucket}/ci")


def test_server_dies_mid_build(
    s3_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MotoServer(tmp_path / "moto.log")  # its own server: this test kills it
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        server.client().create_bucket(Bucket="dies")
        scenarios.scenario_remote_dies(tmp_path, "s3://dies/c", server.stop)
    finally:
        server.stop()


def test_tampered_blob_is_rejected(s3_bucket: str, s3_env: MotoServer, tmp_path: Path) -> None:
    bucket, s3 = s3_bucket, s3_env.client()

    def read(digest: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=f"c/cas/{digest}")["Body"].read()
        return body

    def write(digest: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"c/cas/{digest}", Body=data)

    scenarios.scenario_tampered_blob(tmp_path, f"s3://{bucket}/c", read, write)


def test_bad_signatures_are_rejected(s3_bucket: str, s3_env: MotoServer, tmp_path: Path) -> None:
    bucket, s3 = s3_bucket, s3_env.client()

    def read(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=f"c/ac/{key}")["Body"].read()
        return body

    def write(key: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"c/ac/{key}", Body=data)

    scenarios.scenario_signatures(tmp_path, f"s3://{bucket}/c", read, write)


def test_read_only_consumer(s3_bucket: str, s3_env: MotoServer, tmp_path: Path) -> None:
    bucket = s3_bucket

    def count() -> int:
        listing = s3_env.client().list_objects_v2(Bucket=bucket, Prefix="c/ac/")
        return int(listing.get("KeyCount", 0))

    scenarios.scenario_read_only(tmp_path, f"s3://{bucket}/c", count)
