"""Ingest throughput of one worker process against a bare Pillow loop on the same files.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench python bench/ingest.py

Makes N full-size (12-megapixel, 4000x3000) camera-trap JPEGs, then in the
same run:
- baseline: a bare Pillow loop over them: open, decode (draft mode, as the
  registry does, and also a full decode), thumbnail, save;
- ingest: the registry's real path in one process, on chunks of 25 files as a
  card comes in: photo_receive for each (hash, checks, store under the hash,
  database row), then the photo_process tasks they queued, run in process one
  after another as one worker takes them from the queue (EXIF, time,
  thumbnail, event placement). The chunks take turns among the values of
  PHOTO_PROCESS_WITH_WAITING given with --with-waiting (0, a task per photo,
  and the setting's value by default; for example --with-waiting 0 8 24).
Prints photos per second and the ratios to the bare loops, for receive and
processing together and for the worker's processing alone, and the process's
memory after 100 photos and at the end (it must not grow with the batch).

The photos are the shared snow-leopard set upscaled to 12 megapixels (or
synthetic textured images where that set is absent); each copy gets its own
capture time in EXIF, so every file has its own SHA-256.
"""

import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Tasks run in this process: the figure is per worker process.
os.environ["CELERY_BROKER_URL"] = ""
# DEBUG would keep every SQL query in memory.
os.environ["DEBUG"] = "false"

SHARED = ROOT.parent / "shared" / "data" / "snow-leopard-camtrap"
SIZE = (4000, 3000)
STAMP = b"2012:09:16 17:51:15"


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base_images(count: int) -> list[bytes]:
    """Return a few distinct 12-megapixel JPEGs with a fixed-length EXIF time to vary."""
    from PIL import ExifTags, Image, ImageChops, ImageFilter

    sources = sorted(SHARED.glob("*.JPG"))[:count]
    out = []
    rng = random.Random(7)
    for i in range(count):
        if sources:
            image = Image.open(sources[i % len(sources)]).convert("RGB").resize(SIZE)
        else:  # textured synthetic scene
            noise = Image.effect_noise((1000, 750), 60).resize(SIZE).filter(ImageFilter.BLUR)
            image = Image.merge("RGB", (noise, noise.rotate(90, expand=False), noise))
        # Sensor grain: real trap photos of this size are 3-6 MB, not a smooth 1.5 MB.
        grain = Image.effect_noise(SIZE, 24).convert("RGB")
        image = ImageChops.add(image, grain, scale=1.0, offset=-128)
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "Panthera V4"
        exif[ExifTags.Base.Model] = f"CAM{41000 + rng.randint(0, 999)}"
        exif[ExifTags.Base.DateTime] = STAMP.decode()
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = STAMP.decode()
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90, exif=exif)
        out.append(buffer.getvalue())
    return out


