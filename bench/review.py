"""Review speed on a large registry: the review page of one event and the review queue.

Seeds (once, with INSERT ... SELECT generate_series, no ORM loops) 2 parks, 200
stations, 400 deployments, 150 individuals, 100,000 photos in 10,000 events and
100,000 confirmed sightings, 2,000 events still waiting for review, then adds one
event of 10 photos whose boxes each have 5 ranked candidates (with reference
sightings and 60 matched spots), and prints for a scientist of both parks:

- the review page of that event: median and 95th percentile time, number of queries;
- the review queue (a page of 50 events, and a filtered page of 5): same figures,
  showing that the number of queries does not grow with the events shown;
- the individual's page of the busiest individual and the catalogue page;
- the ratio of each to the overview page measured in the same run (the baseline).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_review_bench \\
        python bench/review.py [--reseed] [--requests 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/registry_review_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.census import ensure_database, insert_select, page_figures

PARKS = 2
STATIONS = 200
LEOPARDS = 150
PHOTOS = 100_000
PHOTOS_PER_EVENT = 10
WAITING_EVENTS = 2_000


def seed() -> None:
    """Fill the benchmark database with bulk SQL."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE leopards_leopard, leopards_species, traps_park CASCADE")
    with transaction.atomic():
        insert_select(
            "traps_park",
            {
                "code": "'bench' || g",
                "name": "'Bench park ' || g",
                "country": "'RU'",
                "area_km2": "2800",
                "time_zone": "'Asia/Vladivostok'",
            },
            f"FROM generate_series(0, {PARKS - 1}) g",
        )
        insert_select(
            "traps_station",
            {
                "park_id": "p.id",
                "code": "'ST-' || lpad(g::text, 4, '0')",
                "latitude": "round((42.5 + random())::numeric, 6)",
                "longitude": "round((130.5 + random())::numeric, 6)",
                "notes": "''",
            },
            f"FROM generate_series(0, {STATIONS - 1}) g "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM traps_park) p "
            f"ON p.n = g % {PARKS}",
        )
        insert_select(
            "traps_deployment",
            {
                "station_id": "s.id",
                "camera_serial": "'BX' || s.id || '-' || h",
                "camera_model": "'Bench cam'",
                "start": "make_timestamptz(2024 + h, 1, 1, 0, 0, 0.0, 'UTC')",
                "end": "make_timestamptz(2024 + h, 12, 31, 0, 0, 0.0, 'UTC')",
                "clock_offset": "interval '0'",
                "notes": "''",
                "created_at": "now()",
                "version": "1",
            },
            "FROM traps_station s CROSS JOIN generate_series(0, 1) h",
        )
        insert_select(
            "leopards_leopard",
            {
                "code": "'LEO-' || (1000 + g) || CASE g % 2 WHEN 0 THEN 'F' ELSE 'M' END",
                "name": "''",
                "sex": "CASE g % 2 WHEN 0 THEN 'female' ELSE 'male' END",
                "birth_date": "make_date(2012 + g % 10, 5, 1)",
                "birth_date_precision": "'year'",
                "status": "'alive'",
                "notes": "''",
                "created_at": "now()",
                "version": "1",
            },
            f"FROM generate_series(0, {LEOPARDS - 1}) g",
        )
        events = PHOTOS // PHOTOS_PER_EVENT
        # Event e lives on deployment e % deployments, a day apart per round.
        insert_select(
            "traps_event",
            {
                "deployment_id": "d.id",
                "start": "d.start + (g / d.total) * interval '1 day' + interval '2 hours'",
                "end": "d.start + (g / d.total) * interval '1 day' + interval '2 hours 10 minutes'",
                "status": f"CASE WHEN g < {WAITING_EVENTS} THEN 'pending' ELSE 'reviewed' END",
                "content": f"CASE WHEN g < {WAITING_EVENTS} THEN 'unknown' ELSE 'leopard' END",
            },
            f"FROM generate_series(0, {events - 1}) g "
            "JOIN (SELECT id, start, row_number() OVER (ORDER BY id) - 1 AS n, "
            "count(*) OVER () AS total FROM traps_deployment) d ON d.n = g % d.total",
        )
        insert_select(
            "traps_photo",
            {
                "deployment_id": "e.deployment_id",
                "event_id": "e.id",
                "file": "'photos/bench/' || g || '.jpg'",
                "sha256": "md5(g::text) || md5('x' || g::text)",
                "original_name": "'IMG_' || g || '.JPG'",
                "size_bytes": "3000000",
                "width": "1920",
                "height": "1080",
                "taken_at": f"e.start + (g % {PHOTOS_PER_EVENT}) * interval '1 minute'",
                "exif": "'{}'::jsonb",
                "thumbnail": "''",
                "status": "'processed'",
                "error": "''",
                "attempts": "1",
                "uploaded_at": "now()",
                "updated_at": "now()",
            },
            f"FROM generate_series(0, {PHOTOS - 1}) g "
            "JOIN (SELECT id, deployment_id, start, row_number() OVER (ORDER BY id) - 1 AS n "
            f"FROM traps_event) e ON e.n = g / {PHOTOS_PER_EVENT}",
        )
        insert_select(
            "leopards_sighting",
            {
                "photo_id": "p.id",
                "leopard_id": f"(SELECT min(id) FROM leopards_leopard) + (s.id / 2 + p.id % 3) "
                f"% {LEOPARDS}",
                "flank": "CASE WHEN p.id % 2 = 0 THEN 'left' ELSE 'right' END",
                "observed_age_class": "'adult'",
                "status": "CASE WHEN e.status = 'pending' THEN 'proposed' ELSE 'confirmed' END",
                "source": "'manual'",
                "feature_status": "'ready'",
                "created_at": "now()",
                "version": "1",
                "bbox_x": "0.2",
                "bbox_y": "0.3",
                "bbox_w": "0.5",
                "bbox_h": "0.4",
            },
            "FROM traps_photo p JOIN traps_event e ON e.id = p.event_id "
            "JOIN traps_deployment d ON d.id = p.deployment_id "
            "JOIN traps_station s ON s.id = d.station_id",
        )
        with connection.cursor() as cursor:
            # Proposed sightings of waiting events have no individual yet.
            cursor.execute(
                "UPDATE leopards_sighting SET leopard_id = NULL WHERE status = 'proposed'"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  seeded in {time.perf_counter() - started:.1f} s")


def review_event():
    """Add (or find) the event of 10 photos, each box with 5 ranked candidates."""
    from leopards.models import Leopard, MatchCandidate, Sighting
    from traps.models import Deployment, Event, Photo

    existing = Event.objects.filter(photos__original_name="BENCH_REVIEW_0.JPG").first()
    if existing is not None:
        return existing
    deployment = Deployment.objects.order_by("pk").first()
    start = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    event = Event.objects.create(
        deployment=deployment, start=start - timedelta(days=400), end=start
    )
    leopards = list(Leopard.objects.order_by("pk")[:5])
    references = {
        leopard.pk: Sighting.objects.filter(leopard=leopard, status="confirmed").first()
        for leopard in leopards
    }
    spots = [[0.3 + i / 200, 0.4 + i / 300, 0.25 + i / 200, 0.45 + i / 300] for i in range(60)]
    for i in range(10):
        photo = Photo.objects.create(
            deployment=deployment,
            event=event,
            file=f"photos/bench/review-{i}.jpg",
            sha256=f"{i + 1:064x}",
            original_name=f"BENCH_REVIEW_{i}.JPG",
            size_bytes=3_000_000,
            width=1920,
            height=1080,
            taken_at=start + timedelta(seconds=20 * i),
            status=Photo.Status.PROCESSED,
        )
        sighting = Sighting.objects.create(
            photo=photo, bbox_x=0.2, bbox_y=0.3, bbox_w=0.5, bbox_h=0.4, flank="left"
        )
        MatchCandidate.objects.bulk_create(
            MatchCandidate(
                sighting=sighting,
                leopard=leopard,
                rank=rank,
                score=40.0 / rank,
                probability=0.95 if rank == 1 else None,
                reference=references[leopard.pk],
                inliers=60 // rank,
                matches=spots,
            )
            for rank, leopard in enumerate(leopards, start=1)
        )
    return event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help="drop and seed the data again")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from accounts.roles import Role, roles_ensure
    from leopards.models import Leopard, Sighting
    from traps.models import Event, Park, ParkMembership, Photo

    call_command("migrate", verbosity=0)
    roles_ensure()
    if args.reseed or Sighting.objects.count() < PHOTOS:
        print("Seeding the registry (bulk SQL)...")
        seed()
    event = review_event()
    print(
        f"Data: {Park.objects.count()} parks, {Photo.objects.count():,} photos, "
        f"{Event.objects.count():,} events ({Event.objects.filter(status='pending').count():,} "
        f"waiting), {Sighting.objects.count():,} sightings, {Leopard.objects.count()} individuals"
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-scientist")
    user.groups.add(Group.objects.get(name=Role.SCIENTIST))
    for park in Park.objects.all():
        ParkMembership.objects.get_or_create(user=user, park=park)
    client = Client()
    client.force_login(user)

    busiest = (
        Sighting.objects.filter(status="confirmed")
        .values("leopard__code")
        .order_by()
        .annotate(n=django.db.models.Count("pk"))
        .order_by("-n")
        .first()
    )
    first_station = event.deployment.station
    pages = [
        ("overview page (baseline)", reverse("home")),
        (
            "review page, 10 photos x 5 candidates",
            reverse("leopards:event-review", args=[event.pk]),
        ),
        ("review queue, 50 events shown", reverse("leopards:review-queue")),
        (
            "review queue, filtered to 5 events",
            reverse("leopards:review-queue") + f"?station={first_station.pk}",
        ),
        ("catalogue, 50 individuals shown", reverse("leopards:leopard-list")),
        (
            f"individual page ({busiest['n']} sightings)",
            reverse("leopards:leopard-detail", args=[busiest["leopard__code"]]),
        ),
    ]
    baseline = None
    print(f"{'page':48} {'median':>9} {'p95':>9} {'queries':>8} {'x baseline':>11}")
    for label, url in pages:
        median, p95, queries = page_figures(client, url, args.requests)
        baseline = baseline or median
        print(
            f"{label:48} {median * 1000:7.1f} ms {p95 * 1000:7.1f} ms {queries:8d} "
            f"{median / baseline:10.1f}x"
        )


if __name__ == "__main__":
    main()
