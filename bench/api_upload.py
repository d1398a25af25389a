"""End to end: photos through the HTTP API with parallel clients, gunicorn, a real worker.

    python bench/api_upload.py --photos 1000 --clients 4

Starts gunicorn (config.wsgi) and a Celery worker on loopback against a fresh
PostgreSQL database (registry_api_bench) and Redis (db 13 unless
BENCH_REDIS_URL says otherwise), sends the photos as four scripts would
(token auth, one multipart POST per photo), waits for the worker, then checks
that every photo was stored once and processed exactly once, and that sending
some again stores nothing. Prints photos per second for the upload and for
upload plus processing.
"""

import argparse
import io
import os
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.stack import fresh_stack, start_web, start_worker, stop, wait_http  # noqa: E402

DB_NAME = "registry_api_bench"
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PORT = int(os.environ.get("BENCH_PORT", "8093"))


def photos(n: int) -> list[bytes]:
    from PIL import ExifTags, Image

    out = []
    start = datetime(2024, 5, 1, 6, 0)
    base = Image.effect_noise((1280, 960), 30).convert("RGB")
    for i in range(n):
        image = base.copy()
        image.putpixel((i % 1280, i // 1280), (255, 0, 0))
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "Panthera V4"
        exif[ExifTags.Base.Model] = "CAM41146"
        taken = (start + timedelta(minutes=11 * i)).strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85, exif=exif)
        out.append(buffer.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--task-workers", type=int, default=2)
    args = parser.parse_args()

    tmp, env = fresh_stack(DB_NAME, REDIS, "api-bench-")
    from django.core.management import call_command
    from django.db.models import Max

    from accounts.roles import Role, roles_ensure
    from accounts.services import api_token_create
    from tests.factories import DeploymentFactory, ParkFactory, UserFactory
    from traps.models import Photo

    call_command("migrate", verbosity=0)
    roles_ensure()
    park = ParkFactory(code="bench")
    user = UserFactory(username="bench-ranger", role=Role.RANGER, parks=[park])
    _token, token = api_token_create(user=user, name="bench")
    deployment = DeploymentFactory(
        station__park=park,
        camera_serial="CAM41146",
        start=datetime(2024, 1, 1, tzinfo=park.tzinfo),
        end=None,
    )

    print(f"making {args.photos} JPEGs of 1280x960 ...", flush=True)
    data = photos(args.photos)
    mb = sum(map(len, data)) / 2**20
    print(f"  {mb / len(data) * 1024:.0f} KB each")

    log = (tmp / "server.log").open("wb")
    web = start_web(
        env,
        log,
        PORT,
        "--workers",
        str(args.web_workers),
        "--threads",
        "2",
        "--access-logfile",
        "-",
    )
    worker = start_worker(env, log, args.task_workers)
    try:
        base = f"http://127.0.0.1:{PORT}"
        wait_http(base + "/accounts/login/")
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def client(items: list[bytes], offset: int) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            for i, payload in enumerate(items):
                response = session.post(
                    base + "/api/photos/",
                    data={"deployment": deployment.pk},
                    files={"file": (f"IMG_{offset + i:05d}.JPG", payload, "image/jpeg")},
                    timeout=60,
                )
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        shares = [data[i :: args.clients] for i in range(args.clients)]
        threads = [
            threading.Thread(target=client, args=(share, i * 100_000))
            for i, share in enumerate(shares)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        upload_s = time.perf_counter() - started
        print(f"upload: {args.photos / upload_s:.1f} photos/s over HTTP ({statuses})")

        deadline = time.monotonic() + 900
        while Photo.objects.filter(status=Photo.Status.PROCESSED).count() < args.photos:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        total_s = time.perf_counter() - started
        processed = Photo.objects.filter(status=Photo.Status.PROCESSED).count()
        print(
            f"upload and processing: {processed / total_s:.1f} photos/s end to end "
            f"({processed} of {args.photos} processed in {total_s:.1f} s)"
        )
        stored = Photo.objects.count()
        most_attempts = Photo.objects.aggregate(m=Max("attempts"))["m"]
        events = deployment.events.count()
        print(
            f"stored {stored} photos (expected {args.photos}); most processing attempts of any "
            f"photo: {most_attempts}; {events} events"
        )

        again = [data[i] for i in range(0, args.photos, 20)]
        statuses.clear()
        client(again, 0)
        print(f"sending {len(again)} again: {statuses}; photos stored now {Photo.objects.count()}")
    finally:
        stop([web, worker], DB_NAME)


if __name__ == "__main__":
    main()
