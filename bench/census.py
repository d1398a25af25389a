"""Census speed on a large landscape: rebuilds and the dashboard, on PostgreSQL.

Seeds (once, with INSERT ... SELECT generate_series, no ORM loops, the photos' and
sightings' indexes and keys built after the rows) 5 parks, 10 years,
2,000 stations, 40,000 deployments with malfunctions, 500 individuals, 2,000,000
photos and 100,000 confirmed sightings (`--scale landscape`: 2,000 individuals,
20,000,000 photos and 1,000,000 sightings; `--photos` sets the number of photos, with
one sighting in 20 as before), then prints:

- full recomputation of the stored figures (every park, year and the landscape);
- one park-year recomputation;
- the dashboard page (landscape and one park): median and 95th percentile time and
  its number of queries, against the baseline of computing the same year live;
- the dashboard's live periods (seasons and months of two years, landscape and one
  park), which are computed from the sightings on every request, beside the stored year;
- the incremental update after one confirmation: a reviewer confirms one sighting
  (the real service), then the station-years it marked stale are recounted and their
  park-years derived from the tallies (the stale task's body);

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_census_bench \\
        python bench/census.py [--reseed] [--requests 30] [--scale landscape] [--photos N]
            [--live-requests 5] [--only-pages]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/registry_census_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

PARKS = 5
STATIONS = 2_000
YEARS = list(range(2016, 2026))
LEOPARDS = 500
PHOTOS = 2_000_000
SIGHTING_EVERY = 20  # one photo in 20 shows an identified leopard: 100,000 sightings
# The joint registry of the whole landscape: 20 million photos, 1 million sightings.
SCALES = {"park": (500, 2_000_000), "landscape": (2_000, 20_000_000)}


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist."""
    from urllib.parse import urlparse

    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def filler_columns(table: str, given: dict[str, str]) -> dict[str, str]:
    """Return SQL values for the NOT NULL columns without a default that `given` lacks.

    Other apps add columns to photos and sightings; the seed must not break when they do.
    """
    from django.db import connection

    fill = {
        "boolean": "false",
        "integer": "0",
        "bigint": "0",
        "smallint": "0",
        "double precision": "0",
        "numeric": "0",
        "jsonb": "'{}'::jsonb",
        "timestamp with time zone": "now()",
        "date": "current_date",
        "interval": "interval '0'",
        "uuid": "gen_random_uuid()",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
            [table],
        )
        missing = {
            name: fill.get(kind, "''")
            for name, kind in cursor.fetchall()
            if name not in given and name != "id"
        }
    return {**given, **missing}


def insert_select(table: str, values: dict[str, str], source: str) -> int:
    from django.db import connection

    values = filler_columns(table, values)
    columns = ", ".join(f'"{name}"' for name in values)
    expressions = ", ".join(values.values())
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {expressions} {source}")
        return cursor.rowcount


