"""The HTTP remote cache against a real nginx WebDAV server on loopback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import remote_helpers as scenarios
from nginx_fixtures import PREFIX, Nginx

from axl.cache._http import HttpRemote
from axl.cache._remote import RemoteError, open_remote
from axl.errors import UsageError

pytestmark = pytest.mark.integration

KEY = "ab" * 32


def test_protocol_round_trip(nginx: Nginx, tmp_path: Path) -> None:
    remote = open_remote(nginx.url)
    assert isinstance(remote, HttpRemote)
    assert remote.get_ac(KEY) is None
    assert not remote.has_cas(KEY)
    assert not remote.get_cas(KEY, tmp_path / "missing")

    remote.put_ac(KEY, b"record")
    assert remote.get_ac(KEY) == b"record"
    remote.put_ac(KEY, b"replaced")
    assert remote.get_ac(KEY) == b"replaced"

    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 4096)  # 1 MiB: several chunks each way
    remote.put_cas(KEY, blob)
    assert remote.has_cas(KEY)
    assert remote.get_cas(KEY, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == blob.read_bytes()
    # Bazel's layout under the URL's prefix.
    assert (nginx.data / PREFIX / "ac" / KEY).read_bytes() == b"replaced"
    assert (nginx.data / PREFIX / "cas" / KEY).stat().st_size == 1 << 20
    remote.close()


def test_one_connection_for_many_requests(nginx: Nginx) -> None:
    remote = HttpRemote(nginx.url)
    for i in range(20):
        remote.put_ac(f"{i:064x}", b"x")
        assert remote.get_ac(f"{i:064x}") == b"x"
    remote.close()
    log = nginx.access_log(expect=40)
    assert len(log) == 40
    assert len({row[0] for row in log}) == 1, "every request should reuse one connection"


def test_reconnects_after_server_restart(nginx: Nginx) -> None:
    remote = HttpRemote(nginx.url)
    remote.put_ac(KEY, b"before")
    nginx.stop()
    nginx.start()
    # The idle keep-alive connection died with the old server: the next request reconnects.
    assert remote.get_ac(KEY) == b"before"


def test_down_server_fails_fast_and_bounded(nginx: Nginx) -> None:
    nginx.stop()
    remote = HttpRemote(nginx.url, timeout=2)
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match="ConnectionRefusedError"):
        remote.get_ac(KEY)
    assert time.monotonic() - t0 < 2


def test_slow_server_times_out_without_retrying() -> None:
    # A listening socket that never answers: the TCP handshake succeeds, the reply never comes.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        remote = HttpRemote(f"http://127.0.0.1:{port}/c", timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(RemoteError, match="no answer within 0.5 s"):
            remote.get_ac(KEY)
        assert time.monotonic() - t0 < 1.5


def test_password_is_sent_but_never_shown(nginx: Nginx) -> None:
    remote = HttpRemote(nginx.url.replace("http://", "http://ci:s3cret@"))
    assert "s3cret" not in remote.url
    assert remote._headers["Authorization"].startswith("Basic ")
    assert remote.get_ac(KEY) is None  # nginx ignores the header


def test_bad_urls_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown scheme 'ftp'"):
        open_remote("ftp://host/x")
    with pytest.raises(UsageError, match="with a host"):
        HttpRemote("http:///nohost")


def test_share_between_workspaces(nginx: Nginx, tmp_path: Path) -> None:
    scenarios.scenario_share(tmp_path, nginx.url)


def test_nginx_dies_mid_build(nginx: Nginx, tmp_path: Path) -> None:
    scenarios.scenario_remote_dies(tmp_path, nginx.url, nginx.stop)


def test_tampered_blob_is_rejected(nginx: Nginx, tmp_path: Path) -> None:
    cas = nginx.data / PREFIX / "cas"
    scenarios.scenario_tampered_blob(
        tmp_path,
        nginx.url,
        read_blob=lambda d: (cas / d).read_bytes(),
        write_blob=lambda d, data: (cas / d).write_bytes(data),
    )


def test_bad_signatures_are_rejected(nginx: Nginx, tmp_path: Path) -> None:
    ac = nginx.data / PREFIX / "ac"
    scenarios.scenario_signatures(
        tmp_path,
        nginx.url,
        read_entry=lambda k: (ac / k).read_bytes(),
        write_entry=lambda k, data: (ac / k).write_bytes(data),
    )


def test_read_only_consumer(nginx: Nginx, tmp_path: Path) -> None:
    scenarios.scenario_read_only(tmp_path, nginx.url, lambda: len(nginx.files("ac")))