def make_photos(folder: Path, n: int, distinct: int) -> list[Path]:
    bases = base_images(distinct)
    start = datetime(2024, 5, 1, 6, 0, 0)
    paths = []
    for i in range(n):
        # Same pixels, own capture time: bursts of three frames, 97 minutes apart.
        taken = start + timedelta(minutes=97 * (i // 3), seconds=10 * (i % 3))
        stamp = taken.strftime("%Y:%m:%d %H:%M:%S").encode()
        data = bases[i % len(bases)].replace(STAMP, stamp)
        path = folder / f"IMG_{i:05d}.JPG"
        path.write_bytes(data)
        paths.append(path)
    return paths


def bare_loop(paths: list[Path], *, draft: tuple[int, int] | None) -> float:
    from PIL import Image

    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            if draft:
                image.draft("RGB", draft)
            small = image.convert("RGB")
            small.thumbnail((400, 400), Image.Resampling.BILINEAR, reducing_gap=2.0)
            small.save(io.BytesIO(), "JPEG", quality=82)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--distinct", type=int, default=22, help="distinct images to copy")
    parser.add_argument(
        "--with-waiting",
        type=int,
        nargs="+",
        help="values of PHOTO_PROCESS_WITH_WAITING whose chunks take turns "
        "(default: 0 and the setting's value, or 24 when it is 0)",
    )
    parser.add_argument(
        "--card",
        type=Path,
        help="folder that keeps the generated JPEGs for the next run (default: made afresh)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        tmp_path = Path(tmp)
        os.environ["MEDIA_ROOT"] = str(tmp_path / "media")
        os.environ["VAR_DIR"] = str(tmp_path / "var")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, transaction

        from traps import services
        from traps.models import Deployment, Event, Park, Photo, Station

        call_command("migrate", verbosity=0)
        print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        folder = args.card or tmp_path / "card"
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        paths = [folder / f"IMG_{i:05d}.JPG" for i in range(args.photos)]
        if not all(path.exists() for path in paths):
            # Made in a child process, so that this process's peak memory is the
            # benchmark's own, not that of twenty-two 12-megapixel images in memory.
            with ProcessPoolExecutor(max_workers=1) as pool:
                paths = pool.submit(make_photos, folder, args.photos, args.distinct).result()
        mb = sum(p.stat().st_size for p in paths) / 2**20
        print(
            f"made {len(paths)} JPEGs of {SIZE[0]}x{SIZE[1]} ({mb / len(paths):.1f} MB each, "
            f"{args.distinct} distinct images) in {time.perf_counter() - t:.0f} s"
        )
        for path in paths:  # warm the page cache for both contenders
            path.read_bytes()

        from traps.images import thumbnail_shape

        park, _ = Park.objects.get_or_create(
            code="bench", defaults={"name": "Bench park", "country": "RU", "area_km2": 100}
        )
        station, _ = Station.objects.get_or_create(
            park=park, code=f"B-{os.getpid()}", defaults={"latitude": 43, "longitude": 131}
        )
        deployment = Deployment.objects.create(
            station=station,
            camera_serial="CAM41146",
            start=datetime(2024, 1, 1, tzinfo=park.tzinfo),
            end=datetime(2025, 1, 1, tzinfo=park.tzinfo),
        )

        from django.conf import settings

        from traps import tasks

        modes = args.with_waiting or [0, settings.PHOTO_PROCESS_WITH_WAITING or 24]

        def ingest(chunk: list[Path], *, with_waiting: int) -> tuple[float, float]:
            """Receive a chunk as uploads do, then run its queued tasks as a worker does.

            Return the seconds spent receiving and processing. The messages are
            kept in order and run one after another, as one worker process takes
            them from the queue.
            """
            queued: list[int] = []
            tasks.photo_process.delay = queued.append
            started = time.perf_counter()
            for path in chunk:
                with path.open("rb") as fh, transaction.atomic():
                    services.photo_receive(
                        deployment=deployment, fileobj=fh, original_name=path.name
                    )
            received = time.perf_counter()
            settings.PHOTO_PROCESS_WITH_WAITING = with_waiting
            for photo_id in queued:
                tasks.photo_process.apply(args=[photo_id])
            return received - started, time.perf_counter() - received

        # The machine is shared: the contenders take turns on chunks of 25 files,
        # so that a burst of someone else's load hits all alike. The registry
        # takes turns among the batch sizes (0 is a task per photo); each is
        # compared with the bare loops' time on its own chunks.
        loops = {"draft": [0.0] * len(modes), "shaped": [0.0] * len(modes)}  # per mode
        registry = {"receive": [0.0] * len(modes), "process": [0.0] * len(modes)}
        counts = [0] * len(modes)
        # The most a chunk of each mode added to the process's memory: a batch
        # that kept its decoded images would show here, growing with its size.
        grew = [0.0] * len(modes)
        full_s = 0.0
        full_n = 0
        rss_start = rss_mb()
        rss_at_100 = None
        for number, offset in enumerate(range(0, len(paths), 25)):
            chunk = paths[offset : offset + 25]
            mode = number % len(modes)
            loops["draft"][mode] += bare_loop(chunk, draft=(400, 400))
            loops["shaped"][mode] += bare_loop(chunk, draft=thumbnail_shape(SIZE))
            if offset % 100 == 0:  # the full decode is slow: a fifth of the files
                full_s += bare_loop(chunk, draft=None)
                full_n += len(chunk)
            rss_before = rss_mb()
            receive_s, process_s = ingest(chunk, with_waiting=modes[mode])
            grew[mode] = max(grew[mode], rss_mb() - rss_before)
            registry["receive"][mode] += receive_s
            registry["process"][mode] += process_s
            counts[mode] += len(chunk)
            if offset + 25 == 100:
                rss_at_100 = rss_mb()
        full_rate = full_n / full_s
        rss_end = rss_mb()

        processed = Photo.objects.filter(
            deployment=deployment, status=Photo.Status.PROCESSED
        ).count()
        events = Event.objects.filter(deployment=deployment).count()
        n = len(paths)
        draft_s, shaped_s = sum(loops["draft"]), sum(loops["shaped"])
        print(f"bare Pillow loop, draft (400x400):         {n / draft_s:7.1f} photos/s  (baseline)")
        print(f"bare Pillow loop, draft (thumbnail shape): {n / shaped_s:7.1f} photos/s")
        print(f"bare Pillow loop, full decode:             {full_rate:7.1f} photos/s")
        print(f"{processed} of {n} processed, {events} events")
        for mode, label in enumerate(
            f"tasks taking up to {m} waiting" if m else "a task per photo" for m in modes
        ):
            if not counts[mode]:
                continue
            receive_s, process_s = registry["receive"][mode], registry["process"][mode]
            ingest_s = receive_s + process_s
            draft, shaped = loops["draft"][mode], loops["shaped"][mode]
            print(f"registry ingest, {label} ({counts[mode]} photos):")
            print(f"  receive + process: {counts[mode] / ingest_s:7.1f} photos/s")
            print(f"  ratio to the baseline:                 {draft / ingest_s:5.2f}")
            print(f"  ratio to the bare loop, same draft:    {shaped / ingest_s:5.2f}")
            print(
                f"  ratio to the bare loop, full decode:   "
                f"{(counts[mode] / ingest_s) / full_rate:5.2f}"
            )
            print(
                f"  the worker alone (processing), to the baseline / same draft: "
                f"{draft / process_s:5.2f} / {shaped / process_s:5.2f}"
            )
            print(
                f"  receive alone: {1000 * receive_s / counts[mode]:.1f} ms a photo; "
                f"processing {1000 * process_s / counts[mode]:.1f} ms; "
                f"bare loop, same draft, {1000 * shaped / counts[mode]:.1f} ms"
            )
            print(f"  most memory a chunk of 25 added: {grew[mode]:.0f} MB")
        print(
            f"process RSS: {rss_start:.0f} MB before "
            f"ingest, {rss_at_100 or 0:.0f} MB after 100 photos, {rss_end:.0f} MB after {n}; "
            f"peak {peak_rss_mb():.0f} MB"
        )
        # Leave the benchmark database as it was.
        Photo.objects.filter(deployment=deployment).delete()
        Event.objects.filter(deployment=deployment).delete()
        deployment.delete()


if __name__ == "__main__":
    main()
