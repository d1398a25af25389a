"""Load: 20 rangers uploading while 30 managers and scientists browse, for 3 minutes.

    python bench/load.py [--seconds 180] [--rangers 20] [--browsers 30]

Starts gunicorn (config.wsgi, DEBUG off, collected static files) and a Celery
worker on loopback against a fresh PostgreSQL database (registry_load_bench)
and Redis (db 7 unless BENCH_REDIS_URL says otherwise), builds the demo
landscape, then runs the clients in threads, each request bounded by a timeout
and the whole run by --seconds. Rangers upload with API tokens as scripts and
the upload page do (look up hashes, send the missing photos one by one);
managers and scientists log in and open the census dashboards, deployment
pages, thumbnails and the API lists, with a think time of 0.5-1.5 s.

Prints requests per second, errors, median and 95th-percentile latency per
page, and photos sent against photos stored and processed at the end (after
waiting for the worker), with the photo store checked against the database.
"""

import argparse
import hashlib
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.api_upload import photos as make_photos  # noqa: E402
from bench.stack import fresh_stack, start_web, start_worker, stop, wait_http  # noqa: E402

DB_NAME = "registry_load_bench"
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
PORT = int(os.environ.get("BENCH_PORT", "8007"))
PASSWORD = "correct-horse-battery"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []

    def record(self, page: str, seconds: float, ok: bool, why: str = "") -> None:
        with self.lock:
            self.latency[page].append(seconds)
            if not ok:
                self.errors[page] += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{page}: {why}")


def timed(stats: Stats, session: requests.Session, page: str, method: str, url: str, **kw):
    started = time.perf_counter()
    try:
        response = session.request(method, url, timeout=60, allow_redirects=False, **kw)
    except requests.RequestException as exc:
        stats.record(page, time.perf_counter() - started, False, repr(exc))
        return None
    ok = response.status_code < 400
    stats.record(page, time.perf_counter() - started, ok, f"HTTP {response.status_code}")
    return response


def login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/accounts/login/", timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        base + "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": base + "/accounts/login/"},
        timeout=60,
    )
    return session


