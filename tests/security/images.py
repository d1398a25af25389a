"""Test photos that carry a GPS position, as a trap camera with a GPS writes them."""

import io

import piexif
from PIL import Image

LATITUDE = ((43, 1), (7, 1), (2345, 100))  # 43°07'23.45" N
LONGITUDE = ((131, 1), (39, 1), (1530, 100))  # 131°39'15.30" E


def jpeg_with_gps(seed: int = 0, *, xmp: bool = False) -> bytes:
    """Return a JPEG with camera EXIF, a GPS block and, optionally, an XMP position."""
    image = Image.new("RGB", (96, 64), (90, 80, 40))
    image.putpixel((seed % 96, 3), (255, 255, 255))
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Panthera V4", piexif.ImageIFD.Model: b"CAM41146"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 22:15:00"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: LATITUDE,
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: LONGITUDE,
            },
        }
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    data = out.getvalue()
    if xmp:
        packet = (
            b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description "
            b'exif:GPSLatitude="43,7.39N" exif:GPSLongitude="131,39.255E"/></x:xmpmeta>'
        )
        segment = b"\xff\xe1" + (len(packet) + 2).to_bytes(2, "big") + packet
        data = data[:2] + segment + data[2:]
    return data


def image_data(jpeg: bytes) -> bytes:
    """Return everything from the start of scan on: the compressed pixels."""
    return jpeg[jpeg.index(b"\xff\xda") :]
