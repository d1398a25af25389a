"""A believable demo landscape: three parks, camera grids, six years of cameras and cats.

The cats are a simulated population with a known density, detection and survival
(demo.population, the figures in PARKS), so the density and survival the dashboards
show can be checked against the truth. Everything is derived from a fixed random seed
and written with natural keys, so building it twice changes nothing. Photos go
through the real ingest path.
"""

import io
import math
import multiprocessing
import os
import random
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts.roles import Role
from census import effort, secr
from census.density.mask import buffer_mask
from census.density.registry import boundary_polygons
from census.selectors import deployment_spans
from demo.photos import PHOTO_SIZE, PhotoJob, render_job
from demo.population import (
    SURVEY_YEAR,
    Animal,
    Truth,
    kitten_detections,
    simulate_detections,
    simulate_population,
)
from leopards.models import AgeClass, Flank, Leopard, Sex, Sighting, age_class_at
from traps.models import (
    Deployment,
    Event,
    MalfunctionPeriod,
    Park,
    ParkMembership,
    Photo,
    Station,
)
from traps.services import photo_receive

SEED = 20_26
# The simulated leopards' own seed: one whose survey year is typical of the truth below
# (about as many leopards alive and seen as expected), not a lucky or unlucky draw.
POPULATION_SEED = 15
YEARS = [2021, 2022, 2023, 2024, 2025, 2026]
# The last deployment is still running; its photos so far go up to this day.
LAST_PHOTO_DAY = date(2026, 9, 30)


@dataclass(frozen=True)
class ParkSpec:
    code: str
    name: str
    country: str
    area_km2: int
    time_zone: str
    # (lat_min, lat_max, lon_min, lon_max): a rough box inside the real park.
    box: tuple[float, float, float, float]
    # The camera grid: centre latitude and longitude, columns, rows, spacing in metres.
    grid: tuple[float, float, int, int, float]
    truth: Truth
    # The park's own name in Russian and in Simplified Chinese.
    name_ru: str = ""
    name_zh_hans: str = ""

    @property
    def stations(self) -> int:
        return self.grid[2] * self.grid[3]


# Independent leopards' halfnormal detection scale: home ranges of about 170 km2
# (95 %), and the mask buffer the density fits use (4 sigma, the registry's default).
SIGMA_M = 3000.0
BUFFER_M = 4 * SIGMA_M

PARKS = [
    ParkSpec(
        "lotl",
        "Land of the Leopard National Park",
        "RU",
        2620,
        "Asia/Vladivostok",
        (42.62, 43.45, 130.78, 131.55),
        (42.85, 131.05, 7, 4, 5000.0),
        Truth(density_per_100km2=1.0, g0=0.008, sigma_m=SIGMA_M, phi=0.85),
        "Национальный парк «Земля леопарда»",
        "豹之乡国家公园",
    ),
    ParkSpec(
        "kpad",
        "Kedrovaya Pad Nature Reserve",
        "RU",
        179,
        "Asia/Vladivostok",
        (43.05, 43.16, 131.42, 131.58),
        (43.105, 131.50, 4, 2, 3000.0),
        # The reserve is the core of the range: a small park, dense with leopards.
        Truth(density_per_100km2=5.0, g0=0.005, sigma_m=SIGMA_M, phi=0.85),
        "Заповедник «Кедровая Падь»",
        "凯德罗瓦亚帕季自然保护区",
    ),
    ParkSpec(
        "ntlnp",
        "Northeast China Tiger and Leopard National Park",
        "CN",
        14600,
        "Asia/Shanghai",
        (42.85, 43.95, 130.15, 131.10),
        (43.45, 130.55, 6, 4, 5000.0),
        Truth(density_per_100km2=1.0, g0=0.008, sigma_m=SIGMA_M, phi=0.85),
        "Северо-Восточный национальный парк тигра и леопарда",
        "东北虎豹国家公园",
    ),
]
# The density fit each demo park gets: the survey year's independent leopards.
SURVEY = (date(SURVEY_YEAR, 1, 1), date(SURVEY_YEAR, 12, 31))

