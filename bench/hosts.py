"""Ingest on one worker host and on two: photos per second and their ratio.

    sudo python bench/hosts.py --photos 300      # about 4 minutes on 2 cores

Runs the registry on test hosts (tests/integration/hosts.py; needs root and
ip): PostgreSQL and Redis on one network namespace, gunicorn on another, a
Celery worker (one process, one task at a time) on each of two more, all
cabled by veth links to a bridge; the photo store is a folder every host sees,
as an NFS mount would be. Each round uploads a fresh card of JPEGs through the
API with no worker running, then starts the workers of that round and times
the queue from the first task a worker took to the last one finished (the
workers' own log times, on the one clock of this machine). Rounds go one host,
two, two, one, so that a drift in the machine's load weighs on both sides.

The figure is ingest, not upload: the uploads are done before a worker starts.
Every host shares this machine's cores: the ratio says whether a second host
adds what a second core can give, with the database, the broker and the
deployment's lock shared, not how far real machines would scale.
"""

import argparse
import io
import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from tests.integration import hosts  # noqa: E402

LINE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] "
    r"Task traps\.tasks\.photo_process\[[^\]]+\] (received|succeeded)",
    re.M,
)


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


def _median_task_ms(text: str) -> float:
    took = sorted(
        float(v) for v in re.findall(r"photo_process\[[^\]]+\] succeeded in ([\d.]+)s", text)
    )
    return 1000 * took[len(took) // 2] if took else 0.0


def _times(text: str, outcome: str) -> list[datetime]:
    return [
        datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        for stamp, seen in LINE.findall(text)
        if seen == outcome
    ]


def ingest_round(
    registry: hosts.Registry, names: list[str], n: int, total: int
) -> tuple[float, list[int], dict[str, float]]:
    """Start workers on these hosts and let them drain the queue of n photos (total stored).

    Returns photos per second, how many each host did and the CPU seconds
    each kind of host spent a photo (workers, db, web). The rate is taken
    once every host has taken its first task (a worker starts in a few seconds,
    not all at the same instant): photos finished from then to the last one,
    over that time.
    """
    offsets = {name: len(registry.output(name)) for name in names}
    cpu_before = {host: registry.net.cpu_seconds(host) for host in ("db", "web")}
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
    processed = "SELECT count(*) FROM traps_photo WHERE status = 'processed'"
    deadline = time.monotonic() + 900
    while registry.sql(processed)[0][0] < total:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not finish in 15 minutes")
        time.sleep(0.5)
    cpu = {
        "task_ms": sum(_median_task_ms(registry.output(name)[offsets[name] :]) for name in names)
        / len(names),
        "workers": sum(registry.net.cpu_seconds(name) - cpu_ready[name] for name in names) / n,
        **{host: (registry.net.cpu_seconds(host) - cpu_before[host]) / n for host in cpu_before},
    }
    for name in names:
        registry.stop(name)
    logs = {name: registry.output(name)[offsets[name] :] for name in names}
    split = [len(_times(logs[name], "succeeded")) for name in names]
    if sum(split) != n:
        raise SystemExit(f"expected {n} photo tasks to succeed, the logs say {split}")
    all_in = max(min(_times(text, "received")) for text in logs.values())
    finished = sorted(t for text in logs.values() for t in _times(text, "succeeded"))
    counted = [t for t in finished if t > all_in]
    return len(counted) / (counted[-1] - all_in).total_seconds(), split, cpu


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
    args = parser.parse_args()
    reason = hosts.unavailable()
    if reason:
        raise SystemExit(reason)
    size = tuple(int(v) for v in args.size.split("x"))

    registry = hosts.Registry(worker_hosts=2, deployments=args.deployments)
    total = 0
    plan = [["w1"], ["w1", "w2"], ["w1", "w2"], ["w1"]]
    rates: dict[int, list[float]] = {1: [], 2: []}
    try:
        print("starting the test hosts (PostgreSQL, Redis, gunicorn) ...", flush=True)
        registry.start()
        print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
        for number, names in enumerate(plan):
            photos = card(args.photos, number, size)
            statuses = upload(registry, photos, args.clients)
            if statuses != {201: args.photos}:
                raise SystemExit(f"uploads answered {statuses}")
            total += args.photos
            rate, split, cpu = ingest_round(registry, names, args.photos, total)
            rates[len(names)].append(rate)
            print(
                f"round {number + 1}: {len(names)} worker host(s), {args.photos} photos "
                f"({args.deployments} deployment(s)) of "
                f"{args.size} ({sum(map(len, photos)) / len(photos) / 1024:.0f} KB): "
                f"{rate:.1f} photos/s, split {split}, load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            task_ms = cpu.pop("task_ms")
            print(
                f"  median task {task_ms:.0f} ms; CPU ms a photo: "
                + ", ".join(f"{host} {seconds * 1000:.0f}" for host, seconds in cpu.items())
                + f"; cores kept busy {rate * sum(cpu.values()):.2f}",
                flush=True,
            )
        attempts = registry.sql("SELECT max(attempts), count(*) FROM traps_photo")[0]
        print(f"{attempts[1]} photos stored, at most {attempts[0]} processing attempt(s) each")
    finally:
        registry.close()
    one = sum(rates[1]) / len(rates[1])
    two = sum(rates[2]) / len(rates[2])
    print(f"one worker host (baseline): {one:.1f} photos/s")
    print(f"two worker hosts:           {two:.1f} photos/s")
    print(f"ratio: {two / one:.2f}x (goal 1.8x; this machine has {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
