"""factory-boy factories shared by the test suite."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from PIL import ExifTags, Image

from leopards.models import Flank, Leopard, Sighting
from traps.models import Deployment, Park, ParkMembership, Photo, Station


class ParkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Park
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"park{n}")
    name = factory.LazyAttribute(lambda o: f"Park {o.code}")
    country = "RU"
    area_km2 = Decimal("2800")
    time_zone = "Asia/Vladivostok"


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    park = factory.SubFactory(ParkFactory)
    code = factory.Sequence(lambda n: f"ST-{n:03d}")
    latitude = Decimal("43.123456")
    longitude = Decimal("131.654321")


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    station = factory.SubFactory(StationFactory)
    camera_serial = factory.Sequence(lambda n: f"CAM{40000 + n}")
    camera_model = "Panthera V4"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 12, 31, tzinfo=UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        self.save()

    @factory.post_generation
    def parks(self, create: bool, extracted: list[Park] | None, **kwargs) -> None:
        for park in extracted or []:
            ParkMembership.objects.get_or_create(user=self, park=park)


class LeopardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Leopard

    code = factory.Sequence(lambda n: f"LEO-{100 + n}")


def jpeg_bytes(
    *,
    size: tuple[int, int] = (640, 480),
    taken: datetime | None = datetime(2024, 5, 1, 22, 15, 0),
    serial: str = "CAM41146",
    color: tuple[int, int, int] = (120, 100, 60),
    seed: int = 0,
) -> bytes:
    """Make a small JPEG with camera-trap EXIF; seed varies the pixels (and the hash)."""
    image = Image.new("RGB", size, color)
    image.putpixel((seed % size[0], (seed // size[0]) % size[1]), (255, 255, 255))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Panthera V4"
    exif[ExifTags.Base.Model] = serial
    if taken is not None:
        exif[ExifTags.Base.DateTime] = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime(
            "%Y:%m:%d %H:%M:%S"
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


class PhotoFactory(factory.django.DjangoModelFactory):
    """A stored, processed photo (bypasses ingest: for tests of what comes after)."""

    class Meta:
        model = Photo

    deployment = factory.SubFactory(DeploymentFactory)
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    original_name = factory.Sequence(lambda n: f"IMG_{n:04d}.JPG")
    size_bytes = 1000
    width = 640
    height = 480
    taken_at = factory.LazyFunction(lambda: datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    status = Photo.Status.PROCESSED
    file = factory.LazyAttribute(lambda o: f"photos/{o.sha256[:2]}/{o.sha256}.jpg")


class SightingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sighting

    photo = factory.SubFactory(PhotoFactory)
    leopard = factory.SubFactory(LeopardFactory)
    flank = Flank.LEFT
    status = Sighting.Status.CONFIRMED
    bbox_x = 0.1
    bbox_y = 0.2
    bbox_w = 0.5
    bbox_h = 0.4


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