DEMO_PASSWORD = "leopard-demo-2026"
DEMO_USERS = [
    # username, role, park codes (admins see every park)
    ("ranger", Role.RANGER, ["lotl", "kpad"]),
    ("ranger.cn", Role.RANGER, ["ntlnp"]),
    ("scientist", Role.SCIENTIST, ["lotl", "kpad", "ntlnp"]),
    ("manager", Role.MANAGER, ["lotl", "kpad", "ntlnp"]),
    ("admin", Role.ADMIN, []),
]
NAMES = [
    "Kedr", "Lesnaya", "Amba", "Tigrenok", "Zvezda", "Grom", "Lyuta", "Barsik",
    "Xiaohua", "Hunchun", "Leo", "Vesna", "Taiga", "Mila", "Sanzhi",
]  # fmt: skip


@dataclass
class Shot:
    """One photo of one leopard: where, when (local) and which flank."""

    station: Station
    when: datetime
    flank: str
    photo_seed: int = 0


# How far the outline stays outside the box the stations are drawn from, at least.
OUTLINE_MARGIN = 0.01


def _boundary(box: tuple[float, float, float, float], rng: random.Random) -> dict:
    lat0, lat1, lon0, lon1 = box
    m = OUTLINE_MARGIN
    # An irregular ring around the box (parks are not rectangles) that holds the whole
    # box, so every station drawn from it lies inside its park: each point is pushed
    # out from its side of the box and the corners are points of their own.
    corners = {
        0.25: (lon1 + m, lat0 - m),
        0.5: (lon1 + m, lat1 + m),
        0.75: (lon0 - m, lat1 + m),
    }
    ring = [[lon0 - m, lat0 - m]]
    for i in range(10):
        t = i / 10
        for at, corner in corners.items():
            if t - 0.1 < at <= t:
                ring.append([round(corner[0], 4), round(corner[1], 4)])
        d_lon, d_lat = rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)
        if t < 0.25:
            lat, lon = lat0 - m - abs(d_lat), lon0 + (lon1 - lon0) * t * 4 + d_lon
        elif t < 0.5:
            lat, lon = lat0 + (lat1 - lat0) * (t - 0.25) * 4 + d_lat, lon1 + m + abs(d_lon)
        elif t < 0.75:
            lat, lon = lat1 + m + abs(d_lat), lon1 - (lon1 - lon0) * (t - 0.5) * 4 + d_lon
        else:
            lat, lon = lat1 - (lat1 - lat0) * (t - 0.75) * 4 + d_lat, lon0 - m - abs(d_lon)
        ring.append([round(lon, 4), round(lat, 4)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _grid_positions(spec: ParkSpec, rng: random.Random) -> list[tuple[float, float]]:
    """Return the stations' latitude and longitude: a grid, each moved to a nearby trail."""
    lat, lon, columns, rows, spacing = spec.grid
    metres_per_degree = 111_320.0
    positions = []
    for row in range(rows):
        for column in range(columns):
            north = (row - (rows - 1) / 2) * spacing + rng.uniform(-0.15, 0.15) * spacing
            east = (column - (columns - 1) / 2) * spacing + rng.uniform(-0.15, 0.15) * spacing
            positions.append(
                (
                    lat + north / metres_per_degree,
                    lon + east / (metres_per_degree * math.cos(math.radians(lat))),
                )
            )
    return positions


def individual_seed(code: str) -> int:
    """Return the coat of an individual code: LEO-123F wears coat 123."""
    return int("".join(ch for ch in code if ch.isdigit()))


@dataclass
class ParkPopulation:
    """A park's simulated leopards, its cameras in metres and their working nights."""

    spec: ParkSpec
    park: Park
    stations: list[Station]
    traps: np.ndarray
    usage: np.ndarray  # stations x days from FIRST_DAY
    mask_points: np.ndarray
    mask_spacing: float
    animals: list[Animal]


FIRST_DAY = date(YEARS[0], 1, 1)


def park_population(spec: ParkSpec, park: Park) -> ParkPopulation:
    """Simulate a park's leopards and their detections at its cameras (no database writes).

    The mask is the one the density fit builds (a buffer of BUFFER_M around the
    cameras, clipped to the park), and the nights each camera worked come from the
    deployments, as the fit reads them.
    """
    stations = list(Station.objects.filter(park=park).order_by("code"))
    traps = np.array([secr.project(s.latitude, s.longitude) for s in stations], dtype=float)
    mask = buffer_mask(traps, BUFFER_M, polygons=boundary_polygons(park.boundary))
    # The nights each station worked, as the survey's usage counts them (census.effort).
    now = datetime.combine(LAST_PHOTO_DAY + timedelta(days=1), time(12), tzinfo=park.tzinfo)
    nights = effort.station_nights(deployment_spans([park], FIRST_DAY, LAST_PHOTO_DAY), now)
    origin, days = FIRST_DAY.toordinal(), (LAST_PHOTO_DAY - FIRST_DAY).days + 1
    usage = np.zeros((len(stations), days))
    for row, station in enumerate(stations):
        for first, last in nights.get(station.pk, []):
            usage[row, max(first - origin, 0) : max(min(last - origin + 1, days), 0)] = 1
    rng = np.random.default_rng([POPULATION_SEED, zlib.crc32(spec.code.encode())])
    animals = simulate_population(
        mask_points=mask.points, spacing=mask.spacing, truth=spec.truth, years=YEARS, rng=rng
    )
    simulate_detections(
        animals, traps=traps, usage=usage, first_day=FIRST_DAY, truth=spec.truth, rng=rng
    )
    return ParkPopulation(spec, park, stations, traps, usage, mask.points, mask.spacing, animals)


@dataclass
class Cat:
    """A simulated leopard that the cameras saw, with its registry code."""

    code: str
    animal: Animal
    population: ParkPopulation
    mother: "Cat | None"
    shots: list[Shot]
    dead: bool


def _cats(populations: list[ParkPopulation]) -> list[Cat]:
    """Turn the detections into photos and code the cats seen, in the order first seen.

    A detection is a photo on a working night's evening at that camera; a kitten is
    photographed a minute after its mother. One male of Land of the Leopard crosses
    into China once, outside the survey year.
    """
    found: list[tuple[Animal, ParkPopulation, list[Shot]]] = []
    for population in populations:
        rng = random.Random(f"{SEED}-shots-{population.spec.code}")
        kitten_rng = np.random.default_rng([SEED, 7, zlib.crc32(population.spec.code.encode())])
        by_key = {animal.key: animal for animal in population.animals}
        shots: dict[int, list[Shot]] = {}
        times: dict[tuple[int, int, int], datetime] = {}
        for animal in population.animals:
            for day, trap in animal.detections:
                when = datetime.combine(
                    date.fromordinal(day), time(rng.randint(14, 23), rng.randint(0, 59))
                )
                times[animal.key, day, trap] = when
                shots.setdefault(animal.key, []).append(
                    Shot(population.stations[trap], when, rng.choice(FLANKS))
                )
        for animal in population.animals:
            mother = by_key.get(animal.mother) if animal.mother is not None else None
            for day, trap in kitten_detections(animal, mother, kitten_rng):
                when = times[mother.key, day, trap] + timedelta(seconds=rng.randint(20, 90))
                shots.setdefault(animal.key, []).append(
                    Shot(population.stations[trap], when, rng.choice(FLANKS))
                )
        for animal in population.animals:
            if animal.key in shots:
                found.append((animal, population, sorted(shots[animal.key], key=_shot_time)))
    found.sort(key=lambda item: (_shot_time(item[2][0]), item[1].spec.code, item[0].key))
    cats: list[Cat] = []
    by_animal: dict[tuple[str, int], Cat] = {}
    rng = random.Random(f"{SEED}-cats")
    for number, (animal, population, animal_shots) in enumerate(found, start=101):
        mother = (
            by_animal.get((population.spec.code, animal.mother))
            if animal.mother is not None
            else None
        )
        last_seen = animal_shots[-1].when.year
        cat = Cat(
            code=f"LEO-{number}{animal.sex}",
            animal=animal,
            population=population,
            mother=mother,
            shots=animal_shots,
            # A few of the leopards that died were found: the others just vanish.
            dead=animal.last_year < YEARS[-1]
            and last_seen == animal.last_year
            and rng.random() < 0.3,
        )
        by_animal[population.spec.code, animal.key] = cat
        cats.append(cat)
    _border_crossing(cats, populations)
    for cat in cats:
        for number, shot in enumerate(cat.shots):
            shot.photo_seed = number
    return cats


FLANKS = [Flank.LEFT.value, Flank.RIGHT.value]  # plain strings: render jobs are pickled


def _shot_time(shot: Shot) -> datetime:
    return shot.when


def _border_crossing(cats: list[Cat], populations: list[ParkPopulation]) -> None:
    """Send the most photographed male of Land of the Leopard into China on two nights."""
    china = next(p for p in populations if p.spec.country == "CN")
    rng = random.Random(f"{SEED}-border")
    males = sorted(
        (c for c in cats if c.population.spec.code == "lotl" and c.animal.sex == "M"),
        key=lambda c: (-len(c.shots), c.code),
    )
    for cat in males:
        years = sorted(
            {s.when.year for s in cat.shots} - {SURVEY_YEAR} & set(range(YEARS[0], YEARS[-1]))
        )
        if not years:
            continue
        year = years[len(years) // 2]
        # The camera nearest the border: the easternmost of the Chinese grid.
        trap = int(np.argmax(china.traps[:, 0]))
        first = date(year, 3, 1).toordinal() - FIRST_DAY.toordinal()
        worked = [d for d in range(first, first + 240) if china.usage[trap, d] > 0]
        for day in sorted(rng.sample(worked, 2)):
            when = datetime.combine(
                FIRST_DAY + timedelta(days=day), time(rng.randint(18, 23), rng.randint(0, 59))
            )
            cat.shots.append(Shot(china.stations[trap], when, rng.choice(FLANKS)))
        cat.shots.sort(key=_shot_time)
        return


def _rendered(jobs: list[PhotoJob], processes: int) -> list[tuple[bytes, tuple]]:
    """Render the photos, in parallel processes when there are many; return them in order.

    They are drawn grouped by station and cat, so that each process draws a station's
    scene and a cat's coat once.
    """
    order = sorted(
        range(len(jobs)),
        key=lambda i: (jobs[i].station_seed, jobs[i].individual_seed, jobs[i].flank),
    )
    grouped = [jobs[i] for i in order]
    processes = processes or min(os.cpu_count() or 1, 8)
    if processes < 2 or len(jobs) < 40:
        rendered = list(map(render_job, grouped))
    else:
        # Spawned, not forked, workers: a forked child would share the database connection.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            rendered = list(pool.map(render_job, grouped, chunksize=16))
    result: list = [None] * len(jobs)
    for index, photo in zip(order, rendered, strict=True):
        result[index] = photo
    return result


class DemoBuilder:
    def __init__(self, log: Callable[[str], None] = print, *, processes: int = 0) -> None:
        self.rng = random.Random(SEED)
        self.log = log
        self.processes = processes
        self.users: dict[str, object] = {}

    def accounts(self) -> None:
        """Write the parks, their stations and deployments, and the demo logins: seconds.

        bin/run serves the registry after this; build() adds the rest beside it.
        """
        self._users_and_parks()

    def complete(self) -> bool:
        """Tell whether an earlier build() ran to its end (its last step is stored).

        The review queue's detector boxes come after the photos and their matching,
        and the survey year's density fits are the last step.
        """
        from census.models import DensityRun

        if not Sighting.objects.filter(source=Sighting.Source.DETECTOR).exists():
            return False
        start, end = SURVEY
        fitted = DensityRun.objects.filter(start=start, end=end).exclude(
            status=DensityRun.Status.FAILED
        )
        return all(fitted.filter(park__code=spec.code).exists() for spec in PARKS)

    def build(self) -> dict[str, int]:
        from census.models import CensusResult
        from census.services import census_rebuild

        self._users_and_parks()
        populations = [park_population(spec, Park.objects.get(code=spec.code)) for spec in PARKS]
        cats = _cats(populations)
        self._leopards(cats)
        added = self._photos_and_sightings(cats)
        # A second run on a built demo has nothing to add: it skips the slow steps.
        unmatched = Sighting.objects.filter(
            status=Sighting.Status.CONFIRMED, feature_status=Sighting.FeatureStatus.PENDING
        )
        waiting = Sighting.objects.filter(source=Sighting.Source.DETECTOR)
        if added or unmatched.exists() or not waiting.exists():
            self._matching()
            self._review_state()
        # The dashboards read stored census figures; the demo's sightings bypass the
        # sighting services that would mark them stale, so rebuild them here.
        if added or not CensusResult.objects.exists():
            census_rebuild()
        self._density_fits()
        return {
            "parks": Park.objects.count(),
            "stations": Station.objects.count(),
            "deployments": Deployment.objects.count(),
            "leopards": Leopard.objects.count(),
            "photos": Photo.objects.count(),
            "sightings": Sighting.objects.count(),
        }

    @transaction.atomic
    def _users_and_parks(self) -> None:
        User = get_user_model()
        hashed = ""
        for spec in PARKS:
            rng = random.Random(f"{SEED}-{spec.code}")
            park, created = Park.objects.get_or_create(
                code=spec.code,
                defaults={
                    "name": spec.name,
                    "name_ru": spec.name_ru,
                    "name_zh_hans": spec.name_zh_hans,
                    "country": spec.country,
                    "area_km2": Decimal(spec.area_km2),
                    "time_zone": spec.time_zone,
                    "boundary": _boundary(spec.box, rng),
                },
            )
            if created:  # a park is built whole, in this transaction, or not at all
                self._stations(spec, park, rng)
        for username, role, park_codes in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": username.split(".")[0].title(),
                    "is_staff": role == Role.ADMIN,
                    "is_superuser": role == Role.ADMIN,
                },
            )
            if created:
                # One hash for all: the demo password is public, and hashing is slow.
                hashed = hashed or make_password(DEMO_PASSWORD)
                user.password = hashed
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
            for code in park_codes:
                ParkMembership.objects.get_or_create(user=user, park=Park.objects.get(code=code))
            self.users[username] = user

    def _stations(self, spec: ParkSpec, park: Park, rng: random.Random) -> None:
        """Write a new park's stations, their cameras' deployments and malfunctions."""
        stations = bulk_create_with_history(
            [
                Station(
                    park=park,
                    code=f"{spec.code.upper()}-{n:02d}",
                    latitude=Decimal(f"{lat:.6f}"),
                    longitude=Decimal(f"{lon:.6f}"),
                )
                for n, (lat, lon) in enumerate(_grid_positions(spec, rng), start=1)
            ],
            Station,
        )
        tz = park.tzinfo
        deployments, broken = [], []
        for station in stations:
            serial = f"RX{rng.randint(10000, 99999)}"
            for year in YEARS:
                # January to June each year; from the survey year the cameras stay out
                # all year, and the last one is still running.
                for half in (0, 1) if year >= SURVEY_YEAR else (0,):
                    start = datetime(year, 1 + half * 6, rng.randint(1, 10), 12, 0, tzinfo=tz)
                    end = (
                        datetime(year, 6 + half * 6, 28, 12, 0, tzinfo=tz)
                        if (year, half) != (YEARS[-1], 1)
                        else None
                    )
                    deployment = Deployment(
                        station=station,
                        start=start,
                        end=end,
                        camera_serial=serial,
                        camera_model="Reconyx HyperFire 2",
                    )
                    deployments.append(deployment)
                    if rng.random() < 0.12:
                        first = start.date() + timedelta(days=rng.randint(20, 90))
                        broken.append(
                            MalfunctionPeriod(
                                deployment=deployment,
                                start=first,
                                end=first + timedelta(days=rng.randint(3, 25)),
                                reason=rng.choice(
                                    ["Battery empty", "Card full", "Knocked over by a bear"]
                                ),
                            )
                        )
        bulk_create_with_history(deployments, Deployment)
        MalfunctionPeriod.objects.bulk_create(broken)

    @transaction.atomic
    def _leopards(self, cats: list[Cat]) -> None:
        existing = set(Leopard.objects.values_list("code", flat=True))
        bulk_create_with_history(
            [
                Leopard(
                    code=cat.code,
                    name=name,
                    sex=Sex.FEMALE if cat.animal.sex == "F" else Sex.MALE,
                    birth_date=cat.animal.birth,
                    birth_date_precision=Leopard.BirthPrecision.MONTH
                    if cat.mother
                    else Leopard.BirthPrecision.YEAR,
                    status=Leopard.Status.DEAD if cat.dead else Leopard.Status.ALIVE,
                )
                for cat, name in zip(cats, NAMES + [""] * len(cats), strict=False)
                if cat.code not in existing
            ],
            Leopard,
        )
        ids = dict(Leopard.objects.values_list("code", "pk"))
        for cat in cats:
            if cat.mother:
                Leopard.objects.filter(code=cat.code, mother__isnull=True).update(
                    mother_id=ids[cat.mother.code]
                )

    def _photos_and_sightings(self, cats: list[Cat]) -> int:
        """Render, upload and identify the photos not stored yet; return how many."""
        scientist = self.users["scientist"]
        ranger = self.users["ranger"]
        leopards = dict(Leopard.objects.values_list("code", "pk"))
        deployments: dict[int, list[Deployment]] = {}
        for deployment in Deployment.objects.order_by("start"):
            deployments.setdefault(deployment.station_id, []).append(deployment)
        stored = set(Photo.objects.values_list("deployment_id", "original_name"))
        todo = []
        for cat in cats:
            for shot in cat.shots:
                aware = shot.when.replace(tzinfo=shot.station.park.tzinfo)
                running = [d for d in deployments.get(shot.station.pk, []) if d.start <= aware]
                if not running:
                    continue
                deployment = running[-1]
                # A camera-style name that tells nothing of the cat (the review page shows
                # it beside the candidates); the number keeps two cats of one minute apart.
                name = (
                    f"{shot.station.code}_{shot.when:%Y%m%d_%H%M}_"
                    f"{zlib.crc32(cat.code.encode()) % 10000:04d}.JPG"
                )
                if (deployment.pk, name) not in stored:
                    todo.append((cat, shot, deployment, name))
        jobs = [
            PhotoJob(
                individual_seed=individual_seed(cat.code),
                flank=shot.flank,
                photo_seed=shot.photo_seed,
                # The station's scene follows its code, never a database id, so that
                # every database draws the same photos.
                station_seed=zlib.crc32(shot.station.code.encode()),
                camera_time=shot.when,
                serial=deployment.camera_serial,
            )
            for cat, shot, deployment, _name in todo
        ]
        width, height = PHOTO_SIZE
        for (cat, shot, deployment, name), (data, bbox) in zip(
            todo, _rendered(jobs, self.processes), strict=True
        ):
            x, y, w, h = bbox
            with transaction.atomic():
                result = photo_receive(
                    deployment=deployment,
                    fileobj=io.BytesIO(data),
                    original_name=name,
                    uploaded_by=ranger,
                )
                Sighting.objects.get_or_create(
                    photo=result.photo,
                    leopard_id=leopards[cat.code],
                    defaults={
                        "bbox_x": x / width,
                        "bbox_y": y / height,
                        "bbox_w": min(w / width, 1 - x / width),
                        "bbox_h": min(h / height, 1 - y / height),
                        "flank": shot.flank,
                        # Some photos do not show the age well enough to judge it.
                        "observed_age_class": age_class_at(cat.animal.birth, shot.when.date())
                        if shot.photo_seed % 5
                        else AgeClass.UNKNOWN,
                        "status": Sighting.Status.CONFIRMED,
                        "source": Sighting.Source.MANUAL,
                        "identified_by": scientist,
                        "identified_at": timezone.now(),
                    },
                )
        self.log(f"  {len(todo)} new photos rendered")
        return len(todo)

    def _review_state(self) -> None:
        """Mark the events whose boxes are all identified as reviewed leopard events."""
        open_boxes = Sighting.objects.filter(photo__event=OuterRef("pk")).exclude(
            status=Sighting.Status.CONFIRMED
        )
        Event.objects.filter(photos__sightings__status=Sighting.Status.CONFIRMED).exclude(
            Exists(open_boxes)
        ).update(status=Event.Status.REVIEWED, content=Event.Content.LEOPARD)

    def _density_fits(self) -> None:
        """Fit each park's density for the survey year, as a scientist would on the survey page.

        Queued as the survey page queues it: a worker fits it, or, without a broker, it
        runs here before the command ends.
        """
        from census.models import DensityRun
        from census.services import density_run_request

        start, end = SURVEY
        for spec in PARKS:
            park = Park.objects.get(code=spec.code)
            runs = DensityRun.objects.filter(park=park, start=start, end=end)
            if runs.exclude(status=DensityRun.Status.FAILED).exists():
                continue
            density_run_request(
                park=park,
                start=start,
                end=end,
                occasion_days=1,
                detectfn=DensityRun.DetectionFunction.HALFNORMAL,
                buffer_m=BUFFER_M,
            )

    def _matching(self) -> None:
        """Extract spot features, build the match index, leave a few boxes to identify."""
        from leopards.services.matching import catalogue_sync, match_index_rebuild, sighting_match

        figures = match_index_rebuild(extract_missing=True)
        self.log(
            f"  match index: {figures['references']} references, features of "
            f"{figures['extracted']} boxes in {figures['extract_s']} s"
        )
        if Sighting.objects.filter(source=Sighting.Source.DETECTOR).exists():
            return  # built before: the review queue has its work
        # The latest photo of a few cats becomes an unidentified detector box with ranked
        # candidates; a cat seen once becomes a "probably new individual".
        confirmed = Sighting.objects.filter(status=Sighting.Status.CONFIRMED)
        picks = []
        for leopard in Leopard.objects.order_by("code"):
            mine = confirmed.filter(leopard=leopard).order_by("-photo__taken_at", "-pk")
            count = mine.count()
            if (count >= 5 and len(picks) < 6) or (count == 1 and len(picks) >= 6):
                picks.append(mine.values_list("pk", flat=True).first())
            if len(picks) == 7:
                break
        Sighting.objects.filter(pk__in=picks).update(
            status=Sighting.Status.PROPOSED,
            leopard=None,
            identified_by=None,
            identified_at=None,
            source=Sighting.Source.DETECTOR,
            detection_confidence=0.93,
        )
        catalogue_sync(sighting_ids=picks)
        for pk in picks:
            sighting_match(sighting_id=pk)
