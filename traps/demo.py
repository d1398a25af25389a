"""A believable demo landscape: three parks, stations, five years of cameras and cats.

Everything is derived from a fixed random seed and written with natural keys,
so building it twice changes nothing. Photos go through the real ingest path.
"""

import io
import random
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from PIL import ExifTags, Image

from leopards.models import AgeClass, Flank, Leopard, Sex, Sighting, age_class_at
from traps.models import (
    Deployment,
    Event,
    MalfunctionPeriod,
    Park,
    ParkMembership,
    Photo,
    Role,
    Station,
)
from traps.services import photo_receive

SEED = 20_26
YEARS = [2021, 2022, 2023, 2024, 2025, 2026]
PHOTO_SIZE = (960, 640)
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
    stations: int
    # The park's own name in Russian and in Simplified Chinese.
    name_ru: str = ""
    name_zh_hans: str = ""


PARKS = [
    ParkSpec(
        "lotl",
        "Land of the Leopard National Park",
        "RU",
        2620,
        "Asia/Vladivostok",
        (42.62, 43.45, 130.78, 131.55),
        28,
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
        8,
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
        24,
        "Северо-Восточный национальный парк тигра и леопарда",
        "东北虎豹国家公园",
    ),
]

DEMO_PASSWORD = "leopard-demo-2026"
DEMO_USERS = [
    # username, role, park codes (admins see every park)
    ("ranger", Role.RANGER, ["lotl", "kpad"]),
    ("ranger.cn", Role.RANGER, ["ntlnp"]),
    ("scientist", Role.SCIENTIST, ["lotl", "kpad", "ntlnp"]),
    ("manager", Role.MANAGER, ["lotl", "kpad", "ntlnp"]),
    ("admin", Role.ADMIN, []),
]


@dataclass
class CatSpec:
    code: str
    name: str
    sex: str
    birth: date
    mother: str | None
    parks: list[str]
    dies: int | None  # last year seen alive


def _boundary(box: tuple[float, float, float, float], rng: random.Random) -> dict:
    lat0, lat1, lon0, lon1 = box
    # An irregular ring around the box: parks are not rectangles.
    ring = []
    for i in range(10):
        t = i / 10
        if t < 0.25:
            lat, lon = lat0, lon0 + (lon1 - lon0) * t * 4
        elif t < 0.5:
            lat, lon = lat0 + (lat1 - lat0) * (t - 0.25) * 4, lon1
        elif t < 0.75:
            lat, lon = lat1, lon1 - (lon1 - lon0) * (t - 0.5) * 4
        else:
            lat, lon = lat1 - (lat1 - lat0) * (t - 0.75) * 4, lon0
        ring.append(
            [
                round(lon + rng.uniform(-0.03, 0.03), 4),
                round(lat + rng.uniform(-0.03, 0.03), 4),
            ]
        )
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _cats(rng: random.Random) -> list[CatSpec]:
    """Build a family tree: founders, then kittens of resident females."""
    cats: list[CatSpec] = []
    homes = ["lotl"] * 11 + ["kpad"] * 3 + ["ntlnp"] * 8
    for i, home in enumerate(homes):
        sex = Sex.FEMALE if i % 2 == 0 else Sex.MALE
        parks = [home]
        if home == "lotl" and i % 4 == 1:
            parks.append("ntlnp")  # a male that crosses the border
        if home == "kpad":
            parks.append("lotl")
        cats.append(
            CatSpec(
                code=f"LEO-{101 + i}{'F' if sex == Sex.FEMALE else 'M'}",
                name="",
                sex=sex,
                birth=date(rng.randint(2011, 2018), rng.randint(4, 7), 1),
                mother=None,
                parks=parks,
                dies=2023 if i in (3, 12) else None,
            )
        )
    mothers = [c for c in cats if c.sex == Sex.FEMALE and c.dies is None]
    number = 101 + len(cats)
    for year in (2021, 2022, 2023, 2024, 2025):
        for mother in rng.sample(mothers, 4 if year < 2024 else 3):
            sex = rng.choice([Sex.FEMALE, Sex.MALE])
            cats.append(
                CatSpec(
                    code=f"LEO-{number}{'F' if sex == Sex.FEMALE else 'M'}",
                    name="",
                    sex=sex,
                    birth=date(year, rng.randint(4, 6), 1),
                    mother=mother.code,
                    parks=list(mother.parks[:1]),
                    dies=None,
                )
            )
            number += 1
    names = [
        "Kedr", "Lesnaya", "Amba", "Tigrenok", "Zvezda", "Grom", "Lyuta", "Barsik",
        "Xiaohua", "Hunchun", "Leo", "Vesna", "Taiga", "Mila", "Sanzhi",
    ]  # fmt: skip
    for cat, name in zip(cats, names, strict=False):
        cat.name = name
    return cats