@contextmanager
def without_indexes(*tables: str) -> Iterator[None]:
    """Drop the tables' secondary indexes, unique and foreign keys; build them after.

    Millions of rows inserted into indexed tables update every index and check every
    key row by row; building an index once over the finished table is several times
    faster, and re-adding a foreign key checks it in one join.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f')",
            [list(tables)],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
            "AND c.contype IN ('u', 'p', 'x'))",
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for table, name, _definition in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
            # Unique keys first: a foreign key may refer to one of them.
            for table, name, definition in sorted(constraints, key=lambda c: "FOREIGN" in c[2]):
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def seed() -> None:
    """Fill the benchmark database with bulk SQL."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            # CASCADE empties every table that refers to these, whoever owns it.
            "TRUNCATE census_censusresult, census_censusstale, leopards_leopard, traps_park CASCADE"
        )
    with transaction.atomic():
        insert_select(
            "traps_park",
            {
                "code": "'bench' || g",
                "name": "'Bench park ' || g",
                "country": "CASE WHEN g % 2 = 0 THEN 'CN' ELSE 'RU' END",
                "area_km2": "2000 + 500 * g",
                "time_zone": "CASE WHEN g % 2 = 0 THEN 'Asia/Shanghai' ELSE 'Asia/Vladivostok' END",
                "boundary": "jsonb_build_object('type', 'Polygon', 'coordinates', "
                "jsonb_build_array(jsonb_build_array("
                "jsonb_build_array(130.0 + 0.4 * g, 42.5), "
                "jsonb_build_array(130.4 + 0.4 * g, 42.5), "
                "jsonb_build_array(130.4 + 0.4 * g, 43.5), "
                "jsonb_build_array(130.0 + 0.4 * g, 43.5), "
                "jsonb_build_array(130.0 + 0.4 * g, 42.5))))",
            },
            f"FROM generate_series(0, {PARKS - 1}) g",
        )
        insert_select(
            "traps_station",
            {
                "park_id": "p.id",
                "code": "'ST-' || lpad(g::text, 4, '0')",
                "latitude": "round((42.5 + random())::numeric, 6)",
                "longitude": "round((130.0 + 0.4 * (p.id % 5) + 0.4 * random())::numeric, 6)",
                "notes": "''",
            },
            f"FROM generate_series(0, {STATIONS - 1}) g "
            f"JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM traps_park) p "
            f"ON p.n = g % {PARKS}",
        )
        # Two half-year deployments per station and year; the last one still running.
        insert_select(
            "traps_deployment",
            {
                "station_id": "s.id",
                "camera_serial": "'BX' || s.id",
                "camera_model": "'Bench cam'",
                "start": "make_timestamptz(y, 1 + 6 * h, (1 + s.id % 9)::int, 3, 0, 0.0, 'UTC')",
                "end": f"CASE WHEN y = {YEARS[-1]} AND h = 1 THEN NULL "
                "ELSE make_timestamptz(y, 6 + 6 * h, 28, 3, 0, 0.0, 'UTC') END",
                "clock_offset": "interval '0'",
                "notes": "''",
                "created_at": "now()",
                "version": "1",
            },
            f"FROM traps_station s CROSS JOIN generate_series({YEARS[0]}, {YEARS[-1]}) y "
            "CROSS JOIN generate_series(0, 1) h",
        )
        insert_select(
            "traps_malfunctionperiod",
            {
                "deployment_id": "d.id",
                "start": "(d.start + interval '30 days')::date",
                "end": "(d.start + interval '30 days' + (d.id % 20) * interval '1 day')::date",
                "reason": "'Battery empty'",
            },
            "FROM traps_deployment d WHERE d.id % 8 = 0",
        )
        insert_select(
            "leopards_leopard",
            {
                "code": "'LEO-B' || lpad(g::text, 4, '0')",
                "name": "''",
                "sex": "CASE g % 3 WHEN 0 THEN 'female' WHEN 1 THEN 'male' ELSE 'unknown' END",
                "birth_date": f"make_date({YEARS[0] - 8} + g % 17, 1 + g % 12, 1)",
                "birth_date_precision": "'year'",
                "status": "'alive'",
                "notes": "''",
                "created_at": "now()",
                "version": "1",
            },
            f"FROM generate_series(0, {LEOPARDS - 1}) g",
        )
    print(f"  parks, stations, deployments, leopards in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with transaction.atomic(), without_indexes("traps_photo", "leopards_sighting"):
        insert_select(
            "traps_photo",
            {
                "deployment_id": "d.id",
                "file": "'photos/bench/' || g || '.jpg'",
                "sha256": "md5(g::text) || md5('x' || g::text)",
                "original_name": "'IMG_' || g || '.JPG'",
                "size_bytes": "3000000",
                "taken_at": 'd.start + random() * (coalesce(d."end", d.start + interval '
                "'180 days') - d.start)",
                "exif": "'{}'::jsonb",
                "outside_deployment": "false",
                "thumbnail": "''",
                "status": "'processed'",
                "error": "''",
                "attempts": "1",
                "uploaded_at": "now()",
                "updated_at": "now()",
            },
            f"FROM generate_series(0, {PHOTOS - 1}) g "
            'JOIN (SELECT id, start, "end", row_number() OVER (ORDER BY id) - 1 AS n '
            "FROM traps_deployment) d ON d.n = g % (SELECT count(*) FROM traps_deployment)",
        )
        print(f"  {PHOTOS:,} photos in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        # Each park has its own 100 cats, each keeping to a few neighbouring stations;
        # one sighting in ~1,000 is a cat from the next park (a border crossing).
        # Cats whose number ends in 00/01 are known from one flank only.
        per_park = LEOPARDS // PARKS
        leopard_local = f"(((s.id / 4) + (p.id / 20) % 3) % {per_park})"
        home_park = "((pk.n + CASE WHEN p.id % 997 = 0 THEN 1 ELSE 0 END) % 5)"
        insert_select(
            "leopards_sighting",
            {
                "photo_id": "p.id",
                "leopard_id": f"(SELECT min(id) FROM leopards_leopard) + {home_park} * {per_park} "
                f"+ {leopard_local}",
                "flank": "CASE WHEN (s.id / 4) % 50 = 0 THEN 'left' "
                "WHEN (s.id / 4) % 50 = 1 THEN 'right' "
                "WHEN random() < 0.5 THEN 'left' ELSE 'right' END",
                "observed_age_class": "'unknown'",
                "status": "'confirmed'",
                "source": "'manual'",
                "feature_status": "'pending'",
                "created_at": "now()",
                "version": "1",
                "bbox_x": "0.1",
                "bbox_y": "0.1",
                "bbox_w": "0.5",
                "bbox_h": "0.5",
            },
            "FROM traps_photo p JOIN traps_deployment d ON d.id = p.deployment_id "
            "JOIN traps_station s ON s.id = d.station_id "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM traps_park) pk "
            f"ON pk.id = s.park_id WHERE p.id % {SIGHTING_EVERY} = 0",
        )
        print(f"  sightings in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
    print(f"  indexes and keys built in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(function, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def page_figures(client, url: str, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, HTTP_HOST="localhost")  # warm the session and the template cache
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, HTTP_HOST="localhost")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, HTTP_HOST="localhost")
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(queries.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help="drop and seed the data again")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--scale", choices=sorted(SCALES), default="park")
    parser.add_argument("--photos", type=int, help="photos to seed (default: the scale's)")
    parser.add_argument(
        "--skip-live",
        action="store_true",
        help="do not compute the landscape year live (over ten minutes at 20 million photos)",
    )
    parser.add_argument(
        "--live-requests",
        type=int,
        default=5,
        help="requests per live-period page (seasons, months)",
    )
    parser.add_argument(
        "--only-pages",
        action="store_true",
        help="time the dashboards only: no rebuild (stored figures must exist), no update",
    )
    args = parser.parse_args()
    global LEOPARDS, PHOTOS
    LEOPARDS, PHOTOS = SCALES[args.scale]
    PHOTOS = args.photos or PHOTOS

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from accounts.roles import Role, roles_ensure
    from census import periods
    from census.models import CensusResult
    from census.selectors import census_counts, census_effort, individuals_by_period
    from census.services import census_rebuild
    from traps.models import Park, ParkMembership, Photo

    call_command("migrate", verbosity=0)
    roles_ensure()
    from leopards.models import Leopard

    if args.reseed or Photo.objects.count() != PHOTOS or Leopard.objects.count() != LEOPARDS:
        print("Seeding the landscape (bulk SQL)...")
        seed()
    from leopards.models import Sighting
    from traps.models import Deployment, Station

    print(
        f"Data: {Park.objects.count()} parks, {Station.objects.count():,} stations, "
        f"{Deployment.objects.count():,} deployments, {Photo.objects.count():,} photos, "
        f"{Sighting.objects.count():,} sightings"
    )

    park = Park.objects.order_by("pk").first()
    if not args.only_pages or not CensusResult.objects.exists():
        full = timed(census_rebuild, repeat=2)
        print(
            f"Full recomputation ({CensusResult.objects.count()} stored results): "
            f"{min(full):.2f} s best, {max(full):.2f} s worst of {len(full)}"
        )
        one = timed(lambda: census_rebuild(park_id=park.pk, year=2024), repeat=5)
        print(
            "One park-year recomputation (with its landscape year): "
            f"{statistics.median(one):.3f} s median"
        )

    year = periods.year(2024)
    parks = list(Park.objects.all())

    def live_landscape_year() -> None:
        census_counts(parks=parks, periods_=[year])
        census_effort(parks=parks, periods_=[year])
        individuals_by_period(parks=parks, periods_=[year])

    baseline = None
    if not args.skip_live:
        baseline = statistics.median(timed(live_landscape_year, repeat=3))
        print(f"Baseline: the landscape's 2024 figures computed live: {baseline * 1000:.0f} ms")

    from django.contrib.auth import get_user_model

    User = get_user_model()
    manager, _created = User.objects.get_or_create(username="bench-manager")
    manager.groups.add(Group.objects.get(name=Role.MANAGER))
    for p in parks:
        ParkMembership.objects.get_or_create(user=manager, park=p)
    client = Client()
    client.force_login(manager)
    for label, url in (
        ("landscape", "/census/?year=2024"),
        ("one park", f"/census/{park.code}/?year=2024"),
    ):
        median, p95, queries = page_figures(client, url, args.requests)
        ratio = f"; {baseline / median:.1f}x faster than computing live" if baseline else ""
        print(
            f"Dashboard, {label}: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"{queries} queries{ratio}"
        )

    # Live periods: computed from the sightings on every request, never cached.
    live_pages = [
        (f"{label}, {kind}s of 2023-2024", f"{base}?period={kind}&start=2023-01-01&end=2024-12-31")
        for label, base in (("landscape", "/census/"), ("one park", f"/census/{park.code}/"))
        for kind in ("season", "month")
    ]
    for label, url in live_pages:
        median, p95, queries = page_figures(client, url, args.live_requests)
        print(
            f"Dashboard, {label}: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"{queries} queries"
        )
    if args.only_pages:
        return

    # One confirmation, then the rebuild of what it marked stale (the debounced task's
    # body, run here rather than queued).
    from django.core.cache import cache

    from census import services as census_services
    from census.models import CensusStale
    from leopards.services.identification import sighting_confirm

    sighting = Sighting.objects.order_by("pk").first()
    Sighting.objects.filter(pk=sighting.pk).update(status=Sighting.Status.PROPOSED)
    CensusStale.objects.all().delete()
    cache.set(census_services._QUEUED_KEY, True)  # queue nothing: the rebuild is timed below
    started = time.perf_counter()
    sighting_confirm(
        sighting_id=sighting.pk,
        leopard_id=sighting.leopard_id,
        user=manager,
        expected_version=None,
        sample=False,
        override=True,
    )
    confirmed = time.perf_counter()
    stale = list(CensusStale.objects.values_list("park_id", "year", "station_id"))
    written = census_services.census_rebuild_stale()
    rebuilt = time.perf_counter()
    print(
        f"Incremental update after one confirmation: {rebuilt - started:.3f} s "
        f"(the confirmation {confirmed - started:.3f} s, then the rebuild of "
        f"(park, year, station) {stale} "
        f"{rebuilt - confirmed:.3f} s, {written} rows written)"
    )


if __name__ == "__main__":
    main()
