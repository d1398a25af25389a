"""Test hosts: the registry spread over network namespaces on this machine.

Each host is a network namespace (``lr-<pid>-<name>``) with one interface,
eth0, whose other end is plugged into a bridge in the machine's own namespace,
as a machine's cable into a switch. The machine itself sits on the bridge at .1
and talks to the hosts from there, as a ranger's laptop or an operator would.
Every run takes its own /24 of 10.77.0.0/16.

    db    10.77.N.2   PostgreSQL (5432) and Redis (6379), private instances
    web   10.77.N.3   gunicorn (8150)
    w1..  10.77.N.11  one Celery worker each

Every byte between the web server, the workers, the database and the broker
crosses two veth links and the bridge. What namespaces do not separate: the
file system (the photo store is one folder that every host sees, as an NFS
mount would be, so storage traffic does not cross the links), the CPU cores
and the clock.

Needs root and iproute2's ``ip``. Everything is removed on close, and a run
that was killed before it could clean up is cleaned up by the next one.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

from tests.integration.services import PostgresServer, wait_port

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "lr-"
WEB_PORT = 8150
REDIS_PORT = 6379
PG_PORT = 5432

# A worker host that vanishes in the middle of a transaction keeps its row
# locks (the deployment's, taken to place a photo in an event) until
# PostgreSQL gives up on its connection: with the defaults, two hours of TCP
# keepalive or fifteen minutes of retransmissions, during which the other
# hosts' photos of that deployment wait. A landscape deployment sets these on
# its PostgreSQL (README, "Workers on other machines"); the test hosts use
# short values so that a cut host lets go within seconds.
PG_DEAD_PEER = (
    "-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3 "
    "-c tcp_user_timeout=5000"
)

SETUP = """
from datetime import datetime, UTC
from tests.factories import DeploymentFactory, ParkFactory, UserFactory
from accounts.roles import Role, roles_ensure
from accounts.services import api_token_create
roles_ensure()
park = ParkFactory(code="hosts")
user = UserFactory(username="hosts-ranger", role=Role.RANGER, parks=[park])
start = datetime(2024, 1, 1, tzinfo=UTC)
deployments = [
    DeploymentFactory(station__park=park, camera_serial="CAM41146", start=start, end=None)
    for _ in range({deployments})
]
print(api_token_create(user=user)[1], *(d.pk for d in deployments))
"""


def unavailable() -> str | None:
    """Why test hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "test hosts need root (ip netns, veth links, a bridge)"
    if not shutil.which("ip"):
        return "test hosts need iproute2's ip command"
    if not shutil.which("redis-server"):
        return "test hosts need redis-server"
    if not PostgresServer.available():
        return "test hosts need PostgreSQL's initdb and pg_ctl"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Remove the namespaces and links of runs whose process is gone.

    And those of this process: one host network at a time, so what is left
    under its name was not cleaned up by an earlier run in this process.
    """
    names = _ip("netns", "list", check=False).stdout.split()
    links = re.findall(r"^\d+: ([^:@]+)", _ip("-o", "link", check=False).stdout, re.M)
    for name in [*names, *links]:
        found = re.fullmatch(rf"{PREFIX}(\d+)-\w+", name)
        pid = int(found.group(1)) if found else 0
        if found and (pid == os.getpid() or not _alive(pid)):
            if name in names:
                _ip("netns", "delete", name, check=False)
            else:
                _ip("link", "delete", name, check=False)


def _free_subnet() -> int:
    used = set(re.findall(r"inet 10\.77\.(\d+)\.", _ip("-o", "-4", "addr").stdout))
    for n in range(1, 255):
        if str(n) not in used:
            return n
    raise RuntimeError("every 10.77.N.0/24 is taken")


class HostNetwork:
    """A bridge and the namespaces plugged into it."""

    def __init__(self) -> None:
        self.tag = f"{PREFIX}{os.getpid()}"
        self.subnet = 0
        self.bridge = f"{self.tag}-br"
        self.addresses: dict[str, str] = {}

    def up(self) -> None:
        remove_stale()
        self.subnet = _free_subnet()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address(1)}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def address(self, host_number: int) -> str:
        return f"10.77.{self.subnet}.{host_number}"

    def namespace(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def add(self, name: str, host_number: int) -> str:
        """Make a host: a namespace whose eth0 is cabled to the bridge. Returns its address."""
        namespace = self.namespace(name)  # also the name of the cable's bridge end
        _ip("netns", "add", namespace)
        self.addresses[name] = self.address(host_number)
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("link", "add", namespace, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", namespace, "master", self.bridge)
        _ip("link", "set", namespace, "up")
        _ip("-n", namespace, "addr", "add", f"{self.addresses[name]}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        return self.addresses[name]

    def prefix(self, name: str) -> list[str]:
        """The command prefix that runs a program on this host."""
        return ["ip", "netns", "exec", self.namespace(name)]

    def pids(self, name: str) -> list[str]:
        """The processes running on this host."""
        return _ip("netns", "pids", self.namespace(name), check=False).stdout.split()

    def cpu_seconds(self, name: str) -> float:
        """CPU time used so far by the processes on this host (and their reaped children)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids(name):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:  # ended meanwhile
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return total / tick

    def cut(self, name: str) -> None:
        """Pull the host's cable at the switch: its packets vanish, nothing tells it so."""
        _ip("link", "set", self.namespace(name), "down")

    def close(self) -> None:
        for name in self.addresses:
            _ip("link", "delete", self.namespace(name), check=False)
            _ip("netns", "delete", self.namespace(name), check=False)
        _ip("link", "delete", self.bridge, check=False)