def _exif_jpeg(image: Image.Image, camera_time: datetime, serial: str) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Reconyx"
    exif[ExifTags.Base.Model] = "HyperFire 2"
    exif[ExifTags.Base.DateTime] = camera_time.strftime("%Y:%m:%d %H:%M:%S")
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = camera_time.strftime("%Y:%m:%d %H:%M:%S")
    sub[ExifTags.Base.BodySerialNumber] = serial
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


class DemoBuilder:
    def __init__(self, log=print) -> None:
        self.rng = random.Random(SEED)
        self.log = log
        self.users: dict[str, object] = {}

    def build(self) -> dict[str, int]:
        self._users_and_parks()
        cats = _cats(self.rng)
        self._leopards(cats)
        self._photos_and_sightings(cats)
        self._matching()
        self._review_state()
        # The dashboards read stored census figures; the demo's sightings bypass the
        # sighting services that would mark them stale, so rebuild them here.
        from census.services import census_rebuild

        census_rebuild()
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
        for spec in PARKS:
            rng = random.Random(f"{SEED}-{spec.code}")
            park, _ = Park.objects.get_or_create(
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
            lat0, lat1, lon0, lon1 = spec.box
            for n in range(1, spec.stations + 1):
                station, _ = Station.objects.get_or_create(
                    park=park,
                    code=f"{spec.code.upper()}-{n:02d}",
                    defaults={
                        "latitude": Decimal(f"{rng.uniform(lat0, lat1):.6f}"),
                        "longitude": Decimal(f"{rng.uniform(lon0, lon1):.6f}"),
                    },
                )
                self._deployments(station, rng, park)
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
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))
            for code in park_codes:
                ParkMembership.objects.get_or_create(user=user, park=Park.objects.get(code=code))
            self.users[username] = user

    def _deployments(self, station: Station, rng: random.Random, park: Park) -> None:
        tz = park.tzinfo
        serial = f"RX{rng.randint(10000, 99999)}"
        for year in YEARS:
            for half in (0, 1):
                start = datetime(year, 1 + half * 6, rng.randint(1, 10), 12, 0, tzinfo=tz)
                end = (
                    datetime(year, 6 + half * 6, 28, 12, 0, tzinfo=tz)
                    if (year, half) != (YEARS[-1], 1)
                    else None
                )
                deployment, created = Deployment.objects.get_or_create(
                    station=station,
                    start=start,
                    defaults={
                        "end": end,
                        "camera_serial": serial,
                        "camera_model": "Reconyx HyperFire 2",
                    },
                )
                # Draw every number whether or not the row exists, so a second
                # run walks the same random sequence and finds the same rows.
                broken = rng.random() < 0.12
                first = start.date() + timedelta(days=rng.randint(20, 90))
                days = rng.randint(3, 25)
                reason = rng.choice(["Battery empty", "Card full", "Knocked over by a bear"])
                if created and broken:
                    MalfunctionPeriod.objects.create(
                        deployment=deployment,
                        start=first,
                        end=first + timedelta(days=days),
                        reason=reason,
                    )

    @transaction.atomic
    def _leopards(self, cats: list[CatSpec]) -> None:
        for cat in cats:
            Leopard.objects.get_or_create(
                code=cat.code,
                defaults={
                    "name": cat.name,
                    "sex": cat.sex,
                    "birth_date": cat.birth,
                    "birth_date_precision": Leopard.BirthPrecision.MONTH
                    if cat.mother
                    else Leopard.BirthPrecision.YEAR,
                    "status": Leopard.Status.DEAD if cat.dies else Leopard.Status.ALIVE,
                },
            )
        for cat in cats:
            if cat.mother:
                Leopard.objects.filter(code=cat.code, mother__isnull=True).update(
                    mother=Leopard.objects.get(code=cat.mother)
                )

    def _photos_and_sightings(self, cats: list[CatSpec]) -> None:
        scientist = self.users["scientist"]
        ranger = self.users["ranger"]
        stations_by_park = {
            p.code: list(Station.objects.filter(park__code=p.code).order_by("code")) for p in PARKS
        }
        leopards = {leopard.code: leopard for leopard in Leopard.objects.all()}
        total = 0
        for index, cat in enumerate(cats):
            rng = random.Random(f"{SEED}-cat-{cat.code}")
            # Each cat keeps to a few stations of its home range.
            home_stations = [s for code in cat.parks for s in rng.sample(stations_by_park[code], 3)]
            for year in YEARS:
                if year < cat.birth.year or (cat.dies and year > cat.dies):
                    continue
                for visit in range(rng.randint(1, 3)):
                    station = rng.choice(home_stations)
                    when = datetime(
                        year,
                        rng.choice([2, 3, 4, 5, 8, 9, 10, 11]),
                        rng.randint(1, 27),
                        rng.randint(0, 23),
                        rng.randint(0, 59),
                    )
                    if cat.birth + timedelta(days=120) > when.date():
                        continue  # kittens leave the den at about four months
                    if when.date() > LAST_PHOTO_DAY:
                        continue  # the current card is still in the camera
                    flank = rng.choice([Flank.LEFT, Flank.RIGHT])
                    total += self._sighting_photo(
                        cat=cat,
                        leopard=leopards[cat.code],
                        individual_seed=index + 1,
                        station=station,
                        when=when,
                        flank=flank,
                        photo_seed=year * 10 + visit,
                        scientist=scientist,
                        ranger=ranger,
                    )
        self.log(f"  {total} new photos rendered")

    def _sighting_photo(self, *, cat, leopard, individual_seed, station, when, flank, photo_seed,
                        scientist, ranger) -> int:  # fmt: skip
        from leopards.synthetic import render_photo

        tz = station.park.tzinfo
        aware = when.replace(tzinfo=tz)
        deployment = (
            Deployment.objects.filter(station=station, start__lte=aware).order_by("-start").first()
        )
        if deployment is None:
            return 0
        # A camera-style name that tells nothing of the cat (the review page shows
        # it beside the candidates); the number keeps two cats of one minute apart.
        name = f"{station.code}_{when:%Y%m%d_%H%M}_{zlib.crc32(cat.code.encode()) % 10000:04d}.JPG"
        if Photo.objects.filter(deployment=deployment, original_name=name).exists():
            return 0
        rendered = render_photo(
            individual_seed, flank, photo_seed, image_size=PHOTO_SIZE, station_seed=station.pk
        )
        data = _exif_jpeg(Image.fromarray(rendered.image), when, deployment.camera_serial)
        with transaction.atomic():
            result = photo_receive(
                deployment=deployment,
                fileobj=io.BytesIO(data),
                original_name=name,
                uploaded_by=ranger,
            )
            x, y, w, h = rendered.bbox
            width, height = PHOTO_SIZE
            Sighting.objects.get_or_create(
                photo=result.photo,
                leopard=leopard,
                defaults={
                    "bbox_x": x / width,
                    "bbox_y": y / height,
                    "bbox_w": min(w / width, 1 - x / width),
                    "bbox_h": min(h / height, 1 - y / height),
                    "flank": flank,
                    # Some photos do not show the age well enough to judge it.
                    "observed_age_class": age_class_at(cat.birth, when.date())
                    if photo_seed % 5
                    else AgeClass.UNKNOWN,
                    "status": Sighting.Status.CONFIRMED,
                    "source": Sighting.Source.MANUAL,
                    "identified_by": scientist,
                    "identified_at": timezone.now(),
                },
            )
        return 1

    def _review_state(self) -> None:
        """Mark the events whose boxes are all identified as reviewed leopard events."""
        open_boxes = Sighting.objects.filter(photo__event=OuterRef("pk")).exclude(
            status=Sighting.Status.CONFIRMED
        )
        Event.objects.filter(photos__sightings__status=Sighting.Status.CONFIRMED).exclude(
            Exists(open_boxes)
        ).update(status=Event.Status.REVIEWED, content=Event.Content.LEOPARD)

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
