"""Ingest on one worker host and on two: photos per second and their ratio.

    sudo python bench/hosts.py --photos 300      # about 3 minutes on 2 cores

Runs the registry on test hosts (tests/integration/hosts.py; needs root and
ip): PostgreSQL and Redis on one network namespace, gunicorn on another, a
Celery worker (one process, one task at a time) on each of two more, all
cabled by veth links to a bridge; the photo store is a folder every host sees,
as an NFS mount would be. Each round uploads a fresh card of JPEGs through the
API with no worker running, then starts the workers of that round and times
the card from the moment every worker is ready to the last photo written (the
photos' own processing stamps, on the one clock of this machine). Photos, not
tasks: with PHOTO_PROCESS_WITH_WAITING a task processes the photos waiting
behind its own, whose tasks then find them done. Rounds go one host, two, two,
one, so that a drift in the machine's load weighs on both sides.

The figure is ingest, not upload: the uploads are done before a worker starts.
Every host shares this machine's cores: the ratio says whether a second host
adds what a second core can give, with the database, the broker and the
deployment's lock shared, not how far real machines would scale. With the
kernel's autogroups on (/proc/sys/kernel/sched_autogroup_enabled), the cores
are shared between sessions, not processes: other sessions' work takes its
share whatever its nice, and the bench's share is what two hosts split.
"""

import argparse
import contextlib
import io
import os
import re
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from tests.integration import hosts  # noqa: E402

SUCCEEDED = re.compile(r"Task traps\.tasks\.photo_process\[[^\]]+\] succeeded in ([\d.]+)s")
QUEUE = "celery"  # the Redis list of the queue's messages (CELERY_TASK_DEFAULT_QUEUE)
HELD = "bench-held"


