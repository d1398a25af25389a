"""Bad and unusual image files for the ingest tests, made with Pillow."""

import io
import random
import struct
import zlib

from PIL import Image

from tests.factories import jpeg_bytes


def png_bytes(size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(out, "PNG")
    return out.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(out, fmt)
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims billions of pixels."""
    data = bytearray(png_bytes((8, 8)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header claims 65,000 x 65,000 pixels."""
    data = bytearray(jpeg_bytes(size=(16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(size=(640, 480), seed=7)
    return data[: len(data) // 2]


def corrupt_jpeg(seed: int = 11) -> bytes:
    """A JPEG with a sound header and end marker but garbage compressed data."""
    data = bytearray(jpeg_bytes(size=(640, 480), seed=seed))
    start = data.index(b"\xff\xda") + 20
    noise = random.Random(seed)
    for i in range(start, len(data) - 2):
        data[i] = noise.randrange(256)
    return bytes(data)
