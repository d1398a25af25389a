"""Render the demo's camera-trap photos: plain functions, so processes can share the work.

Nothing here touches Django, so a spawned worker process imports it quickly.
"""

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import ExifTags, Image

PHOTO_SIZE = (960, 640)


@dataclass(frozen=True)
class PhotoJob:
    individual_seed: int
    flank: str
    photo_seed: int
    station_seed: int
    camera_time: datetime  # the camera's local clock
    serial: str


def exif_jpeg(image: Image.Image, camera_time: datetime, serial: str) -> bytes:
    """Return a JPEG of the image with the EXIF a Reconyx camera writes."""
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


def render_job(job: PhotoJob) -> tuple[bytes, tuple[int, int, int, int]]:
    """Render one photo of one leopard; return the JPEG and the box around the cat."""
    from leopards.synthetic import render_photo

    rendered = render_photo(
        job.individual_seed,
        job.flank,
        job.photo_seed,
        image_size=PHOTO_SIZE,
        station_seed=job.station_seed,
    )
    image = Image.fromarray(rendered.image)
    return exif_jpeg(image, job.camera_time, job.serial), tuple(rendered.bbox)