class Registry:
    """The registry on test hosts: db, web and worker hosts w1, w2 ...

    start() makes the hosts, the database (migrated, with a ranger, an API
    token and open deployments) and the web server; workers start on demand.
    close() stops every process it started, by its id, and removes the hosts.
    """

    def __init__(
        self,
        worker_hosts: int = 2,
        *,
        deployments: int = 1,
        log_level: str = "INFO",
        settings: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings or {}  # environment variables for every host
        self.net = HostNetwork()
        self.worker_hosts = [f"w{i}" for i in range(1, worker_hosts + 1)]
        self.log_level = log_level
        self.workdir = Path(tempfile.mkdtemp(prefix="registry-hosts-"))
        self.media = self.workdir / "photos"  # the shared photo store
        self.postgres: PostgresServer | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.deployments = deployments
        self.deployment_ids: list[str] = []  # open deployments of one park, the ranger's
        self.token = ""

    # -- where things are
    @property
    def deployment_id(self) -> str:
        return self.deployment_ids[0]

    @property
    def db_address(self) -> str:
        return self.net.addresses["db"]

    @property
    def base_url(self) -> str:
        return f"http://{self.net.addresses['web']}:{WEB_PORT}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@{self.db_address}:{PG_PORT}/registry"

    def env(self) -> dict[str, str]:
        """The environment every host runs the registry with."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": f"redis://{self.db_address}:{REDIS_PORT}/0",
            "CELERY_TASK_DEFAULT_QUEUE": "celery",
            "MEDIA_ROOT": str(self.media),
            "VAR_DIR": str(self.workdir / "var"),
            "ALLOWED_HOSTS": self.net.addresses.get("web", "127.0.0.1"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.settings,
        }

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def output(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    # -- starting and stopping
    def start(self) -> None:
        self.net.up()
        self.net.add("db", 2)
        self.net.add("web", 3)
        for i, name in enumerate(self.worker_hosts):
            self.net.add(name, 11 + i)
        self._start_database()
        self._start_web()

    def _start_database(self) -> None:
        self.postgres = PostgresServer(
            address=self.db_address,
            port=PG_PORT,
            prefix=self.net.prefix("db"),
            options=PG_DEAD_PEER,
            trusted_network="10.77.0.0/16",
        )
        self.postgres.init()
        self.start_process(
            "redis",
            "db",
            [
                shutil.which("redis-server") or "redis-server",
                *("--bind", self.db_address, "--port", str(REDIS_PORT)),
                *("--protected-mode", "no", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.workdir)),
            ],
        )
        wait_port(REDIS_PORT, up=True, host=self.db_address)
        db = psycopg2.connect(self.postgres.url("postgres"))
        db.autocommit = True
        try:
            with db.cursor() as cur:
                cur.execute("CREATE DATABASE registry")
        finally:
            db.close()

    def _start_web(self) -> None:
        self.manage("migrate", "--verbosity", "0")
        printed = self.manage("shell", "-c", SETUP.format(deployments=self.deployments))
        self.token, *self.deployment_ids = printed.splitlines()[-1].split()
        self.start_process(
            "web",
            "web",
            [
                sys.executable,
                *("-m", "gunicorn", "config.wsgi"),
                *("--bind", f"{self.net.addresses['web']}:{WEB_PORT}"),
                *("--workers", "2", "--threads", "2", "--timeout", "60"),
            ],
        )
        wait_port(WEB_PORT, up=True, timeout=60, host=self.net.addresses["web"])

    def start_worker(self, name: str) -> subprocess.Popen:
        """Start one Celery worker process (one task at a time) on host `name`."""
        return self.start_process(
            name,
            name,
            [
                sys.executable,
                *("-m", "celery", "-A", "config", "worker", "--pool=solo"),
                *(f"--loglevel={self.log_level}", "-n", f"{name}@registry-hosts"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
        )

    def start_process(self, process: str, host: str, command: list[str]) -> subprocess.Popen:
        """Run a command on host `host`, logged to `process`.log, stopped on close."""
        self.processes[process] = subprocess.Popen(
            [*self.net.prefix(host), *command],
            cwd=ROOT,
            env=self.env(),
            stdout=self.log(process).open("ab"),
            stderr=subprocess.STDOUT,
        )
        return self.processes[process]

    def manage(self, *args: str) -> str:
        """Run a management command on the web host; its output, or an error with the output."""
        result = subprocess.run(
            [*self.net.prefix("web"), sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def kill(self, process: str) -> None:
        """Kill one process the hard way (the host it ran on is gone)."""
        popen = self.processes.get(process)
        if popen is not None and popen.poll() is None:
            popen.kill()
            popen.wait(timeout=20)

    def stop(self, process: str) -> None:
        popen = self.processes.get(process)
        if popen is None or popen.poll() is not None:
            return
        popen.terminate()
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill(process)

    def close(self) -> None:
        running = [popen for popen in self.processes.values() if popen.poll() is None]
        for popen in running:  # all at once: each takes a second or two to stop
            popen.terminate()
        deadline = time.monotonic() + 20
        for popen in running:
            try:
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=20)
        try:
            if self.postgres is not None:
                self.postgres.close()
        finally:
            self.net.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- what the database says, asked from the machine over the bridge
    def sql(self, query: str, *params) -> list[tuple]:
        db = psycopg2.connect(self.database_url, connect_timeout=10)
        try:
            with db.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        finally:
            db.close()