def card(n: int, round_number: int, size: tuple[int, int]) -> list[bytes]:
    """n distinct camera-trap JPEGs, bursts of five, this round's own days."""
    from PIL import ExifTags, Image

    base = Image.effect_noise(size, 30).convert("RGB")
    start = datetime(2024, 5, 1, 6, 0) + timedelta(days=30 * round_number)
    out = []
    for i in range(n):
        image = base.copy()
        image.putpixel((i % size[0], round_number), (255, 0, 0))
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "Panthera V4"
        exif[ExifTags.Base.Model] = "CAM41146"
        taken = start + timedelta(hours=2 * (i // 5), minutes=i % 5)
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime(
            "%Y:%m:%d %H:%M:%S"
        )
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85, exif=exif)
        out.append(buffer.getvalue())
    return out


def upload(registry: hosts.Registry, photos: list[bytes], clients: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(share: list[tuple[int, bytes]]) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {registry.token}"
        for i, payload in share:
            deployments = registry.deployment_ids
            status = session.post(
                f"{registry.base_url}/api/photos/",
                # Bursts of five stay together, each in one deployment.
                data={"deployment": deployments[(i // 5) % len(deployments)]},
                files={"file": ("IMG.JPG", payload, "image/jpeg")},
                timeout=120,
            ).status_code
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    numbered = list(enumerate(photos))
    threads = [
        threading.Thread(target=client, args=(numbered[c::clients],)) for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _task_seconds(text: str) -> list[float]:
    """How long each photo task in a worker's log ran."""
    return [float(took) for took in SUCCEEDED.findall(text)]


def ingest_round(
    registry: hosts.Registry, broker: redis.Redis, names: list[str], first: int, n: int
) -> dict:
    """Start workers on these hosts and let them drain the queue of n photos, ids after first.

    The card's messages are set aside in the broker while the workers start
    (a few seconds, not all at the same instant) and handed back at once when
    every worker is ready: the round runs from that moment to the last photo
    written, as the photos' own processing stamps (updated_at) tell. With
    PHOTO_PROCESS_WITH_WAITING a task also processes photos queued behind its
    own, whose tasks then find them done: photos, not tasks, are counted. The
    workers stop once the queue is empty and no task is running. CPU seconds
    per photo for each kind of host run from the workers' ready to that stop.
    """
    offsets = {name: len(registry.output(name)) for name in names}
    broker.rename(QUEUE, HELD)
    for name in names:
        registry.start_worker(name)
    # A worker's own start (imports, connections) is not ingest: its CPU time
    # counts from the moment it says it is ready.
    cpu_ready: dict[str, float] = {}
    deadline = time.monotonic() + 120
    while len(cpu_ready) < len(names):
        for name in names:
            if name not in cpu_ready and "ready." in registry.output(name)[offsets[name] :]:
                cpu_ready[name] = registry.net.cpu_seconds(name)
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start in 2 minutes")
        time.sleep(0.01)
    cpu_before = {host: registry.net.cpu_seconds(host) for host in ("db", "web")}
    released = datetime.now(UTC)
    broker.rename(HELD, QUEUE)
    left = "SELECT count(*) FROM traps_photo WHERE id > %s AND status <> 'processed'"
    deadline = time.monotonic() + 900
    # Acknowledged late: a message taken stays in "unacked" until its task ends.
    while registry.sql(left, first)[0][0] or broker.llen(QUEUE) or broker.hlen("unacked"):
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not finish in 15 minutes")
        time.sleep(0.2)
    drained = datetime.now(UTC)
    cpu = {
        "workers": sum(registry.net.cpu_seconds(name) - cpu_ready[name] for name in names) / n,
        **{host: (registry.net.cpu_seconds(host) - cpu_before[host]) / n for host in cpu_before},
    }
    for name in names:
        registry.stop(name)
    tasks = {name: _task_seconds(registry.output(name)[offsets[name] :]) for name in names}
    if sum(map(len, tasks.values())) != n:
        raise SystemExit(
            f"expected {n} photo tasks to succeed, the logs say {[len(t) for t in tasks.values()]}"
        )
    # One statement writes a batch and stamps all its photos with one time.
    written = Counter(
        stamp
        for (stamp,) in registry.sql("SELECT updated_at FROM traps_photo WHERE id > %s", first)
    )
    return {
        "rate": n / (max(written) - released).total_seconds(),
        "tasks": [len(tasks[name]) for name in names],
        "busy": [sum(tasks[name]) for name in names],
        "batches": sorted(written.values()),
        "cpu": cpu,
        "cores": sum(cpu.values()) * n / (drained - released).total_seconds(),
    }


def _check(registry: hosts.Registry, burst: int) -> str:
    """Every photo processed and written once: one event per burst, no event empty.

    A photo's attempts count the workers that took it: two workers may both
    decode a photo (a task's own photo that another task holds in its batch),
    but only the first to hold the deployment's lock writes it. A photo written
    twice would move out of the event the first write placed it in, leaving
    that event empty or a burst split over two.
    """
    photos, processed, unplaced = registry.sql(
        "SELECT count(*), count(*) FILTER (WHERE status = 'processed'),"
        " count(*) FILTER (WHERE event_id IS NULL) FROM traps_photo"
    )[0]
    sizes = Counter(
        size
        for (size,) in registry.sql(
            "SELECT count(p.id) FROM traps_event e LEFT JOIN traps_photo p ON p.event_id = e.id"
            " GROUP BY e.id"
        )
    )
    if processed != photos or unplaced or set(sizes) != {burst}:
        raise SystemExit(
            f"{photos} photos, {processed} processed, {unplaced} in no event; "
            f"events by photo count: {dict(sizes)}"
        )
    attempts = Counter(a for (a,) in registry.sql("SELECT attempts FROM traps_photo"))
    return (
        f"{photos} photos stored, all processed, {sizes[burst]} events of {burst} and none "
        f"empty; taken by one worker: {attempts.pop(1, 0)}, by more: {dict(attempts) or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="photos a round")
    parser.add_argument("--size", default="1280x960", help="pixels of each photo")
    parser.add_argument("--clients", type=int, default=4, help="parallel uploaders")
    parser.add_argument(
        "--deployments",
        type=int,
        default=1,
        help="cards in flight: photos go to this many deployments, in bursts of five",
    )
    parser.add_argument(
        "--autogroup-nice",
        type=int,
        help="the nice of this session's autogroup and of the test PostgreSQL's "
        "(pg_ctl starts it in a session of its own) for the run, e.g. -10: the "
        "kernel's autogroups share the cores between sessions, whatever the nice "
        "of the processes in them",
    )
    args = parser.parse_args()
    reason = hosts.unavailable()
    if reason:
        raise SystemExit(reason)
    size = tuple(int(v) for v in args.size.split("x"))

    registry = hosts.Registry(worker_hosts=2, deployments=args.deployments)
    own_autogroup = Path("/proc/self/autogroup").read_text().split()[-1]
    plan = [["w1"], ["w1", "w2"], ["w1", "w2"], ["w1"]]
    rates: dict[int, list[float]] = {1: [], 2: []}
    try:
        print("starting the test hosts (PostgreSQL, Redis, gunicorn) ...", flush=True)
        registry.start()
        if args.autogroup_nice is not None:
            for pid in ["self", *registry.net.pids("db")]:
                # A database backend may have ended meanwhile.
                with contextlib.suppress(ProcessLookupError):
                    Path(f"/proc/{pid}/autogroup").write_text(str(args.autogroup_nice))
        broker = redis.Redis(host=registry.db_address, port=hosts.REDIS_PORT, socket_timeout=10)
        print(
            f"load average before: {os.getloadavg()[0]:.1f}; PHOTO_PROCESS_WITH_WAITING "
            f"{os.environ.get('PHOTO_PROCESS_WITH_WAITING', 'default')}; autogroup "
            f"{Path('/proc/self/autogroup').read_text().strip()}",
            flush=True,
        )
        for number, names in enumerate(plan):
            photos = card(args.photos, number, size)
            first = registry.sql("SELECT coalesce(max(id), 0) FROM traps_photo")[0][0]
            statuses = upload(registry, photos, args.clients)
            if statuses != {201: args.photos}:
                raise SystemExit(f"uploads answered {statuses}")
            result = ingest_round(registry, broker, names, first, args.photos)
            rates[len(names)].append(result["rate"])
            batches = result["batches"]
            print(
                f"round {number + 1}: {len(names)} worker host(s), {args.photos} photos "
                f"({args.deployments} deployment(s)) of "
                f"{args.size} ({sum(map(len, photos)) / len(photos) / 1024:.0f} KB): "
                f"{result['rate']:.1f} photos/s, load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            print(
                f"  {len(batches)} batches of {batches[0]}-{batches[-1]} photos "
                f"(median {batches[len(batches) // 2]}); tasks by host {result['tasks']}, "
                f"busy {', '.join(f'{s:.1f}' for s in result['busy'])} s; CPU ms a photo: "
                + ", ".join(f"{host} {sec * 1000:.0f}" for host, sec in result["cpu"].items())
                + f"; cores kept busy {result['cores']:.2f}",
                flush=True,
            )
        print(_check(registry, burst=5))
    finally:
        registry.close()
        Path("/proc/self/autogroup").write_text(own_autogroup)
    one = sum(rates[1]) / len(rates[1])
    two = sum(rates[2]) / len(rates[2])
    print(f"one worker host (baseline): {one:.1f} photos/s")
    print(f"two worker hosts:           {two:.1f} photos/s")
    print(f"ratio: {two / one:.2f}x (goal 1.8x; this machine has {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
