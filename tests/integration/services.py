"""Private PostgreSQL and Redis servers that a fault test may kill and restart.

The fault tests stop and restart real server processes. They start their own
instances on free loopback ports, so that nothing else using the machine's
shared PostgreSQL and Redis (other test runs, a development server) is cut off.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, up: bool, timeout: float = 30, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.1)
    pytest.fail(f"{host}:{port} did not come {'up' if up else 'down'} in {timeout} s")


class RedisServer:
    """A redis-server that keeps nothing on disk, like the machine's own."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, up=True)

    def kill(self) -> None:
        """Stop it the hard way: whatever it held is gone, as after a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        wait_port(self.port, up=False)

    def close(self) -> None:
        self.kill()


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A throw-away PostgreSQL cluster with trust authentication on loopback.

    Or on another address, with commands run through a prefix (``ip netns exec
    NAME`` for a test host), extra server settings (``-c name=value``) and
    clients of another network trusted too (``10.77.0.0/16``).
    """

    def __init__(
        self,
        *,
        address: str = "127.0.0.1",
        port: int = 0,
        prefix=(),
        options: str = "",
        trusted_network: str = "",
    ) -> None:
        self.address = address
        self.trusted_network = trusted_network
        self.port = port or free_port()
        self.prefix = list(prefix)
        self.options = options
        # Not under pytest's tmp_path: PostgreSQL runs as its own user and must
        # be able to reach its data folder.
        self.root = Path(tempfile.mkdtemp(prefix="registry-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_root = os.geteuid() == 0

    @staticmethod
    def available() -> bool:
        return bool(_postgres_bin("initdb") and _postgres_bin("pg_ctl"))

    def _run(self, *args: str) -> None:
        command = list(args)
        if self.as_root:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run([*self.prefix, *command], check=True, capture_output=True, timeout=120)

    def url(self, database: str) -> str:
        return f"postgres://postgres@{self.address}:{self.port}/{database}"

    def init(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres")
        self._run(
            _postgres_bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        if self.trusted_network:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.trusted_network} trust\n")
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={self.address} -c fsync=off "
            + self.options
        )
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )
        wait_port(self.port, up=True, host=self.address)

    def stop(self) -> None:
        """Stop at once, as a crash would (open connections break mid-query)."""
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        wait_port(self.port, up=False, host=self.address)

    def close(self) -> None:
        try:
            if self.data.exists():
                self.stop()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