def unloaded_dashboard(base: str, username: str) -> float:
    """Return the median time of the landscape dashboard with nothing else running."""
    session = login(base, username)
    times = []
    for _ in range(20):
        started = time.perf_counter()
        session.get(base + "/census/", timeout=60).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times[5:])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--rangers", type=int, default=20)
    parser.add_argument("--browsers", type=int, default=30)
    parser.add_argument("--photos-per-ranger", type=int, default=60)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--task-workers", type=int, default=2)
    args = parser.parse_args()

    tmp, env = fresh_stack(DB_NAME, REDIS, "load-bench-")
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Count, Max

    from accounts.roles import Role
    from accounts.services import api_token_create
    from tests.factories import DeploymentFactory, UserFactory
    from traps.models import Park, Photo, Station
    from traps.photo_store import photo_store_check

    print("migrating, collecting static files, building the demo landscape ...", flush=True)
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("seed_demo", verbosity=0)
    parks = list(Park.objects.order_by("code"))
    park_codes = [p.code for p in parks]
    rangers = []
    for i in range(args.rangers):
        park = parks[i % len(parks)]
        user = UserFactory(username=f"load-ranger-{i}", role=Role.RANGER, parks=[park])
        station = Station.objects.filter(park=park).order_by("code").first()
        deployment = DeploymentFactory(station=station, camera_serial=f"LOAD{i:03d}", end=None)
        rangers.append((api_token_create(user=user, name="load")[1], deployment.pk))
    readers = []
    for i in range(args.browsers):
        role = Role.MANAGER if i % 2 == 0 else Role.SCIENTIST
        readers.append(UserFactory(username=f"load-{role}-{i}", role=role, parks=parks).username)
    deployment_ids = list(
        Photo.objects.values_list("deployment_id", flat=True).distinct()[:40]
    ) or [d for _k, d in rangers]
    thumbs = list(
        Photo.objects.filter(status=Photo.Status.PROCESSED).values_list("pk", flat=True)[:300]
    )
    connections.close_all()

    total = args.rangers * args.photos_per_ranger
    print(f"making {total} JPEGs ...", flush=True)
    data = make_photos(total)
    print(f"  {sum(map(len, data)) / len(data) / 1024:.0f} KB each", flush=True)

    log = (tmp / "server.log").open("wb")
    web = start_web(
        env,
        log,
        PORT,
        "--workers",
        str(args.web_workers),
        "--threads",
        str(args.threads),
        "--timeout",
        "120",
        # Longer than a client's think time: a connection the server drops
        # just as the client reuses it is a reset, not a slow page.
        "--keep-alive",
        "30",
    )
    worker = start_worker(env, log, args.task_workers)
    base = f"http://127.0.0.1:{PORT}"
    stats = Stats()
    sent = {"stored": 0, "duplicate": 0, "failed": 0}
    sent_lock = threading.Lock()
    try:
        wait_http(base + "/accounts/login/")
        baseline = unloaded_dashboard(base, readers[0])
        load_before = os.getloadavg()[0]
        deadline = time.monotonic() + args.seconds

        def ranger(index: int) -> None:
            key, deployment = rangers[index]
            session = requests.Session()
            session.headers["Authorization"] = f"Token {key}"
            mine = data[index * args.photos_per_ranger : (index + 1) * args.photos_per_ranger]
            for start in range(0, len(mine), 5):
                batch = mine[start : start + 5]
                hashes = [hashlib.sha256(b).hexdigest() for b in batch]
                if time.monotonic() > deadline:
                    return
                timed(
                    stats,
                    session,
                    "api: photo lookup",
                    "POST",
                    base + "/api/photos/lookup/",
                    json={"sha256": hashes},
                )
                for n, payload in enumerate(batch):
                    if time.monotonic() > deadline:
                        return
                    response = None
                    for _attempt in range(5):  # the page retries network errors and 5xx
                        response = timed(
                            stats,
                            session,
                            "api: photo upload",
                            "POST",
                            base + "/api/photos/",
                            data={"deployment": deployment},
                            files={"file": (f"IMG_{start + n:05d}.JPG", payload, "image/jpeg")},
                        )
                        if response is not None and response.status_code < 500:
                            break
                    with sent_lock:
                        if response is not None and response.status_code == 201:
                            sent["stored"] += 1
                        elif response is not None and response.status_code == 200:
                            sent["duplicate"] += 1
                        else:
                            sent["failed"] += 1
                    time.sleep(random.uniform(0.5, 1.5))

        def reader(index: int) -> None:
            rng = random.Random(index)
            session = requests.Session()
            page = session.get(base + "/accounts/login/", timeout=60)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            timed(
                stats,
                session,
                "login",
                "POST",
                base + "/accounts/login/",
                data={
                    "username": readers[index],
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": token,
                },
                headers={"Referer": base + "/accounts/login/"},
            )
            pages = [
                ("home", lambda: "/"),
                ("census: landscape dashboard", lambda: "/census/"),
                ("census: park dashboard", lambda: f"/census/{rng.choice(park_codes)}/"),
                ("deployments: list", lambda: "/deployments/"),
                ("deployments: detail", lambda: f"/deployments/{rng.choice(deployment_ids)}/"),
                ("photo thumbnail", lambda: f"/photos/{rng.choice(thumbs)}/thumbnail"),
                ("api: deployments", lambda: "/api/deployments/"),
                ("exchange", lambda: "/exchange/"),
            ]
            while time.monotonic() < deadline:
                name, path = rng.choice(pages)
                if name == "photo thumbnail" and not thumbs:
                    continue
                timed(stats, session, name, "GET", base + path())
                time.sleep(rng.uniform(0.5, 1.5))

        threads = [threading.Thread(target=ranger, args=(i,)) for i in range(args.rangers)]
        threads += [threading.Thread(target=reader, args=(i,)) for i in range(args.browsers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 180)
        elapsed = time.perf_counter() - started

        requests_total = sum(len(v) for v in stats.latency.values())
        errors_total = sum(stats.errors.values())
        print(
            f"\n{args.rangers} rangers uploading, {args.browsers} managers and scientists "
            f"browsing, {elapsed:.0f} s on {os.cpu_count()} cores"
        )
        print(
            f"requests: {requests_total} ({requests_total / elapsed:.1f}/s), errors: {errors_total}"
        )
        dashboard = stats.latency["census: landscape dashboard"]
        print(
            f"landscape dashboard: median {baseline * 1000:.0f} ms alone, "
            f"{statistics.median(dashboard) * 1000:.0f} ms under load "
            f"({statistics.median(dashboard) / baseline:.1f}x); machine load average "
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes count)"
        )
        print(f"{'page':32} {'requests':>8} {'errors':>6} {'median ms':>10} {'p95 ms':>8}")
        for page in sorted(stats.latency):
            values = stats.latency[page]
            print(
                f"{page:32} {len(values):>8} {stats.errors[page]:>6} "
                f"{statistics.median(values) * 1000:>10.0f} "
                f"{percentile(values, 0.95) * 1000:>8.0f}"
            )
        for sample in stats.error_samples:
            print(f"  error: {sample}")

        wanted = sent["stored"] + sent["duplicate"]
        wait_until = time.monotonic() + 600
        while time.monotonic() < wait_until:
            waiting = Photo.objects.exclude(
                status__in=[Photo.Status.PROCESSED, Photo.Status.FAILED]
            ).count()
            if waiting == 0:
                break
            time.sleep(1)
        load = Photo.objects.filter(deployment_id__in=[d for _key, d in rangers])
        stored = load.count()
        processed = load.filter(status=Photo.Status.PROCESSED).count()
        duplicates = Photo.objects.values("sha256").annotate(n=Count("pk")).filter(n__gt=1).count()
        most_attempts = load.aggregate(m=Max("attempts"))["m"]
        print(
            f"photos sent: {wanted} accepted ({sent['stored']} new, {sent['duplicate']} already "
            f"stored), {sent['failed']} not accepted; stored: {stored}; processed: {processed}; "
            f"duplicated hashes: {duplicates}; most processing attempts of a photo: "
            f"{most_attempts}"
        )
        report = photo_store_check(verify_hashes=True)
        print(f"photo store: {'matches the database' if report.ok else report.as_dict()}")
    finally:
        stop([web, worker], DB_NAME)


if __name__ == "__main__":
    main()
