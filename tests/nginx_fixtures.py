"""A real nginx serving WebDAV on loopback: the HTTP remote cache the tests build against.

A pytest plugin (listed in ``pytest_plugins`` in conftest.py). The ``nginx`` fixture starts the
Debian package's binary (``nginx-light`` has the WebDAV module; ``scripts/system-deps.sh``
installs it) with a generated config on 127.0.0.1 and a free port, its prefix, logs, temp and data
folders under the test's tmp folder. The test gets an :class:`Nginx` handle: ``.url`` is the
remote cache URL, ``.stop()``/``.start()`` take the server down and up mid-test, ``.data`` is the
folder the cache entries land in (to tamper with them).

:class:`Nginx` is also usable outside pytest (``bench/bench_remote.py``) as a context manager.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The URL path under which the cache lives (the remote's "prefix").
PREFIX = "cache"
_TEMP_MODULES = ("fastcgi", "proxy", "scgi", "uwsgi")


class NginxMissing(RuntimeError):
    """No nginx binary with the WebDAV module on this machine."""


def find_nginx() -> str:
    """The nginx binary, checked for the WebDAV module.

    Raises:
        NginxMissing: With the command that installs it.
    """
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        raise NginxMissing(
            "nginx is not installed, and the remote-cache tests need a real one: run "
            "`make system-deps` (or `apt-get install nginx-light`)"
        )
    if "http_dav_module" not in _version_info(binary):
        raise NginxMissing(
            f"{binary} was built without the WebDAV module (http_dav_module): install a Debian "
            "flavour that has it (`apt-get install nginx-light`)"
        )
    return binary


def _version_info(binary: str) -> str:
    proc = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """One nginx process serving ``<base>/data`` with ``dav_methods PUT DELETE``."""

    def __init__(self, base: Path, binary: str | None = None) -> None:
        self.binary = binary or find_nginx()
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        for folder in (base, self.data / PREFIX, base / "logs", base / "temp"):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{PREFIX}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def config(self) -> str:
        base = self.base
        info = _version_info(self.binary)
        temps = "".join(
            f"    {m}_temp_path {base}/temp/{m};\n"
            for m in _TEMP_MODULES
            if f"--without-http_{m}_module" not in info
        )
        # Workers of a root master run as "nobody" unless told otherwise, and nobody cannot
        # write to the test's tmp folder: run them as root (the tests' CI runs as root).
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            f"{user}"
            "daemon off;\n"
            "master_process on;\n"
            "worker_processes 1;\n"
            f"pid {base}/nginx.pid;\n"
            f"lock_file {base}/nginx.lock;\n"
            f"error_log {base}/logs/error.log warn;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            # The connection serial number shows whether clients keep their connections.
            "    log_format conn '$connection $request_method $uri $status';\n"
            f"    access_log {base}/logs/access.log conn;\n"
            f"    client_body_temp_path {base}/temp/body;\n"
            f"{temps}"
            "    server {\n"
            f"        listen 127.0.0.1:{self.port};\n"
            f"        root {self.data};\n"
            "        location / {\n"
            "            dav_methods PUT DELETE;\n"
            "            create_full_put_path on;\n"
            "            dav_access user:rw group:rw all:r;\n"
            "            client_max_body_size 0;\n"
            "        }\n"
            "    }\n"
            "}\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart) nginx and wait until it accepts connections."""
        if self.running:
            return
        conf = self.base / "nginx.conf"
        conf.write_text(self.config())
        errors = self.base / "logs" / "error.log"
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.base), "-c", str(conf), "-e", str(errors)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = errors.read_text() if errors.exists() else ""
                self.proc = None
                raise RuntimeError(f"nginx exited at start:\n{err}{log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.02)
                continue
            return
        self.stop()
        raise RuntimeError(f"nginx did not listen on 127.0.0.1:{self.port} within {timeout} s")

    def stop(self) -> None:
        """Stop nginx (fast shutdown: open connections are closed)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    def files(self, kind: str) -> list[Path]:
        """The stored entries of one namespace (``"ac"`` or ``"cas"``)."""
        folder = self.data / PREFIX / kind
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def access_log(self, expect: int = 0, timeout: float = 5.0) -> list[list[str]]:
        """The access log as ``[connection, method, uri, status]`` rows; waits for ``expect``
        rows (nginx logs a request just after answering it)."""
        path = self.base / "logs" / "access.log"
        deadline = time.monotonic() + timeout
        while True:
            rows = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
            if len(rows) >= expect or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """A running nginx WebDAV server on loopback; stopped at the end of the test."""
    try:
        server = Nginx(tmp_path / "nginx")
    except NginxMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
